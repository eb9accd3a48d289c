"""Telling agencies when a subject changes: their subscriptions and the change feed."""
