"""What the box keeps: its SQLite database and schema, recordings encrypted at rest, and the
storage budget.
"""
