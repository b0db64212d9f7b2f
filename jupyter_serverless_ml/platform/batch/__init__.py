"""Batch prediction on the local platform: the manager that drives forked workers
over the input's shards, and the pure planner that decides how many workers to use."""
