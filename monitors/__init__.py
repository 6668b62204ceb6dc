"""Monitors: quality, drift, performance, fairness and explanations per model and window."""
