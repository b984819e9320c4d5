"""The experiment: splits, systems, the runner, the feature cache, metrics, reports, executors."""
