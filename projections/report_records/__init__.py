"""The credit office's figures (三率) read model: each counted record's timeliness and
completeness."""
