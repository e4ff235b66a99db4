"""Evaluation: the protocols, the baselines, results tables and figures, and `evaluate_model`."""
