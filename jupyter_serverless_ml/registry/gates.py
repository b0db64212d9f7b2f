"""The promotion gate: metric requirements and the comparison with the current holder of a stage.

Pure functions over model records (no backend, no processes)::

    >>> reasons = refusals(candidate, [parse_requirement("accuracy>=0.9")], production)

A requirement ``METRIC OP VALUE`` (``>=``, ``>``, ``<=``, ``<``) says both what the
version must reach and which way is better on that metric: ``accuracy>=0.9`` means
higher is better, ``loss<=0.3`` lower is better. A version is worse than the one it
is compared with when it is strictly worse on a required metric.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..errors import Conflict, UsageError

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_PATTERN = re.compile(r"^\s*([A-Za-z_][\w.:/-]*)\s*(>=|<=|>|<)\s*(\S+)\s*$")


class PromotionRefused(Conflict):
    """A version failed its promotion gate (a required metric, or worse than the compared one)."""


@dataclass(frozen=True)
class Requirement:
    """``metric op threshold``; ``higher_is_better`` follows from the operator."""

    metric: str
    op: str
    threshold: float

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value of the metric is better (``>=`` and ``>``)."""
        return self.op.startswith(">")

    def met_by(self, value: float) -> bool:
        """Whether ``value`` satisfies the requirement."""
        return _OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


def parse_requirement(text: str) -> Requirement:
    """``"accuracy>=0.9"`` -> Requirement; a UsageError shows the form otherwise."""
    found = _PATTERN.match(text)
    if found is None:
        raise UsageError(
            f"--require {text!r}: write METRIC OP VALUE with OP one of >=, >, <=, <, "
            'e.g. --require "accuracy>=0.9"'
        )
    metric, op, raw = found.groups()
    doubled = re.match(r"[<>=!]+", raw)  # "acc>>0.9", "acc>=>0.9": one operator, then a number
    if doubled:
        raise UsageError(
            f"--require {text!r}: {op + doubled.group()!r} is not an operator; write METRIC OP VALUE "
            'with one OP of >=, >, <=, <, e.g. --require "accuracy>=0.9"'
        )
    try:
        threshold = float(raw)
    except ValueError:
        raise UsageError(
            f"--require {text!r}: {raw!r} is not a number; write METRIC OP VALUE, "
            'e.g. --require "accuracy>=0.9"'
        ) from None
    if not math.isfinite(threshold):
        raise UsageError(f"--require {text!r}: the threshold must be a finite number")
    return Requirement(metric, op, threshold)


def refusals(
    ref: str,
    metrics: Mapping[str, float],
    requirements: Iterable[Requirement],
    compared: tuple[str, Mapping[str, float]] | None = None,
) -> list[str]:
    """Why the version ``ref`` with ``metrics`` may not be promoted (empty: it may).

    ``compared`` is ``(ref, metrics)`` of the version it must not be worse than, on
    each required metric (a compared version that lacks the metric is no obstacle).
    """
    reasons = []
    required = list(requirements)
    for need in required:
        value = metrics.get(need.metric)
        if value is None:
            known = ", ".join(sorted(metrics)) or "none"
            reasons.append(
                f"{ref} has no metric {need.metric!r} (its metrics: {known}); log it in "
                f"training with log_metric({need.metric!r}, value)"
            )
        elif not need.met_by(value):
            reasons.append(f"{ref} has {need.metric}={value:g}, which fails {need}")
    if compared is not None:
        other_ref, other = compared
        for need in required:
            mine, theirs = metrics.get(need.metric), other.get(need.metric)
            if mine is None or theirs is None:
                continue
            worse = mine < theirs if need.higher_is_better else mine > theirs
            if worse:
                way = "higher" if need.higher_is_better else "lower"
                reasons.append(
                    f"{ref} has {need.metric}={mine:g}, worse than {other_ref} "
                    f"({need.metric}={theirs:g}; {way} is better)"
                )
    return reasons


__all__ = ["PromotionRefused", "Requirement", "parse_requirement", "refusals"]
