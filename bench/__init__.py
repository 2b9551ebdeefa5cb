"""Benchmarks of the course helpers (``make bench`` / ``python -m bench``); not timed tests."""
