"""Benchmarks of memberscore against the limits of the machine (``make bench``; see bench/run.py)."""
