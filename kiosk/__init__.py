"""The ``kiosk`` command: one entry point for every part of the box."""
