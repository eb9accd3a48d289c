"""Composition root and application layer: settings, the event store, command handling, CLI."""
