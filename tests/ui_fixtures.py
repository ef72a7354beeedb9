"""Browser fixtures for the candidate UI tests (being written)."""
