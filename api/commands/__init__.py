"""Command routes (POST): they write events and acknowledge with the new log position."""
