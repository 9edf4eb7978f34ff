"""The BentoML service and scoring with reasons; imports ``features`` and ``models``, never ``training``."""
