"""Baseline profiles of tabular data: what drift checks compare production requests against.

A profile is JSON::

    {"rows": 1000, "source": "/data/train.csv", "created_at": ..., "sample_rows": 1000,
     "columns": {
        "age": {"kind": "numeric", "dtype": "float64", "count": 998, "missing": 2,
                "mean": ..., "std": ..., "min": ..., "max": ...,
                "quantiles": {"0.01": ..., "0.5": ..., ...},
                "histogram": {"edges": [21 numbers], "counts": [20 counts]},
                "sample": [up to SAMPLE_ROWS values, null for missing]},
        "plan": {"kind": "categorical", "dtype": "object", "count": ..., "missing": ...,
                 "categories": 3, "top": {"basic": 510, ...}, "other": 0,
                 "sample": [...]}},
     "outputs": {a column profile of the model's outputs on the sample, once known}}

The samples of all columns come from the same rows, so ``sample`` zipped across
columns gives whole rows (sent to the model once, for prediction drift).
Files are read by the host from paths the user gave (a training channel, or
``%drift baseline``), never from anything a job wrote.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_ROWS = 2000
MAX_ROWS = 1_000_000
TOP_CATEGORIES = 50
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
TABULAR_SUFFIXES = (".csv", ".parquet", ".jsonl", ".json")
OTHER = "(other)"


class NotTabular(ValueError):
    """The path holds no data file a profile can be built from."""


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    return str(value)


def is_numeric(dtype: Any) -> bool:
    """Whether a pandas dtype is profiled as numeric (booleans are categories)."""
    return getattr(dtype, "kind", "O") in "iuf"


def column_profile(series: Any, sample_index: np.ndarray) -> dict[str, Any]:
    """The profile of one column (a pandas Series); ``sample_index`` picks its sample rows."""
    import pandas as pd

    missing = int(series.isna().sum())
    out: dict[str, Any] = {
        "dtype": str(series.dtype),
        "count": int(len(series) - missing),
        "missing": missing,
    }
    if is_numeric(series.dtype):
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        out["kind"] = "numeric"
        if len(finite):
            quantiles = np.quantile(finite, QUANTILES)
            counts, edges = np.histogram(finite, bins=20)
            out.update(
                mean=float(finite.mean()),
                std=float(finite.std()),
                min=float(finite.min()),
                max=float(finite.max()),
                quantiles={str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
                histogram={"edges": edges.tolist(), "counts": counts.tolist()},
            )
        out["sample"] = [_clean(v) for v in values[sample_index]]
        return out
    text = series.dropna().astype(str)
    counts = text.value_counts()
    top = counts.head(TOP_CATEGORIES)
    out.update(
        kind="categorical",
        categories=len(counts),
        top={str(k): int(v) for k, v in top.items()},
        other=int(counts.iloc[TOP_CATEGORIES:].sum()),
        sample=[_clean(v) for v in series.iloc[sample_index].tolist()],
    )
    return out


def profile_frame(frame: Any, source: str = "", seed: int = 0) -> dict[str, Any]:
    """The profile of every column of a DataFrame."""
    rows = len(frame)
    rng = np.random.default_rng(seed)
    size = min(rows, SAMPLE_ROWS)
    index = np.sort(rng.choice(rows, size=size, replace=False)) if rows else np.arange(0)
    return {
        "rows": rows,
        "source": source,
        "created_at": time.time(),
        "sample_rows": int(size),
        "columns": {str(c): column_profile(frame[c], index) for c in frame.columns},
    }


def tabular_files(path: Path) -> list[Path]:
    """The data files of a channel: the file itself, or the tabular files under a folder."""
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TABULAR_SUFFIXES
        )
        return found[:100]
    raise NotTabular(f"{path} does not exist")


def read_table(path: Path, max_rows: int = MAX_ROWS) -> Any:
    """A DataFrame of the tabular file(s) at ``path`` (CSV, Parquet, JSON Lines), at most
    ``max_rows`` rows; :class:`NotTabular` when none can be read."""
    import pandas as pd

    frames = []
    left = max_rows
    for file in tabular_files(path):
        suffix = file.suffix.lower()
        try:
            if suffix == ".parquet":
                frame = pd.read_parquet(file)
            elif suffix in (".jsonl", ".json"):
                frame = pd.read_json(file, lines=suffix == ".jsonl")
            else:
                frame = pd.read_csv(file, nrows=left)
        except (ValueError, OSError, ImportError) as exc:
            if len(tabular_files(path)) == 1:
                raise NotTabular(f"{file} cannot be read as a table: {exc}") from None
            continue
        frames.append(frame.head(left))
        left -= len(frames[-1])
        if left <= 0:
            break
    if not frames:
        raise NotTabular(f"{path} holds no CSV, Parquet or JSON Lines file")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def profile_path(path: Path, seed: int = 0) -> dict[str, Any]:
    """The profile of the table at ``path`` (with the file's size and time, to tell later
    whether it changed)."""
    profile = profile_frame(read_table(path), str(path), seed)
    info = path.stat()
    profile["source_mtime"], profile["source_size"] = info.st_mtime, info.st_size
    return profile


def sample_rows(profile: dict[str, Any], columns: list[str]) -> list[list[Any]]:
    """The profile's sample as whole rows of ``columns`` (rows with a missing value dropped)."""
    samples = [profile["columns"][c]["sample"] for c in columns]
    return [list(row) for row in zip(*samples, strict=True) if None not in row]


def category_counts(column: dict[str, Any]) -> dict[str, int]:
    """A categorical column's counts (categories beyond the top ones as :data:`OTHER`)."""
    counts = dict(column.get("top") or {})
    if column.get("other"):
        counts[OTHER] = int(column["other"])
    return counts


__all__ = [
    "OTHER",
    "SAMPLE_ROWS",
    "NotTabular",
    "category_counts",
    "column_profile",
    "is_numeric",
    "profile_frame",
    "profile_path",
    "read_table",
    "sample_rows",
]
