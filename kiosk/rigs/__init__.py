"""Rigs for the demo, tests and benchmarks: a PulseAudio null-sink microphone, sample media and
human speech fetched from PyPI.
"""
