"""Rolling-origin training, honest baselines, MLflow tracking and the champion gate."""
