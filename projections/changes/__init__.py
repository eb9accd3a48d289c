"""What agencies following a subject are told: the changes derived from the log."""
