"""Running the box: logs, figures from the kernel, alerts for staff."""
