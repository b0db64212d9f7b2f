"""Monitoring: costs and alerts."""

from .api import acknowledge_alert, alerts
from .costs import cost, cost_advice, costs

__all__ = ["acknowledge_alert", "alerts", "cost", "cost_advice", "costs"]
