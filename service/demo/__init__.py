"""Demo data: a deterministic generator of realistic credit files, and the lists it draws from."""
