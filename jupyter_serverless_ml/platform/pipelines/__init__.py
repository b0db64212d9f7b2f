"""Pipelines on the local platform: definitions, runs, caching (see :mod:`.service`)."""
