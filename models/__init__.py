"""What each task's model means, shared by training and serving so they never disagree.

Task names, the feature matrix a booster reads, decoding a booster's raw output into the values
served (calibrated probabilities, purchase timing, upsell offers), the baselines that serve when a
model loses its gate, and reading the MLflow registry (names, aliases, champion boosters).
Imports only ``features`` (and third-party libraries); ``training`` and ``serving`` import it.
"""
