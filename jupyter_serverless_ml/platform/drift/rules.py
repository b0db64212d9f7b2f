"""Drift rules: validated once, for the platform's endpoints and a cloud backend's alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import UsageError
from . import alerts, checks, stats

_POSITIVE = (
    "interval",
    "window",
    "min_rows",
    "dataset_share",
    "latency_p95_ms",
    "error_rate",
    "cold_start_ms",
)


def merge_rules(stored: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` merged into ``stored`` rules, every value checked (UsageError says what
    is wrong and what to write instead)."""
    unknown = sorted(set(changes) - set(checks.DEFAULT_RULES))
    if unknown:
        raise UsageError(
            f"unknown drift rule(s) {', '.join(unknown)}; known: {', '.join(checks.DEFAULT_RULES)}"
        )
    rules = {**stored, **changes}
    for key in _POSITIVE:
        value = rules.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise UsageError(f"drift rule {key} must be a positive number, not {value!r}")
    try:
        rules["webhook"] = alerts.validate_webhook(rules.get("webhook"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for section in ("features", "prediction"):
        value = rules.get(section) or {}
        if not isinstance(value, dict):
            raise UsageError(f"drift rule {section} must be an object")
    for name, rule in {
        **(rules.get("features") or {}),
        checks.PREDICTION: rules.get("prediction") or {},
    }.items():
        if not isinstance(rule, dict):
            raise UsageError(
                f"feature {name}: a rule is an object such as "
                '{"test": "ks", "threshold": 0.01} or {"ignore": true}'
            )
        test = rule.get("test")
        if test is not None and test not in (*stats.NUMERIC_TESTS, *stats.CATEGORICAL_TESTS):
            raise UsageError(
                f"feature {name}: unknown test {test!r}; use ks, wasserstein, jensenshannon, "
                "psi (numeric) or chi2, linf, jensenshannon, psi (categorical)"
            )
        threshold = rule.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold < 0
        ):
            raise UsageError(f"feature {name}: threshold must be a number >= 0, not {threshold!r}")
    return rules


__all__ = ["merge_rules"]
