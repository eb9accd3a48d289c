"""Replay verification: rebuild the read models from the log elsewhere and compare, on demand."""
