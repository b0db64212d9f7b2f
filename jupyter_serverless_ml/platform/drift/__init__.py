"""Drift: baseline profiles, statistics, checks of captured requests, alerts and their schedule.

``stats`` (the tests, from scipy), ``profiles`` (baselines of tabular data),
``capture_reader`` (captured requests, read without trusting them), ``checks``
(one pure check), ``alerts`` (messages, webhooks), ``service`` (the daemon's
checks and schedule) and ``routes`` (the control-plane routes).
"""
