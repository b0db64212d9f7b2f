"""Serving on the local platform: endpoints, replicas, traffic, zygotes, the router, autoscaling."""
