"""Hyperparameter search: the KerasTuner hypermodel, search spaces and search reports."""
