"""Monitoring: costs and alerts."""

from .api import acknowledge_alert, alerts, costs

__all__ = ["acknowledge_alert", "alerts", "costs"]
