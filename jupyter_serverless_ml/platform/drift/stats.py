"""Drift statistics: one feature's baseline against its current values (scipy, not by hand).

Numeric features:

- ``ks``: two-sample Kolmogorov-Smirnov (:func:`scipy.stats.ks_2samp`); drift when the
  p-value is below the threshold (default 0.05). The default for at most
  :data:`SMALL_SAMPLE` current values.
- ``wasserstein``: :func:`scipy.stats.wasserstein_distance` divided by the baseline's
  standard deviation; drift at or above the threshold (default 0.1). The default for
  larger samples, where a p-value flags differences too small to matter. Above
  :data:`EXACT_UP_TO` current values, scipy gets the current values as
  :data:`ATOMS` weighted atoms (the means of equal-count runs of the sorted values):
  the distance moves by at most the mean absolute deviation inside a run (below
  1e-3 standard deviations for 100,000 normal values), for a tenth of the time.
- ``jensenshannon``: :func:`scipy.spatial.distance.jensenshannon` (base 2) of the
  histograms over the baseline's decile bins; drift at or above 0.1.

Categorical features:

- ``chi2``: :func:`scipy.stats.chisquare` of the current counts against the baseline's
  frequencies; drift when p < 0.05. The default for small samples.
- ``linf``: the L-infinity distance of the two frequency vectors
  (:func:`scipy.spatial.distance.chebyshev`, as SageMaker and Vertex monitors use);
  drift at or above 0.1. The default for large samples.

``psi`` (population stability index, :func:`scipy.stats.entropy` both ways over the
same bins) is reported alongside every test, and may be chosen as the test (0.2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: at most this many current values: a hypothesis test (KS, chi-squared); above: a distance
SMALL_SAMPLE = 1000
#: Wasserstein on the raw current values up to this many; above, on :data:`ATOMS` atoms
EXACT_UP_TO = 20_000
ATOMS = 4096
NUMERIC_TESTS = ("ks", "wasserstein", "jensenshannon", "psi")
CATEGORICAL_TESTS = ("chi2", "linf", "jensenshannon", "psi")
#: default threshold of each test; p-value tests drift *below* it, distances at or above
THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chi2": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "linf": 0.1,
    "psi": 0.2,
}
P_VALUE_TESTS = frozenset({"ks", "chi2"})
_EPS = 1e-6  # frequency given to a bin or category one side never saw (for PSI and chi2)


def default_test(kind: str, current_rows: int) -> str:
    """The test used for a ``numeric`` or ``categorical`` feature with this many values."""
    small = current_rows <= SMALL_SAMPLE
    if kind == "numeric":
        return "ks" if small else "wasserstein"
    return "chi2" if small else "linf"


def drifted(test: str, statistic: float, threshold: float) -> bool:
    """The verdict: a p-value below the threshold, or a distance at or above it."""
    if math.isnan(statistic):
        return False
    return statistic < threshold if test in P_VALUE_TESTS else statistic >= threshold


def decile_edges(baseline: np.ndarray) -> np.ndarray:
    """Bin edges for binned statistics: the baseline's deciles, open at both ends."""
    inner = np.unique(np.quantile(baseline, np.linspace(0.1, 0.9, 9)))
    return np.concatenate([[-np.inf], inner, [np.inf]])


def binned(values: np.ndarray, edges: np.ndarray, is_sorted: bool = False) -> np.ndarray:
    """Relative frequencies of ``values`` in the bins of ``edges`` (right-closed)."""
    if is_sorted:
        cuts = np.searchsorted(values, edges[1:-1], side="right")
        counts = np.diff(np.concatenate([[0], cuts, [len(values)]])).astype(float)
    else:
        index = np.searchsorted(edges[1:-1], values, side="left")
        counts = np.bincount(index, minlength=len(edges) - 1).astype(float)
    return counts / max(counts.sum(), 1.0)


def atoms(sorted_values: np.ndarray, count: int = ATOMS) -> tuple[np.ndarray, np.ndarray]:
    """``sorted_values`` as at most ``count`` weighted atoms: the mean of each run of
    equally many consecutive values, weighted by the run's length."""
    n = len(sorted_values)
    if n <= count:
        return sorted_values, np.ones(n)
    starts = np.linspace(0, n, count + 1).astype(np.int64)
    sums = np.add.reduceat(sorted_values, starts[:-1])
    sizes = np.diff(starts).astype(float)
    return sums / sizes, sizes


