"""The ``%drift`` / ``jsml drift`` grammar, defined once for the magic and the CLI.

::

    drift ENDPOINT [--window 1h]                 check now, show the report
    drift baseline MODEL DATA [--version N]      set a model version's baseline
    drift rules ENDPOINT [--interval 5m] [--window 1h] [--min-rows N]
                         [--feature NAME=TEST[:THRESHOLD] | NAME=ignore ...]
                         [--prediction TEST[:THRESHOLD]] [--latency-p95-ms MS]
                         [--error-rate SHARE] [--cold-start-ms MS] [--webhook URL]
    drift alerts [ENDPOINT] [--open]             the alerts (of one endpoint)
    drift ack ID                                 acknowledge an alert
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError

ACTIONS = ("baseline", "rules", "alerts", "ack")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel
        raise UsageError(f"{self.prog}: {message}; see {self.prog} --help")


def parser(prog: str = "%drift") -> argparse.ArgumentParser:
    """The parser of one ``drift`` command line (after the word ``drift``)."""
    top = _Parser(prog=prog, description="drift checks, baselines, rules and alerts")
    top.add_argument(
        "words",
        nargs="+",
        help="ENDPOINT | baseline MODEL DATA | rules ENDPOINT | alerts [ENDPOINT] | ack ID",
    )
    top.add_argument("--window", help="how far back to look, e.g. 30m, 1h (check, rules)")
    top.add_argument("--version", type=int, help="model version (baseline; default latest)")
    top.add_argument("--interval", help="scheduled check interval, e.g. 1h (rules)")
    top.add_argument("--min-rows", type=int, help="rows needed before a check (rules)")
    top.add_argument(
        "--feature",
        action="append",
        default=[],
        metavar="NAME=TEST[:THRESHOLD]",
        help="per-feature test and threshold, or NAME=ignore (rules)",
    )
    top.add_argument("--prediction", metavar="TEST[:THRESHOLD]", help="prediction drift (rules)")
    top.add_argument("--dataset-share", type=float, help="share of drifted features (rules)")
    top.add_argument("--latency-p95-ms", type=float, help="latency monitor limit (rules)")
    top.add_argument("--error-rate", type=float, help="error-rate monitor limit, 0-1 (rules)")
    top.add_argument("--cold-start-ms", type=float, help="cold-start monitor limit (rules)")
    top.add_argument("--webhook", help="Slack-compatible URL posted on alert changes (rules)")
    top.add_argument("--open", action="store_true", help="only alerts not acknowledged (alerts)")
    top.add_argument("--backend", help="backend (default: the session's)")
    top.add_argument("--json", action="store_true", help="JSON output (CLI)")
    return top


def _test(text: str, where: str) -> dict[str, Any]:
    if text == "ignore":
        return {"ignore": True}
    test, _, threshold = text.partition(":")
    rule: dict[str, Any] = {"test": test}
    if threshold:
        try:
            rule["threshold"] = float(threshold)
        except ValueError:
            raise UsageError(f"{where}: threshold {threshold!r} is not a number") from None
    return rule


def rule_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The rule changes a ``drift rules`` command line asks for."""
    changes: dict[str, Any] = {}
    for key in (
        "interval",
        "window",
        "min_rows",
        "dataset_share",
        "latency_p95_ms",
        "error_rate",
        "cold_start_ms",
        "webhook",
    ):
        value = getattr(args, key)
        if value is not None:
            changes[key] = value
    features: dict[str, Any] = {}
    for item in args.feature:
        name, sep, test = item.partition("=")
        if not sep or not name or not test:
            raise UsageError(f"--feature {item!r}: write NAME=TEST[:THRESHOLD], e.g. age=ks:0.01")
        features[name] = _test(test, f"--feature {item}")
    if features:
        changes["features"] = features
    if args.prediction:
        changes["prediction"] = _test(args.prediction, "--prediction")
    return changes


def parse(words: list[str], prog: str = "%drift") -> tuple[str, argparse.Namespace]:
    """``(action, args)``: action ``check``, ``baseline``, ``rules``, ``alerts`` or ``ack``,
    with the positional words checked for that action."""
    args = parser(prog).parse_args(words)
    first, rest = args.words[0], args.words[1:]
    action = first if first in ACTIONS else "check"
    wanted = {"check": (0, 0), "baseline": (2, 2), "rules": (1, 1), "alerts": (0, 1), "ack": (1, 1)}
    low, high = wanted[action]
    given = rest if action != "check" else []
    if action == "check" and rest:
        raise UsageError(f"{prog} ENDPOINT takes one endpoint; got {' '.join(args.words)}")
    if not low <= len(given) <= high:
        usage = {
            "baseline": "baseline MODEL DATA_FILE",
            "rules": "rules ENDPOINT [--interval ...]",
            "alerts": "alerts [ENDPOINT]",
            "ack": "ack ALERT_ID",
        }[action]
        raise UsageError(f"write {prog} {usage}")
    args.target = given if action != "check" else [first]
    return action, args


__all__ = ["ACTIONS", "parse", "parser", "rule_changes"]
