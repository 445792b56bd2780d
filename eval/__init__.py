"""The evaluation set and metrics for the pipeline (see the eval issue)."""