def wasserstein(baseline: np.ndarray, sorted_current: np.ndarray) -> float:
    """:func:`scipy.stats.wasserstein_distance` of the two samples (the current one as
    atoms above :data:`EXACT_UP_TO` values)."""
    from scipy.stats import wasserstein_distance

    if len(sorted_current) <= EXACT_UP_TO:
        return float(wasserstein_distance(baseline, sorted_current))
    values, weights = atoms(sorted_current)
    return float(wasserstein_distance(baseline, values, None, weights))


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two frequency vectors over the same bins:
    ``sum((a - e) ln(a / e))`` = KL(a || e) + KL(e || a), with empty bins given a tiny share."""
    from scipy.stats import entropy

    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    e, a = e / e.sum(), a / a.sum()
    return float(entropy(a, e) + entropy(e, a))


def compare_numeric(
    baseline: np.ndarray,
    current: np.ndarray,
    test: str | None = None,
    threshold: float | None = None,
    is_sorted: bool = False,
) -> dict[str, Any]:
    """Compare a numeric feature: ``baseline`` sample against ``current`` values (both finite;
    ``is_sorted`` when ``current`` is sorted already).

    Returns ``{test, statistic, threshold, drift, psi, p_value?}``; the statistic is
    the p-value for ``ks``.
    """
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp

    test = test or default_test("numeric", len(current))
    if test not in NUMERIC_TESTS:
        raise ValueError(f"unknown numeric drift test {test!r}: use {', '.join(NUMERIC_TESTS)}")
    limit = THRESHOLDS[test] if threshold is None else float(threshold)
    current = current if is_sorted else np.sort(current)
    edges = decile_edges(baseline)
    expected, actual = binned(baseline, edges), binned(current, edges, is_sorted=True)
    stability = psi(expected, actual)
    out: dict[str, Any] = {"test": test, "threshold": limit, "psi": stability}
    if test == "ks":
        # scipy's "auto": exact p-values up to 10,000 values a side, asymptotic above
        result = ks_2samp(baseline, current)
        out["statistic"] = float(result.pvalue)
        out["ks_statistic"] = float(result.statistic)
    elif test == "wasserstein":
        scale = float(np.std(baseline)) or float(np.mean(np.abs(baseline))) or 1.0
        out["statistic"] = wasserstein(baseline, current) / scale
    elif test == "jensenshannon":
        out["statistic"] = float(jensenshannon(expected, actual, base=2))
    else:
        out["statistic"] = stability
    out["drift"] = drifted(test, out["statistic"], limit)
    return out


def frequencies(
    baseline_counts: Mapping[str, int], current_counts: Mapping[str, int]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The union of categories and both relative-frequency vectors over it."""
    categories = sorted(set(baseline_counts) | set(current_counts))
    base = np.array([float(baseline_counts.get(c, 0)) for c in categories])
    cur = np.array([float(current_counts.get(c, 0)) for c in categories])
    return categories, base / max(base.sum(), 1.0), cur / max(cur.sum(), 1.0)


def compare_categorical(
    baseline_counts: Mapping[str, int],
    current_counts: Mapping[str, int],
    test: str | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Compare a categorical feature by its category counts (baseline and current)."""
    from scipy.spatial.distance import chebyshev, jensenshannon
    from scipy.stats import chisquare

    rows = int(sum(current_counts.values()))
    test = test or default_test("categorical", rows)
    if test not in CATEGORICAL_TESTS:
        raise ValueError(
            f"unknown categorical drift test {test!r}: use {', '.join(CATEGORICAL_TESTS)}"
        )
    limit = THRESHOLDS[test] if threshold is None else float(threshold)
    _, base, cur = frequencies(baseline_counts, current_counts)
    out: dict[str, Any] = {"test": test, "threshold": limit, "psi": psi(base, cur)}
    if test == "chi2":
        expected = np.clip(base, _EPS, None)
        expected = expected / expected.sum() * rows
        observed = cur * rows
        out["statistic"] = float(chisquare(observed, expected).pvalue) if rows else math.nan
    elif test == "linf":
        out["statistic"] = float(chebyshev(base, cur))
    elif test == "jensenshannon":
        out["statistic"] = float(jensenshannon(base, cur, base=2))
    else:
        out["statistic"] = out["psi"]
    out["drift"] = drifted(test, out["statistic"], limit)
    return out


__all__ = [
    "ATOMS",
    "CATEGORICAL_TESTS",
    "EXACT_UP_TO",
    "NUMERIC_TESTS",
    "SMALL_SAMPLE",
    "THRESHOLDS",
    "atoms",
    "binned",
    "compare_categorical",
    "compare_numeric",
    "decile_edges",
    "default_test",
    "drifted",
    "psi",
    "wasserstein",
]
