"""Scoring analysed answers and demonstrations against a job's competency rubric, with explanations
in zh-CN, en and ko.
"""
