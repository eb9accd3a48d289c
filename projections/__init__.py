"""Read models computed from the event log, the runner that keeps them current, their queries."""
