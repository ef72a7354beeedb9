"""What the box keeps: its SQLite database and schema, the recordings table, the meta values,
and recordings encrypted at rest.
"""
