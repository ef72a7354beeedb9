"""Analysis on the box: the worker that analyses each answer as it is recorded, the rubric it
scores against, and its status for staff.
"""
