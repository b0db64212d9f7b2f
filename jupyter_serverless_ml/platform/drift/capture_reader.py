"""Captured requests of an endpoint, read for drift checks and monitors.

Replicas (which run the model: code the host does not trust) write the capture
files, so this reader trusts nothing in them: it opens only regular files, never
follows a link (``O_NOFOLLOW``), never blocks on a FIFO (``O_NONBLOCK``), reads a
bounded number of bytes, and skips any line or request body it cannot decode
(counted in ``undecodable``). Records sent by the platform itself to learn a
model's outputs on its baseline (``Content-Type`` parameter ``jsml-baseline``) are
left out.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BASELINE_MARK = "jsml-baseline"
MAX_BYTES = 1 << 30


@dataclass
class Window:
    """What an endpoint received (in its captured share) between ``since`` and ``until``."""

    since: float
    until: float
    model: str | None = None
    requests: int = 0
    rows: list[Any] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)
    undecodable: int = 0
    newest: float = 0.0

    @property
    def row_count(self) -> int:
        """Rows of input received (a request may hold many)."""
        return len(self.rows) + len(self.records)

    def frame(self, columns: list[str]) -> tuple[Any, list[int]]:
        """The inputs as a DataFrame (list rows named by ``columns`` when as wide) and the
        widths of list rows that were not (they cannot be named)."""
        import pandas as pd

        width = len(columns)
        good = [r for r in self.rows if len(r) == width]
        odd = sorted({len(r) for r in self.rows if len(r) != width})
        parts = []
        if good:
            try:  # all numbers: one float block (much faster than per-column inference)
                parts.append(pd.DataFrame(np.asarray(good, dtype=float), columns=columns))
            except (TypeError, ValueError):
                parts.append(pd.DataFrame(good, columns=columns))
        if self.records:
            parts.append(pd.DataFrame.from_records(self.records))
        if not parts:
            return pd.DataFrame(columns=columns), odd
        return (pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]), odd


def _open_regular(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _files(directory: Path, since: float) -> list[tuple[float, Path]]:
    try:
        info = os.lstat(directory)
    except OSError:
        return []
    if not stat.S_ISDIR(info.st_mode):
        return []
    found = []
    for entry in os.scandir(directory):
        if not entry.name.endswith(".jsonl") or not entry.is_file(follow_symlinks=False):
            continue
        mtime = entry.stat(follow_symlinks=False).st_mtime
        if mtime >= since:
            found.append((mtime, Path(entry.path)))
    return sorted(found)


def newest_capture(directory: Path) -> float:
    """The modification time of the newest capture file (0 when there is none)."""
    files = _files(directory, 0.0)
    return files[-1][0] if files else 0.0


def _rows(value: Any, window: Window) -> bool:
    """Add rows from a decoded JSON body (the shapes the serving decoder accepts)."""
    if isinstance(value, dict):
        split = value.get("dataframe_split")
        if isinstance(split, dict) and isinstance(split.get("data"), list):
            names = split.get("columns")
            if isinstance(names, list):
                window.records.extend(
                    dict(zip(map(str, names), r, strict=False))
                    for r in split["data"]
                    if isinstance(r, list)
                )
                return True
        for key in ("instances", "inputs", "dataframe_records", "data"):
            if key in value:
                return _rows(value[key], window)
        return False
    if not isinstance(value, list) or not value:
        return False
    if all(isinstance(r, dict) for r in value):
        window.records.extend(value)
    elif all(isinstance(r, list) for r in value):
        window.rows.extend(value)
    elif all(not isinstance(v, (list, dict)) for v in value):
        window.rows.append(value)
    else:
        return False
    return True


def _decode_input(content_type: str, text: str, window: Window) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv",):
        rows = [r for r in csv.reader(io.StringIO(text)) if r]
        window.rows.extend([_number(v) for v in r] for r in rows)
        return bool(rows)
    if kind in ("application/jsonlines", "application/jsonl", "application/x-ndjson"):
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(lines) == 1 and isinstance(lines[0], dict):
            return _rows(lines[0], window)
        return _rows(lines, window)
    return _rows(json.loads(text), window)


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def outputs_of(text: str) -> list[Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return [_number(v) for v in text.split()]
    if isinstance(data, dict):
        data = data.get("predictions", data.get("outputs", []))
    if not isinstance(data, list):
        data = [data]
    return [v[-1] if isinstance(v, list) and v else v for v in data]


def read_window(
    directory: Path,
    since: float,
    until: float | None = None,
    max_bytes: int = MAX_BYTES,
    model: str | None = None,
) -> Window:
    """The captured requests of ``directory`` with a timestamp in ``[since, until]`` (served
    by ``model``, ``name:version``, when given)."""
    until = time.time() if until is None else until
    window = Window(since, until, model)
    left = max_bytes
    for _, path in _files(directory, since):
        fd = _open_regular(path)
        if fd is None:
            continue
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max(left, 0))
        left -= len(data)
        for line in data.splitlines():
            _record(line, window)
        if left <= 0:
            break
    return window


def _record(line: bytes, window: Window) -> None:
    try:
        record = json.loads(line)
        ts = float(record["ts"])
        content_type = str(record.get("content_type") or "application/json")
    except (ValueError, KeyError, TypeError):
        window.undecodable += 1
        return
    if not window.since <= ts <= window.until or BASELINE_MARK in content_type:
        return
    if window.model and record.get("model") != window.model:
        return
    window.requests += 1
    window.newest = max(window.newest, ts)
    window.models[str(record.get("model") or "")] += 1
    status = record.get("status")
    window.statuses.append(int(status) if isinstance(status, int) else 0)
    latency = record.get("latency_ms")
    if isinstance(latency, (int, float)) and np.isfinite(latency):
        window.latencies_ms.append(float(latency))
    if window.statuses[-1] != 200:
        return
    try:
        if not _decode_input(content_type, str(record.get("input") or ""), window):
            window.undecodable += 1
            return
        window.outputs.extend(outputs_of(str(record.get("output") or "")))
    except (ValueError, TypeError, RecursionError):
        window.undecodable += 1


__all__ = ["BASELINE_MARK", "Window", "newest_capture", "outputs_of", "read_window"]
