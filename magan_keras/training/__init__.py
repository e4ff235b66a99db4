"""Training: the run configuration, the run itself, callbacks, schedules, strategies, plots
and the report."""
