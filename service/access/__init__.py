"""Who may do what: API clients and their roles, signing keys, access tokens, the access log."""
