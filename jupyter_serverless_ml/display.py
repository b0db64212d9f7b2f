"""Text and HTML renderings shared by handles, magics and the CLI."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import Any

STATUS_COLOURS = {
    "Completed": "#2e7d32",
    "Failed": "#c62828",
    "Stopped": "#6d4c41",
    "Stopping": "#ef6c00",
    "Running": "#1565c0",
    "Preparing": "#6a1b9a",
    "Pending": "#757575",
}


def when(ts: float | None) -> str:
    """A timestamp as local ``YYYY-MM-DD HH:MM:SS``."""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def clock(ts: float | None) -> str:
    """A timestamp as local ``HH:MM:SS``."""
    return dt.datetime.fromtimestamp(ts).strftime("%H:%M:%S") if ts else "-"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table."""
    cells = [[str(c) for c in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; a cell that is a ``("status", value)`` pair gets its colour."""
    head = "".join(f"<th style='text-align:left'>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        tds = []
        for cell in row:
            if isinstance(cell, tuple) and cell and cell[0] == "status":
                tds.append(status_badge(str(cell[1])))
            else:
                tds.append(html.escape("-" if cell is None else str(cell)))
        body.append(
            "<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in tds) + "</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def status_badge(status: str) -> str:
    """A coloured status label."""
    colour = STATUS_COLOURS.get(status, "#424242")
    return f"<span style='color:{colour};font-weight:bold'>{html.escape(status)}</span>"


def format_metrics(metrics: dict[str, float]) -> str:
    """``accuracy=0.93 loss=0.12``."""
    return " ".join(f"{k}={v:.6g}" for k, v in metrics.items()) or "-"
