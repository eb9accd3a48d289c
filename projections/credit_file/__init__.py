"""The credit-file read model: subjects and their records with publication windows."""
