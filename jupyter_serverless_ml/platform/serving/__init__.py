"""Serving on the local platform: zygotes, replicas, the router, autoscaling, batch."""
