"""Pure data work: load and validate transactions, build point-in-time features and labels.

Imports neither ``training`` nor ``serving``.
"""
