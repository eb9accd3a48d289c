"""Composition root and entry points (bootstrap, settings, CLI) over the service's parts."""
