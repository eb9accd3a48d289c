"""Query routes (GET, and POST where a code must not appear in a URL): read models only."""
