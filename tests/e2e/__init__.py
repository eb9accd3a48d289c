"""End-to-end tests: the applicant pages over HTTP and in a real browser."""
