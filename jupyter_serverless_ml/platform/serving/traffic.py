"""Traffic splits between an endpoint's variants: pure functions, no I/O, no processes.

A split maps variant names to percentages that sum to 100. Shifting names some
variants' weights; the variants not named share what is left in proportion to
their current weights (equally when none had any). Every change remembers the
split it replaced, so a rollback can return to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...errors import UsageError

#: How many earlier splits an endpoint's stored record keeps for rollbacks.
HISTORY_KEPT = 20
_EPSILON = 1e-9


def shift(
    endpoint: str,
    current: Mapping[str, float],
    variants: Sequence[str],
    weights: Mapping[str, float],
) -> dict[str, float]:
    """The split after giving the named variants ``weights`` (percentages).

    The variants not named share ``100 - sum(weights)`` in proportion to their
    ``current`` weights, or equally when they have none. Weights are rounded to
    six decimals. Raises :class:`UsageError` for an unknown variant, a negative
    weight, weights above 100 in total, named weights that do not sum to 100
    when every variant is named, or a split that gives no variant any traffic.
    """
    unknown = [k for k in weights if k not in variants]
    if unknown:
        raise UsageError(
            f"endpoint {endpoint} has no variant {', '.join(unknown)}; "
            f"its variants: {', '.join(variants)}"
        )
    given = sum(weights.values())
    if given > 100 + _EPSILON or any(w < 0 for w in weights.values()):
        raise UsageError(f"traffic weights must be 0-100 and sum to at most 100 (got {given:g})")
    rest = [k for k in variants if k not in weights]
    share = 100.0 - given
    old = sum(current.get(k, 0.0) for k in rest)
    new = dict(weights)
    for key in rest:
        new[key] = share * current.get(key, 0.0) / old if old else share / len(rest)
    if not rest and abs(given - 100) > _EPSILON:
        raise UsageError(
            f"traffic weights must sum to 100 when every variant is named (got {given:g})"
        )
    if sum(new.values()) <= 0:
        raise UsageError("at least one variant must get traffic")
    return {k: round(v, 6) for k, v in new.items()}


def new_variant_share(requested: float | None) -> float:
    """The share a variant being added asks for: 100 unless ``--traffic`` says otherwise."""
    weight = 100.0 if requested is None else float(requested)
    if not 0 <= weight <= 100:
        raise UsageError(f"--traffic {weight:g} must be between 0 and 100")
    return weight


def remember(
    history: Sequence[Mapping[str, float]], split: Mapping[str, float]
) -> list[dict[str, float]]:
    """``history`` with ``split`` (the one being replaced) appended."""
    return [*(dict(h) for h in history), dict(split)]


def roll_back(
    endpoint: str, history: Sequence[Mapping[str, float]], variants: Sequence[str]
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """The split before the last change (over today's ``variants``) and the history left.

    A variant that did not exist then gets 0; one that no longer exists is dropped.
    """
    if not history:
        raise UsageError(f"endpoint {endpoint} has no earlier traffic split to return to")
    previous = history[-1]
    return {k: previous.get(k, 0.0) for k in variants}, [dict(h) for h in history[:-1]]


def kept(history: Sequence[Mapping[str, float]]) -> list[Mapping[str, float]]:
    """The part of ``history`` an endpoint's stored record keeps."""
    return list(history[-HISTORY_KEPT:])


def routable(split: Mapping[str, float]) -> dict[str, float]:
    """The variants that get traffic, with their weights."""
    return {k: w for k, w in split.items() if w > 0}


def describe(split: Mapping[str, float]) -> str:
    """``v1=90%, v2=10%``: a split as the endpoint's events show it."""
    return ", ".join(f"{k}={v:g}%" for k, v in split.items())


__all__ = [
    "HISTORY_KEPT",
    "describe",
    "kept",
    "new_variant_share",
    "remember",
    "roll_back",
    "routable",
    "shift",
]
