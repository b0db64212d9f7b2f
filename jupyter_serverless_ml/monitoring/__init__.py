"""Monitoring: costs and alerts."""

from .api import acknowledge_alert, alerts
from .cost_api import cost, cost_advice, costs
from .drift_api import baseline, drift, drift_rules, set_baseline

__all__ = [
    "acknowledge_alert",
    "alerts",
    "baseline",
    "cost",
    "cost_advice",
    "costs",
    "drift",
    "drift_rules",
    "set_baseline",
]
