"""The HTTP edge: routers (commands and queries), schemas, dependencies and error mapping."""
