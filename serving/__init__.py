"""The BentoML service, scoring with reasons, and the command line (the outermost layer)."""
