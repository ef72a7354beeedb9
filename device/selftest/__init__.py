"""Self-tests for staff: health at a glance, devices, disk, models (and installing them), network.
"""
