"""Training jobs on the local platform: the manager (in the daemon), the detached
supervisor of each attempt, the sandbox, isolated environments and process helpers.

Nothing is imported here: the supervisor runs as ``python -S -m
jupyter_serverless_ml.platform.jobs.supervisor`` and must stay cheap to start.
"""
