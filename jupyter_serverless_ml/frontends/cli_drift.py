"""``jsml drift ...`` and ``jsml alerts``: the drift and alert commands of the CLI."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import monitoring
from ..display import text_table, when
from ..records import Record
from . import drift_magics, drift_options


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_wire()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "report"):
        return {"report": value.report, "alerts": [a.to_wire() for a in value.alerts]}
    return value


def alerts_table(alerts: list[Any]) -> str:
    """Alerts as a text table."""
    rows = [
        [
            a.id,
            a.get("status"),
            a.endpoint,
            a.get("model"),
            a.get("kind"),
            a.feature,
            a.test,
            "-" if a.value is None else f"{a.value:.4g}",
            "-" if a.threshold is None else f"{a.threshold:.4g}",
            "yes" if a.acknowledged_at else "no",
            when(a.get("updated_at") or a.created_at),
        ]
        for a in alerts
    ]
    headers = (
        "id",
        "status",
        "endpoint",
        "model",
        "kind",
        "feature",
        "test",
        "value",
        "threshold",
        "ack",
        "changed",
    )
    return text_table(headers, rows) if rows else "no alerts"


def _drift(args: argparse.Namespace) -> int:
    result = drift_magics.run_words(list(args.rest), prog="jsml drift")
    if "--json" in args.rest:
        print(json.dumps(_plain(result), indent=2, default=str))
    elif isinstance(result, list):
        print(alerts_table(result))
    elif isinstance(result, dict):
        print(json.dumps(result, indent=2, default=str))
    else:
        print(repr(result))
    return 0


def _alerts(args: argparse.Namespace) -> int:
    found = monitoring.alerts(backend=args.backend)
    if args.endpoint:
        found = [a for a in found if a.endpoint == args.endpoint]
    if args.open:
        found = [a for a in found if not a.acknowledged_at]
    if args.json:
        print(json.dumps([a.to_wire() for a in found], indent=2, default=str))
    else:
        print(alerts_table(found))
    return 0


def add_drift_commands(sub: Any) -> None:
    """Add ``drift`` and ``alerts`` to the ``jsml`` sub-parsers."""
    p = sub.add_parser(
        "drift",
        help="drift: jsml drift ENDPOINT [--window 1h] | baseline MODEL DATA | rules ENDPOINT ...",
        description=drift_options.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(run=_drift)
    p = sub.add_parser("alerts", help="drift and monitor alerts, newest change first")
    p.add_argument("endpoint", nargs="?")
    p.add_argument("--open", action="store_true", help="only alerts not acknowledged")
    p.add_argument("--backend")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_alerts)


__all__ = ["add_drift_commands", "alerts_table"]
