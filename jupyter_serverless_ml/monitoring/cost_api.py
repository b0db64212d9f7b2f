"""What everything cost: the ledger of every backend, grouped, and serving-mode advice.

>>> cost(by="day", since="7d").total["sagemaker"]
>>> cost_advice("churn").recommend
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ..backends import Monitoring, get_backend, require
from ..catalog.pricing import BY, group, serverless_memory_gb, total
from ..errors import JsmlError, UsageError
from ..options import parse_duration

_COLUMNS = ("local", "sagemaker", "vertex", "billed")


class CostReport(dict[str, Any]):
    """The ledger grouped by ``by``: ``groups``, ``total``, ``items``, ``budgets_hit``,
    plus the backend's own summary keys (``by_day``, ``by_resource``, ...)."""

    @property
    def total(self) -> dict[str, float]:
        """Instance-hours and USD: local (0), at SageMaker and Vertex list price, billed."""
        return dict(self["total"])

    def text(self) -> str:
        """A plain table (what ``%cost`` prints under papermill)."""
        by = self["by"]
        lines = [
            f"{by:<28} {'count':>5} {'inst-h':>9} {'SageMaker':>11} {'Vertex':>11} {'billed':>9}"
        ]
        for row in [*self["groups"], dict(self["total"], key="total", count=len(self["items"]))]:
            lines.append(
                f"{str(row['key'])[:28]:<28} {row['count']:>5} {row['instance_hours']:>9.3f} "
                f"${row['sagemaker']:>10.4f} ${row['vertex']:>10.4f} ${row['billed']:>8.4f}"
            )
        for item in self["budgets_hit"]:
            lines.append(f"budget: {item['kind']} {item['name']}: {item['stopped_reason']}")
        if self.get("errors"):
            lines += [f"not counted: {e}" for e in self["errors"]]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())  # the table, not the dict under it

    def _repr_html_(self) -> str:
        from html import escape

        head = "".join(
            f"<th>{h}</th>"
            for h in (self["by"], "count", "instance-hours", "SageMaker", "Vertex AI", "billed")
        )
        rows = "".join(
            f"<tr><td>{escape(str(r['key']))}</td><td>{r['count']}</td>"
            f"<td>{r['instance_hours']:.3f}</td><td>${r['sagemaker']:.4f}</td>"
            f"<td>${r['vertex']:.4f}</td><td>${r['billed']:.4f}</td></tr>"
            for r in [*self["groups"], dict(self["total"], key="total", count=len(self["items"]))]
        )
        hits = "".join(
            f"<p>budget: {escape(i['kind'])} {escape(str(i['name']))}: "
            f"{escape(str(i['stopped_reason']))}</p>"
            for i in self["budgets_hit"]
        )
        missed = "".join(f"<p>not counted: {escape(str(e))}</p>" for e in self.get("errors") or [])
        note = f"<p>{escape(self['note'])}</p>" if self.get("note") else ""
        return f"<table><tr>{head}</tr>{rows}</table>{hits}{missed}{note}"


def _ledger(name: str | None, since: float) -> dict[str, Any]:
    backend = get_backend(name)
    ledger = getattr(backend, "cost_ledger", None)
    if ledger is not None:
        return dict(ledger(since))
    return dict(require(backend, Monitoring).costs())


def cost(
    by: str = "resource",
    since: str | float | None = None,
    backend: str | Iterable[str] | None = None,
) -> CostReport:
    """What every resource cost so far (``since``: a duration back from now, ``"7d"``),
    grouped ``by`` day, resource (kind), backend or name: locally nothing, at SageMaker and
    Vertex AI list prices, and ``billed`` (what each resource's own backend bills).

    ``backend`` is one name, several, or None for the default backend; a cloud backend's
    jobs and endpoints are priced from its billed seconds and replica-hours."""
    if by not in BY:
        raise UsageError(f"--by must be one of {', '.join(BY)}, not {by!r}")
    back = parse_duration(since) if since is not None else None
    if back is not None and back <= 0:
        raise UsageError(f"--since must be a positive duration such as 7d or 12h, not {since!r}")
    start = time.time() - back if back else 0.0
    names = [backend] if backend is None or isinstance(backend, str) else list(backend)
    names = list(dict.fromkeys(names))  # a backend named twice is counted once
    items: list[dict[str, Any]] = []
    errors: list[str] = []
    first: dict[str, Any] = {}
    for name in names:
        try:
            summary = _ledger(name, start)
        except JsmlError as exc:
            if len(names) == 1:
                raise
            errors.append(f"{name}: {exc}")
            continue
        first = first or summary
        items += [
            i for i in summary.get("items", []) if (i.get("ended_at") or time.time()) >= start
        ]
    report = CostReport(first)
    report.update(
        by=by,
        since=start,
        groups=group(items, by),
        total=total(items),
        items=items,
        budgets_hit=[i for i in items if i.get("stopped_reason")],
        errors=errors,
    )
    report.setdefault("note", "")
    return report


def costs(backend: str | None = None) -> dict[str, Any]:
    """Costs so far (the backend's summary: total, by day, by resource, items); see :func:`cost`."""
    return require(get_backend(backend), Monitoring).costs()


class Advice(dict[str, Any]):
    """Provisioned vs serverless for one endpoint, and the recommendation."""

    @property
    def recommend(self) -> str:
        """``provisioned`` or ``serverless``."""
        return str(self["recommend"])

    def text(self) -> str:
        """The comparison in a few lines."""
        return (
            f"{self['endpoint']}: {self['requests']} request(s) over "
            f"{self['window_hours']:.2f} h ({self['captured']} captured at "
            f"{self['capture_percent']:g}%)\n"
            f"  provisioned {self['replicas']} x {self['instance_type']}: "
            f"${self['provisioned_usd']:.4f} (${self['provisioned_usd_month']:.2f}/month)\n"
            f"  serverless {self['memory_gb']:g} GB: ${self['serverless_usd']:.4f} "
            f"(${self['serverless_usd_month']:.2f}/month), {self['cold_starts']} cold start(s) "
            f"of {self['cold_start_seconds'] * 1000:.0f} ms measured "
            f"(+{self['added_cold_start_seconds']:.2f} s in all)\n"
            f"  recommend {self['recommend']}: {self['reason']}"
        )

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


def cost_advice(endpoint: str, memory_gb: float = 2.0, backend: str | None = None) -> Advice:
    """Compare provisioned replicas with serverless inference for ``endpoint``'s captured
    traffic (cost, and the cold starts serverless would add at the measured cold-start
    time) and recommend one. Needs the endpoint's request capture (``--capture``)."""
    memory_gb = serverless_memory_gb(memory_gb)
    chosen = get_backend(backend)
    advise = getattr(chosen, "cost_advice", None)
    if advise is None:
        raise UsageError(
            f"the {chosen.name} backend keeps no captured traffic to advise on; "
            "advice reads a local endpoint's capture (--backend local)"
        )
    return Advice(advise(endpoint, memory_gb))


__all__ = ["Advice", "CostReport", "cost", "cost_advice", "costs"]
