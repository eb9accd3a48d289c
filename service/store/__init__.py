"""Store adapters: the database URL and engines, the event store, migrations and role grants."""
