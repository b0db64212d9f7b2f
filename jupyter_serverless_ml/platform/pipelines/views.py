"""The JSON shapes of pipelines and runs, as the platform API (and so the sidebar) serves them.

A run (``GET /v1/pipeline-runs/{id}``)::

    {"id", "pipeline", "status", "created_at", "started_at", "ended_at", "duration",
     "failure_reason", "use_cache", "cache_hits", "counts": {STATUS: n},
     "steps": [{"name", "kind", "status", "attempt", "cache_hit", "cached_from",
                "cache_key", "job_id", "batch_id", "started_at", "ended_at", "duration",
                "outputs": {"path", "uri", "hash", "model"?, "version"?, "endpoint"?},
                "metadata": {"metrics"?: {NAME: value}, "result"?, "expression"?},
                "failure_reason", "log", "upstream": [STEP, ...]}],
     "edges": [{"from", "to", "kind": "data" | "after" | "condition", "branch"?}]}

A pipeline (``GET /v1/pipelines``)::

    {"name", "created_at", "updated_at", "output",
     "steps": [{"name", "kind", "upstream"}], "edges": [...], "last_run": RUN-SUMMARY | null}
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .spec import PipelineSpec

_HIDDEN_RUN = ("spec",)


def _duration(row: dict[str, Any]) -> float | None:
    if row.get("started_at") and row.get("ended_at"):
        return float(row["ended_at"]) - float(row["started_at"])
    return None


def run_view(run: dict[str, Any], steps: list[dict[str, Any]], spec: PipelineSpec) -> dict[str, Any]:
    """A run with its steps and edges (the shape in the module docstring)."""
    out = {k: v for k, v in run.items() if k not in _HIDDEN_RUN}
    by_name = {s.name: s for s in spec.steps}
    shown = []
    for row in steps:
        step = dict(row)
        step.pop("run_id", None)
        step.pop("position", None)
        step["duration"] = _duration(row)
        step["upstream"] = by_name[row["name"]].upstream() if row["name"] in by_name else []
        shown.append(step)
    out.update(
        duration=_duration(run),
        steps=shown,
        edges=spec.edges(),
        counts=dict(Counter(str(s["status"]) for s in steps)),
        cache_hits=sum(1 for s in steps if s["cache_hit"]),
    )
    return out


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run without its definition, for lists."""
    return {k: v for k, v in run.items() if k not in _HIDDEN_RUN}


def pipeline_view(stored: dict[str, Any], last: list[dict[str, Any]]) -> dict[str, Any]:
    """A stored pipeline with its steps, edges and newest run (the docstring's shape)."""
    spec = PipelineSpec.from_wire(stored["spec"])
    return {
        "name": stored["name"],
        "created_at": stored["created_at"],
        "updated_at": stored["updated_at"],
        "output": spec.output,
        "steps": [{"name": s.name, "kind": s.kind, "upstream": s.upstream()} for s in spec.steps],
        "edges": spec.edges(),
        "last_run": summary(last[0]) if last else None,
    }


def fingerprint(view: dict[str, Any]) -> str:
    """The run's status and each step's, as one string (what a long poll compares)."""
    return ",".join([str(view["status"]), *(f"{s['name']}={s['status']}" for s in view["steps"])])


__all__ = ["fingerprint", "pipeline_view", "run_view", "summary"]
