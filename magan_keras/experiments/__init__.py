"""Experiments built on the training path: the paper's ablation study."""
