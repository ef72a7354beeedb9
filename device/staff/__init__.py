"""Staff on the box: bearer tokens and who may do what to which session."""
