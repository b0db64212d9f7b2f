"""What ``drift()`` returns: a report that reads as text and renders as HTML in a notebook.

Per feature the HTML shows the baseline and the current distribution side by side
(a small inline SVG bar chart: grey baseline, coloured current), the test, its
statistic against the threshold, PSI and the verdict; then schema problems,
prediction drift, the monitors and the endpoint's alerts.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..display import text_table, when
from ..records import AlertRecord

_W, _H = 160, 36


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def chart_svg(chart: Mapping[str, Any] | None, drift: bool) -> str:
    """Two bar series (baseline, current) over the same bins or categories, as inline SVG."""
    if not chart:
        return ""
    base, cur = list(chart.get("baseline") or []), list(chart.get("current") or [])
    bins = max(len(base), len(cur), 1)
    top = max([*base, *cur, 1e-9])
    width = _W / bins
    colour = "#c62828" if drift else "#1565c0"
    bars = []
    for i in range(bins):
        for j, (values, fill) in enumerate(((base, "#9e9e9e"), (cur, colour))):
            v = values[i] if i < len(values) else 0.0
            h = (_H - 2) * v / top
            x = i * width + j * width / 2
            bars.append(
                f"<rect x='{x:.1f}' y='{_H - h:.1f}' width='{max(width / 2 - 0.5, 0.5):.1f}' "
                f"height='{h:.1f}' fill='{fill}'/>"
            )
    title = "grey: baseline, colour: current"
    if chart.get("categories"):
        title += " — " + ", ".join(map(str, chart["categories"]))
    return (
        f"<svg width='{_W}' height='{_H}' role='img'><title>{html.escape(title)}</title>"
        f"{''.join(bars)}</svg>"
    )


class DriftReport:
    """A drift check of one endpoint: ``report`` (the platform's JSON) and ``alerts``."""

    def __init__(self, report: Mapping[str, Any], alerts: Sequence[AlertRecord]) -> None:
        self.report = dict(report)
        self.alerts = list(alerts)

    @property
    def verdict(self) -> str:
        """``drift``, ``ok``, ``not enough data`` or ``no baseline``."""
        return str(self.report.get("verdict", ""))

    @property
    def drifted(self) -> list[str]:
        """The features that drifted."""
        return [f["feature"] for f in self.features if f.get("drift")]

    @property
    def features(self) -> list[dict[str, Any]]:
        """Per feature: test, statistic, threshold, psi, drift, rows, chart."""
        return list(self.report.get("features") or [])

    @property
    def in_alert(self) -> list[AlertRecord]:
        """The endpoint's alerts whose status is InAlert."""
        return [a for a in self.alerts if a.get("status") == "InAlert"]

    def __getitem__(self, key: str) -> Any:
        return self.report[key]

    def _head(self) -> str:
        r = self.report
        return (
            f"drift of {r.get('endpoint')} ({r.get('model')}): {self.verdict.upper()} — "
            f"{r.get('rows', 0)} rows in {r.get('requests', 0)} requests over the last "
            f"{_fmt(r.get('window_seconds'))} s vs {r.get('baseline_rows', 0)} baseline rows"
        )

    def _rows(self) -> list[list[Any]]:
        rows = [
            [
                f["feature"],
                f.get("test", "-"),
                _fmt(f.get("statistic")),
                _fmt(f.get("threshold")),
                _fmt(f.get("psi")),
                f.get("current_rows"),
                "DRIFT" if f.get("drift") else ("ok" if "drift" in f else f.get("error", "-")),
            ]
            for f in self.features
        ]
        prediction = self.report.get("prediction")
        if prediction:
            rows.append(
                [
                    prediction["feature"],
                    prediction["test"],
                    _fmt(prediction["statistic"]),
                    _fmt(prediction["threshold"]),
                    _fmt(prediction["psi"]),
                    prediction.get("current_rows"),
                    "DRIFT" if prediction["drift"] else "ok",
                ]
            )
        return rows

    def _notes(self) -> list[str]:
        r = self.report
        notes = []
        schema = r.get("schema") or {}
        for key, what in (("missing", "missing columns"), ("extra", "extra columns")):
            if schema.get(key):
                notes.append(f"{what}: {', '.join(schema[key])}")
        wrong = {k: v for k, v in (schema.get("wrong_type") or {}).items() if v}
        if wrong:
            notes.append(
                "wrongly typed values: " + ", ".join(f"{k} ({v})" for k, v in wrong.items())
            )
        dataset = r.get("dataset") or {}
        if dataset.get("features"):
            notes.append(
                f"dataset drift: {'YES' if dataset.get('drift') else 'no'} "
                f"({dataset['drifted']} of {dataset['features']} features drifted)"
            )
        for m in r.get("monitors") or []:
            state = "BREACHED" if m.get("breached") else "ok"
            notes.append(
                f"{m['monitor']}: {_fmt(m['value'])} (limit {_fmt(m['threshold'])}) {state}"
            )
        if r.get("message"):
            notes.append(str(r["message"]))
        if r.get("baseline_note"):
            notes.append(str(r["baseline_note"]))
        return notes

    def _alert_rows(self) -> list[list[Any]]:
        return [
            [
                a.id,
                a.get("status"),
                a.get("kind"),
                a.feature,
                a.test,
                _fmt(a.value),
                _fmt(a.threshold),
                "yes" if a.acknowledged_at else "no",
                when(a.get("updated_at")),
            ]
            for a in self.alerts
        ]

    _ALERT_HEADERS = (
        "id",
        "status",
        "kind",
        "feature",
        "test",
        "value",
        "threshold",
        "ack",
        "changed",
    )

    def __repr__(self) -> str:
        parts = [self._head()]
        if self.features:
            parts.append(
                text_table(
                    ("feature", "test", "statistic", "threshold", "psi", "rows", "verdict"),
                    self._rows(),
                )
            )
        parts += self._notes()
        if self.alerts:
            parts.append("alerts:\n" + text_table(self._ALERT_HEADERS, self._alert_rows()))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        esc = html.escape
        colour = {"drift": "#c62828", "ok": "#2e7d32"}.get(self.verdict, "#757575")
        out = [f"<div class='jsml-drift'><p><b style='color:{colour}'>{esc(self._head())}</b></p>"]
        if self.features or self.report.get("prediction"):
            charts = {f["feature"]: f for f in self.features}
            if self.report.get("prediction"):
                charts[self.report["prediction"]["feature"]] = self.report["prediction"]
            head = "".join(
                f"<th style='text-align:left'>{h}</th>"
                for h in (
                    "feature",
                    "baseline vs current",
                    "test",
                    "statistic",
                    "threshold",
                    "psi",
                    "rows",
                    "verdict",
                )
            )
            body = []
            for row in self._rows():
                feature = charts.get(row[0], {})
                verdict = row[-1]
                style = "color:#c62828;font-weight:bold" if verdict == "DRIFT" else ""
                cells = [esc(str(row[0])), chart_svg(feature.get("chart"), verdict == "DRIFT")]
                cells += [esc(str(c)) for c in row[1:-1]]
                cells.append(f"<span style='{style}'>{esc(str(verdict))}</span>")
                body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            out.append(
                f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            )
        out += [f"<p>{esc(n)}</p>" for n in self._notes()]
        if self.alerts:
            head = "".join(f"<th>{h}</th>" for h in self._ALERT_HEADERS)
            tbody = "".join(
                "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>"
                for row in self._alert_rows()
            )
            out.append(
                f"<p>alerts</p><table><thead><tr>{head}</tr></thead><tbody>{tbody}</tbody></table>"
            )
        out.append("</div>")
        return "".join(out)


__all__ = ["DriftReport", "chart_svg"]
