"""Concept curation (CoCu): embed, index, expand, rank, sample."""
