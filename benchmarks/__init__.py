"""Performance benchmarks of the kiosk, each next to a raw-library baseline from the same run.

Run them all with ``make bench`` (``python -m benchmarks``); ``--quick`` is a smoke test.
Every module named ``bench_*.py`` here exposes ``run(quick: bool) -> list[Row]``.
"""
