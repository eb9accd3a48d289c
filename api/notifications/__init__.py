"""Telling agencies when a subject changes, at the edge: subscriptions and the change feed."""
