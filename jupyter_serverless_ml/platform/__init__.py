"""The embedded local platform: a daemon with an HTTP control plane, SQLite state,
detached job supervisors, serving and batch prediction. ``client`` is how everything
else talks to it.

Laid out by capability: ``store/`` (SQLite, one module per table group, every
migration in ``store/migrations.py``), ``jobs/`` (manager, supervisor, sandbox,
environments, processes), ``registry.py`` (model versions), ``serving/``
(endpoints, replicas, traffic, views, the request path, router, autoscaling,
zygotes, the wire protocol) and ``batch/`` (manager, planner, workers); ``daemon.py``
wires them into ``server.py``'s routes.
"""
