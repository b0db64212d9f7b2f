"""What the sidebar API answers, built from the configured backends (no HTTP here).

Each function is blocking (the handlers run it in a thread) and returns JSON-ready
data; records go out in their wire form (:meth:`Record.to_wire`).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from .. import artifacts
from .._version import __version__
from ..backends import Backend, Monitoring, Registry, Serving
from ..catalog.pricing import usage_items
from ..errors import JsmlError, NotFound
from ..records import JobRecord
from ..statuses import vocabulary
from .config import BackendSet


def backends_info(backends: BackendSet) -> dict[str, Any]:
    """The served backends with their features, the union of features, and every status list."""
    described = backends.describe()
    union = sorted({f for info in described for f in info.features})
    return {
        "backends": [info.to_wire() for info in described],
        "features": union,
        "statuses": vocabulary(),
    }


def platform_status(backends: BackendSet) -> dict[str, Any]:
    """Whether the local platform runs, where, and its sandbox."""
    from ..backends.local import LocalBackend
    from ..platform import client

    local = backends.get("local")
    assert isinstance(local, LocalBackend)
    home = local.home
    found = client.running(home)
    info: dict[str, Any] = {"running": found is not None, "home": str(home), "version": __version__}
    if found is not None:
        info.update(url=found.url, pid=found.pid)
        try:
            details = found.get("/v1/info")
            info.update(
                sandbox=details.get("sandbox"),
                active_jobs=details.get("active_jobs"),
                started_at=details.get("started_at"),
            )
        except JsmlError:
            info["running"] = False
    return info


def start_platform(backends: BackendSet) -> dict[str, Any]:
    """Start the local platform (only when asked: the sidebar never starts it by itself)."""
    from ..backends.local import LocalBackend
    from ..platform import client

    local = backends.get("local")
    assert isinstance(local, LocalBackend)
    client.ensure_running(local.home)
    return platform_status(backends)


def _with_costs(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each job with what it cost (and would cost on SageMaker and Vertex AI)."""
    costs = {item["name"]: item for item in usage_items(jobs, [], [])}
    for job in jobs:
        item = costs.get(job["id"])
        job["cost"] = (
            {k: round(item[k], 6) for k in ("sagemaker", "vertex", "local", "instance_hours")}
            if item
            else None
        )
    return jobs


def jobs_page(
    backends: BackendSet, statuses: list[str], only: list[str], limit: int, offset: int
) -> dict[str, Any]:
    """A page of jobs of every training backend (or those in ``only``), newest first."""
    merged: list[JobRecord] = []
    for _, backend in backends.having(Backend, only):
        merged += backend.jobs(status=statuses or None, limit=limit + offset + 1)
    merged.sort(key=lambda r: r.created_at, reverse=True)
    page = merged[offset : offset + limit]
    return {
        "jobs": _with_costs([r.to_wire() for r in page]),
        "offset": offset,
        "limit": limit,
        "has_more": len(merged) > offset + limit,
    }


def _find(backends: BackendSet, part: type[Any], ref: str, lookup: Any) -> Any:
    """The first served backend with ``part`` that knows ``ref`` (NotFound when none does)."""
    last: NotFound | None = None
    backend: Any
    for _, backend in backends.having(part):
        try:
            return backend, lookup(backend, ref)
        except NotFound as exc:
            last = exc
    raise last or NotFound(f"{ref!r}: no served backend has this capability")


def job_details(backends: BackendSet, ref: str) -> dict[str, Any]:
    """One job with its events, metrics and its bundle's manifest."""
    _, record = _find(backends, Backend, ref, lambda b, r: b.job(r))
    data = record.to_wire()
    data["bundle_manifest"] = None
    if record.bundle_uri:
        with contextlib.suppress(JsmlError):
            data["bundle_manifest"] = artifacts.read_json(
                record.bundle_uri.rstrip("/") + "/manifest.json"
            )
    return data


def job_logs(backends: BackendSet, ref: str, cursor: str | None) -> dict[str, Any]:
    """Log text after ``cursor`` (opaque), the next cursor, and the job's status."""
    found: tuple[Backend, JobRecord] = _find(backends, Backend, ref, lambda b, r: b.job(r))
    backend, record = found
    page = backend.logs(record.id, cursor)
    return {"text": page.text, "cursor": page.cursor, "status": str(record.status)}


def stop_job(backends: BackendSet, ref: str) -> dict[str, Any]:
    """Ask a job to stop."""
    backend, record = _find(backends, Backend, ref, lambda b, r: b.job(r))
    return dict(backend.stop(record.id).to_wire())


def endpoints(backends: BackendSet) -> dict[str, Any]:
    """Every endpoint of every serving backend."""
    return {"endpoints": [e.to_wire() for _, b in backends.having(Serving) for e in b.endpoints()]}


def endpoint_details(backends: BackendSet, name: str) -> dict[str, Any]:
    """One endpoint with its invocation URL, a curl example and the last hour's history."""
    backend, record = _find(backends, Serving, name, lambda b, n: b.endpoint(n))
    data = record.to_wire()
    data["curl"] = backend.curl(record)
    hour_ago = time.time() - 3600
    data["history"] = [
        dict(e) for e in record.events if e["ts"] >= hour_ago and e["kind"] in ("scale", "stats")
    ]
    return data


def undeploy(backends: BackendSet, name: str) -> dict[str, Any]:
    """Drain and delete an endpoint."""
    backend, _ = _find(backends, Serving, name, lambda b, n: b.endpoint(n))
    return dict(backend.undeploy(name).to_wire())


def models(backends: BackendSet) -> dict[str, Any]:
    """Model versions with their training metrics and the endpoint variants serving each."""
    out: list[dict[str, Any]] = []
    for _, backend in backends.having(Backend):
        if not isinstance(backend, Registry):
            continue
        serving: dict[tuple[str, int], list[dict[str, Any]]] = {}
        if isinstance(backend, Serving):
            for endpoint in backend.endpoints():
                for variant in endpoint.variants:
                    serving.setdefault((variant.model_name, variant.model_version), []).append(
                        {
                            "endpoint": endpoint.name,
                            "variant": variant.name,
                            "traffic": variant.traffic,
                        }
                    )
        jobs = {j.id: j for j in backend.jobs(limit=1000)}
        for model in backend.models():
            data = model.to_wire()
            data["endpoints"] = serving.get((model.name, model.version), [])
            job = jobs.get(model.job_id or "")
            data["metrics"] = data.get("metrics") or (dict(job.metrics) if job else {})
            data["serving"] = bool(data["endpoints"])
            data["backend"] = backend.name
            out.append(data)
    return {"models": out}


def costs(backends: BackendSet) -> dict[str, Any]:
    """Costs of the first monitoring backend (the local platform's ledger today)."""
    for _, backend in backends.having(Monitoring):
        return backend.costs()
    raise NotFound("no served backend reports costs")


def alerts(backends: BackendSet) -> dict[str, Any]:
    """Alerts of every monitoring backend, newest first."""
    found = [a for _, b in backends.having(Monitoring) for a in b.alerts()]
    found.sort(key=lambda a: a.created_at, reverse=True)
    from .drift_handlers import alert_counts  # the JSON shape is documented there

    wire = [a.to_wire() for a in found]
    return {"alerts": wire, "counts": alert_counts(wire)}


def acknowledge(backends: BackendSet, alert_id: int) -> dict[str, Any]:
    """Acknowledge an alert."""
    _, record = _find(backends, Monitoring, str(alert_id), lambda b, a: b.acknowledge_alert(int(a)))
    return dict(record.to_wire())
