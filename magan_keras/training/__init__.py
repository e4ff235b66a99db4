"""Training: the run configuration, the run itself, callbacks, schedules, distribution strategies, plots and the report."""
