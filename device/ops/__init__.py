"""Running the box: logs, figures from the kernel, alerts for staff, and the storage budget
(what the box keeps on its disk, and when it stops taking interviews).
"""
