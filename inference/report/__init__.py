"""The interview report: its format, and the reviewer's HTML page with charts."""
