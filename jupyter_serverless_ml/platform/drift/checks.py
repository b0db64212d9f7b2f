"""One drift check: a window of captured requests against a model version's baseline profile.

:func:`check` is pure (no store, no files): the scheduler and the on-demand route
hand it the baseline, the window and the endpoint's rules, and fold its report
into alerts (:mod:`.alerts`). Each *condition* of the report (a feature's drift, a
missing or wrongly typed column, dataset drift, prediction drift, a monitor)
carries ``key``, ``breached`` and what the alert records.

Rules (per endpoint, every key optional)::

    {"interval": 3600, "window": 3600, "min_rows": 30, "dataset_share": 0.5,
     "features": {"age": {"test": "ks", "threshold": 0.01}, "id": {"ignore": true}},
     "prediction": {"test": "wasserstein", "threshold": 0.1},
     "latency_p95_ms": 50, "error_rate": 0.05, "cold_start_ms": 1000,
     "webhook": "https://hooks.slack.com/services/..."}
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np

from . import stats
from .capture_reader import Window
from .profiles import OTHER, category_counts, is_numeric

DEFAULT_RULES: dict[str, Any] = {
    "interval": 3600.0,
    "window": 3600.0,
    "min_rows": 30,
    "dataset_share": 0.5,
    "features": {},
    "prediction": {},
    "latency_p95_ms": None,
    "error_rate": None,
    "cold_start_ms": None,
    "webhook": None,
}
PREDICTION = "(prediction)"
CHART_BINS = 20
CHART_CATEGORIES = 10


def _numbers(values: Any) -> tuple[np.ndarray, int]:
    """Finite numbers of a column and how many present values were not numbers."""
    import pandas as pd

    if getattr(values, "dtype", None) is not None and values.dtype.kind in "fiu":
        array = values.to_numpy(dtype=float)
        return array[np.isfinite(array)], 0
    present = values[values.notna()] if hasattr(values, "notna") else values
    numeric = pd.to_numeric(present, errors="coerce")
    wrong = int(numeric.isna().sum())
    array = numeric.to_numpy(dtype=float)
    return array[np.isfinite(array)], wrong


def _numeric_chart(base: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    """Both distributions over 20 equal bins spanning 99% of both (``cur`` sorted; values
    outside fall in the end bins)."""
    both = np.sort(np.concatenate([base, stats.atoms(cur, len(base))[0]])) if len(cur) else base
    low, high = np.quantile(both, [0.005, 0.995]) if len(both) else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, CHART_BINS + 1)
    shares = []
    for values in (np.sort(base), cur):
        cuts = np.searchsorted(values, edges[1:-1], side="left")
        counts = np.diff(np.concatenate([[0], cuts, [len(values)]]))
        shares.append((counts / max(counts.sum(), 1)).round(4).tolist())
    return {"edges": edges.round(6).tolist(), "baseline": shares[0], "current": shares[1]}


def _categorical_chart(base: dict[str, int], cur: dict[str, int]) -> dict[str, Any]:
    categories, b, c = stats.frequencies(base, cur)
    order = np.argsort(-(b + c))[:CHART_CATEGORIES]
    return {
        "categories": [categories[i] for i in order],
        "baseline": [round(float(b[i]), 4) for i in order],
        "current": [round(float(c[i]), 4) for i in order],
    }


def compare_column(profile: dict[str, Any], current: Any, rule: dict[str, Any]) -> dict[str, Any]:
    """Compare one column (its baseline profile) with its current values (a pandas Series)."""
    test, threshold = rule.get("test"), rule.get("threshold")
    if profile["kind"] == "numeric":
        base = np.array([v for v in profile["sample"] if v is not None], dtype=float)
        cur, wrong = _numbers(current)
        if not len(base) or not len(cur):
            return {"kind": "numeric", "current_rows": len(cur), "wrong_type": wrong}
        cur = np.sort(cur)
        out = stats.compare_numeric(base, cur, test, threshold, is_sorted=True)
        out.update(kind="numeric", chart=_numeric_chart(base, cur), wrong_type=wrong)
        out["current_rows"], out["baseline_rows"] = len(cur), int(profile["count"])
        return out
    known = category_counts(profile)
    texts = current[current.notna()].astype(str) if hasattr(current, "notna") else current
    counts = Counter(texts)
    if OTHER in known:
        top = set(profile.get("top") or {})
        folded: Counter[str] = Counter()
        for category, n in counts.items():
            folded[category if category in top else OTHER] += n
        counts = folded
    rows = int(sum(counts.values()))
    if not rows or not known:
        return {"kind": "categorical", "current_rows": rows, "wrong_type": 0}
    out = stats.compare_categorical(known, counts, test, threshold)
    out.update(kind="categorical", chart=_categorical_chart(known, dict(counts)), wrong_type=0)
    out["current_rows"], out["baseline_rows"] = rows, int(profile["count"])
    return out


def _condition(key: tuple[str, str, str], breached: bool, **fields: Any) -> dict[str, Any]:
    kind, feature, test = key
    return {
        "key": list(key),
        "kind": kind,
        "feature": feature,
        "test": test,
        "breached": bool(breached),
        **fields,
    }


def check(
    baseline: dict[str, Any] | None,
    window: Window,
    features: list[str] | None = None,
    rules: dict[str, Any] | None = None,
    cold_starts_ms: list[float] | None = None,
) -> dict[str, Any]:
    """The drift report of ``window`` against ``baseline``.

    ``features`` are the model's inputs (its signature); without them, every
    baseline column. Returns ``{verdict, rows, requests, features: [...],
    schema, dataset, prediction, monitors, conditions: [...]}``.
    """
    rules = {**DEFAULT_RULES, **(rules or {})}
    per_feature: dict[str, dict[str, Any]] = dict(rules.get("features") or {})
    report: dict[str, Any] = {
        "checked_at": time.time(),
        "since": window.since,
        "until": window.until,
        "window_seconds": round(window.until - window.since, 3),
        "requests": window.requests,
        "rows": window.row_count,
        "undecodable": window.undecodable,
        "models": dict(window.models),
        "baseline_rows": int(baseline["rows"]) if baseline else 0,
        "features": [],
        "schema": {},
        "dataset": {},
        "prediction": None,
        "monitors": [],
        "conditions": [],
    }
    conditions: list[dict[str, Any]] = report["conditions"]
    samples = {"baseline_rows": report["baseline_rows"], "current_rows": window.row_count}
    _monitors(report, window, rules, cold_starts_ms or [])
    if baseline is None:
        report["verdict"] = "no baseline"
        return report
    if window.row_count < int(rules["min_rows"]):
        report["verdict"] = "not enough data"
        report["message"] = f"{window.row_count} row(s) captured; checks need {rules['min_rows']}"
        return report
    columns = baseline["columns"]
    names = [f for f in (features or list(columns)) if f in columns]
    frame, odd = window.frame(features or list(columns))
    missing = [f for f in names if f not in frame.columns or frame[f].isna().all()]
    extra = [str(c) for c in frame.columns if str(c) not in columns]
    report["schema"] = {"missing": missing, "extra": extra, "odd_widths": odd, "wrong_type": {}}
    for name in missing:
        conditions.append(_condition(("schema", name, "missing"), True, value=1.0, **samples))
    for name in extra:
        conditions.append(_condition(("schema", name, "extra"), True, value=1.0, **samples))
    drifted = 0
    checked = 0
    for name in names:
        rule = per_feature.get(name) or {}
        if rule.get("ignore") or name in missing:
            continue
        try:
            result = compare_column(columns[name], frame[name], rule)
        except ValueError as exc:
            result = {"kind": columns[name]["kind"], "error": str(exc)}
        result["feature"] = name
        report["features"].append(result)
        wrong = int(result.get("wrong_type") or 0)
        if columns[name]["kind"] == "numeric":
            share = wrong / max(int(frame[name].notna().sum()), 1)
            report["schema"]["wrong_type"][name] = wrong
            conditions.append(
                _condition(
                    ("schema", name, "type"), wrong > 0, value=share, threshold=0.0, **samples
                )
            )
        if "statistic" not in result:
            continue
        checked += 1
        drifted += bool(result["drift"])
        conditions.append(
            _condition(
                ("drift", name, result["test"]),
                result["drift"],
                value=result["statistic"],
                threshold=result["threshold"],
                psi=result["psi"],
                baseline_rows=result["baseline_rows"],
                current_rows=result["current_rows"],
            )
        )
    share_limit = float(rules["dataset_share"])
    report["dataset"] = {
        "features": checked,
        "drifted": drifted,
        "share": drifted / checked if checked else 0.0,
        "threshold": share_limit,
        "drift": bool(checked) and drifted / checked >= share_limit,
    }
    if checked:
        conditions.append(
            _condition(
                ("dataset", "*", "share"),
                report["dataset"]["drift"],
                value=report["dataset"]["share"],
                threshold=share_limit,
                **samples,
            )
        )
    _prediction(report, baseline, window, dict(rules.get("prediction") or {}))
    breached = [c for c in conditions if c["breached"] and c["kind"] != "monitor"]
    report["verdict"] = "drift" if breached else "ok"
    return report


def _prediction(
    report: dict[str, Any], baseline: dict[str, Any], window: Window, rule: dict[str, Any]
) -> None:
    outputs = baseline.get("outputs")
    if not outputs or rule.get("ignore"):
        return
    import pandas as pd

    current = window.output_values()
    if not len(current):
        return
    if outputs["kind"] == "numeric" and not is_numeric(pd.to_numeric(current, "coerce").dtype):
        return
    result = compare_column(outputs, current, rule)
    if "statistic" not in result:
        return
    result["feature"] = PREDICTION
    report["prediction"] = result
    report["conditions"].append(
        _condition(
            ("prediction", PREDICTION, result["test"]),
            result["drift"],
            value=result["statistic"],
            threshold=result["threshold"],
            psi=result["psi"],
            baseline_rows=result["baseline_rows"],
            current_rows=result["current_rows"],
        )
    )


def _monitors(
    report: dict[str, Any], window: Window, rules: dict[str, Any], cold: list[float]
) -> None:
    measured: list[tuple[str, float | None, Any]] = []
    if window.latencies_ms:
        measured.append(
            (
                "latency_p95_ms",
                float(np.percentile(window.latencies_ms, 95)),
                rules.get("latency_p95_ms"),
            )
        )
    if window.statuses:
        errors = sum(1 for s in window.statuses if s >= 500)
        measured.append(("error_rate", errors / len(window.statuses), rules.get("error_rate")))
    if cold:
        measured.append(("cold_start_ms", float(max(cold)), rules.get("cold_start_ms")))
    for name, value, threshold in measured:
        breached = threshold is not None and value is not None and value > float(threshold)
        report["monitors"].append(
            {"monitor": name, "value": value, "threshold": threshold, "breached": breached}
        )
        if threshold is not None:
            report["conditions"].append(
                _condition(
                    ("monitor", "", name),
                    breached,
                    value=value,
                    threshold=float(threshold),
                    current_rows=len(window.statuses),
                )
            )


__all__ = ["DEFAULT_RULES", "PREDICTION", "check", "compare_column"]
