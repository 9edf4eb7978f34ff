"""Campaign measurement: campaigns with randomised holdouts, their store, and what they brought.

A layer beside ``models``: it may import ``features`` and ``models``; ``training``, ``serving`` and
``cli`` use it (ARCHITECTURE.md).
"""
