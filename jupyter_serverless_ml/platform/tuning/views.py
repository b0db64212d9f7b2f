"""The JSON shapes of studies, as ``GET /v1/studies[/<name>]`` answers them.

A study summary (``GET /v1/studies``: ``{"studies": [summary, ...]}``, newest first)::

    {"name": "cancer", "status": "Running", "objective": "accuracy",
     "direction": "maximize", "strategy": "tpe", "early_stop": false,
     "trials_budget": 20, "parallel": 2, "seed": null, "space": {"C": {"kind": ...}},
     "model_name": "cancer", "model_version": null, "failure_reason": null,
     "created_at": 1767000000.0, "updated_at": ..., "ended_at": null,
     "counts": {"Running": 2, "Completed": 5, "Pruned": 1, "Failed": 0, "Stopped": 0},
     "best": {"number": 3, "value": 0.97, "params": {"C": 0.4}, "job_id": "cancer-t3-..."}}

A study (``GET /v1/studies/<name>``) is its summary plus ``trials``, by number::

    {"number": 0, "status": "Completed", "params": {"C": 0.4, "penalty": "l2"},
     "value": 0.95, "step": null, "job_id": "cancer-t0-20260101-120000-ab12",
     "created_at": ..., "started_at": ..., "ended_at": ..., "duration": 1.2,
     "best_so_far": 0.95, "reason": null}

``value`` is the trial's objective (its last intermediate value for a pruned or
running trial); ``step`` the last step it reported; ``best_so_far`` the best
completed objective among trials numbered up to this one; ``reason`` why a trial
failed or was pruned.
"""

from __future__ import annotations

from typing import Any

from ...statuses import TrialStatus


def _best(study: dict[str, Any], trials: list[dict[str, Any]]) -> dict[str, Any] | None:
    done = [t for t in trials if t["status"] == TrialStatus.COMPLETED and t["value"] is not None]
    if not done:
        return None
    maximize = study["spec"]["direction"] == "maximize"
    best = max(done, key=lambda t: t["value"]) if maximize else min(done, key=lambda t: t["value"])
    return {
        "number": best["number"],
        "value": best["value"],
        "params": best["params"],
        "job_id": best["job_id"],
    }


def summary_view(study: dict[str, Any], trials: list[dict[str, Any]]) -> dict[str, Any]:
    """A study without its trials (see the module docstring)."""
    spec = study["spec"]
    counts = {s.value: 0 for s in TrialStatus}
    for trial in trials:
        counts[trial["status"]] = counts.get(trial["status"], 0) + 1
    return {
        "name": study["name"],
        "status": study["status"],
        "objective": spec["objective"],
        "direction": spec["direction"],
        "strategy": spec["strategy"],
        "early_stop": spec["early_stop"],
        "trials_budget": spec["trials"],
        "parallel": spec["parallel"],
        "seed": spec.get("seed"),
        "space": spec["space"],
        "model_name": study["model_name"],
        "model_version": study["model_version"],
        "failure_reason": study["failure_reason"],
        "created_at": study["created_at"],
        "updated_at": study["updated_at"],
        "ended_at": study["ended_at"],
        "counts": counts,
        "best": _best(study, trials),
    }


def study_view(
    study: dict[str, Any], trials: list[dict[str, Any]], durations: dict[str, float]
) -> dict[str, Any]:
    """A study with its trials (see the module docstring)."""
    maximize = study["spec"]["direction"] == "maximize"
    best: float | None = None
    rows = []
    for trial in trials:
        if trial["status"] == TrialStatus.COMPLETED and trial["value"] is not None:
            value = float(trial["value"])
            if best is None or (value > best if maximize else value < best):
                best = value
        rows.append(
            {
                "number": trial["number"],
                "status": trial["status"],
                "params": trial["params"],
                "value": trial["value"],
                "step": trial["step"],
                "job_id": trial["job_id"],
                "created_at": trial["created_at"],
                "started_at": trial["started_at"],
                "ended_at": trial["ended_at"],
                "duration": durations.get(str(trial["number"])),
                "best_so_far": best,
                "reason": trial["reason"],
            }
        )
    return {**summary_view(study, trials), "trials": rows}


__all__ = ["study_view", "summary_view"]
