"""Captured requests of an endpoint, read for drift checks and monitors.

Replicas (which run the model: code the host does not trust) write the capture
files, so this reader trusts nothing in them: it opens only regular files, never
follows a link (``O_NOFOLLOW``), never blocks on a FIFO (``O_NONBLOCK``), reads a
bounded number of bytes, and skips any line or request body it cannot decode
(counted in ``undecodable``). Records sent by the platform itself to learn a
model's outputs on its baseline (``Content-Type`` parameter ``jsml-baseline``) are
left out.

Decoding is columnar (:mod:`.capture_decode`) and incremental: a
:class:`CaptureCache` keeps each file's decoded records by byte offset (and inode),
so a scheduled check decodes only what was appended since the last one. A line not
yet ended by a newline is left for the next read unless it is a whole record.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .capture_decode import BASELINE_MARK, Segment, decode_lines, outputs_of

MAX_BYTES = 1 << 30


@dataclass
class Window:
    """What an endpoint received (in its captured share) between ``since`` and ``until``.

    Inputs are ``blocks`` (float arrays, one row per input row, decoded column-wise),
    ``rows`` (lists) and ``records`` (dicts); outputs are ``output_blocks`` and ``outputs``.
    """

    since: float
    until: float
    model: str | None = None
    requests: int = 0
    rows: list[Any] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[np.ndarray] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    output_blocks: list[np.ndarray] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)
    undecodable: int = 0
    newest: float = 0.0

    @property
    def row_count(self) -> int:
        """Rows of input received (a request may hold many)."""
        return len(self.rows) + len(self.records) + sum(len(b) for b in self.blocks)

    def output_values(self) -> Any:
        """Every captured output as one pandas Series."""
        import pandas as pd

        parts = [pd.Series(b) for b in self.output_blocks if len(b)]
        if self.outputs:
            parts.append(pd.Series(self.outputs))
        if not parts:
            return pd.Series([], dtype=float)
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def frame(self, columns: list[str]) -> tuple[Any, list[int]]:
        """The inputs as a DataFrame (list rows named by ``columns`` when as wide) and the
        widths of list rows that were not (they cannot be named)."""
        import pandas as pd

        width = len(columns)
        good = [r for r in self.rows if len(r) == width]
        odd = {len(r) for r in self.rows if len(r) != width}
        odd |= {b.shape[1] for b in self.blocks if b.shape[1] != width}
        parts = [pd.DataFrame(b, columns=columns) for b in self.blocks if b.shape[1] == width]
        if good:
            try:  # all numbers: one float block (much faster than per-column inference)
                parts.append(pd.DataFrame(np.asarray(good, dtype=float), columns=columns))
            except (TypeError, ValueError):
                parts.append(pd.DataFrame(good, columns=columns))
        if self.records:
            parts.append(pd.DataFrame.from_records(self.records))
        if not parts:
            return pd.DataFrame(columns=columns), sorted(odd)
        if len(parts) > 1 and all(p.dtypes.eq(float).all() for p in parts):
            merged = np.concatenate([p.to_numpy() for p in parts])
            return pd.DataFrame(merged, columns=columns), sorted(odd)
        return (pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]), sorted(odd)

    def add(self, segment: Segment) -> None:
        """Add the records of ``segment`` that fall in this window."""
        mask = (segment.ts >= self.since) & (segment.ts <= self.until) & ~segment.baseline
        if self.model:
            mask &= segment.model == self.model
        if not mask.any():
            return
        self.requests += int(mask.sum())
        self.newest = max(self.newest, float(segment.ts[mask].max()))
        self.models.update(segment.model[mask].tolist())
        self.statuses.extend(segment.status[mask].tolist())
        latency = segment.latency_ms[mask]
        self.latencies_ms.extend(latency[np.isfinite(latency)].tolist())
        ok = mask & (segment.status == 200)
        if segment.block is not None:
            chosen = ok[segment.row_record]
            if chosen.any():
                self.blocks.append(segment.block[chosen])
        if len(segment.outputs):
            chosen = ok[segment.output_record]
            if chosen.any():
                self.output_blocks.append(segment.outputs[chosen])
        for index, decoded in segment.slow.items():
            if not ok[index]:
                continue
            if decoded is None:
                self.undecodable += 1
                continue
            rows, records, outputs = decoded
            self.rows.extend(rows)
            self.records.extend(records)
            self.outputs.extend(outputs)


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


def _whole_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


@dataclass
class _Decoded:
    """What is decoded of one file: its identity, the bytes consumed, the segments."""

    inode: tuple[int, int]
    offset: int = 0
    segments: list[Segment] = field(default_factory=list)


class CaptureCache:
    """Decoded capture files of one or more endpoints, by path, inode and byte offset."""

    def __init__(self) -> None:
        self._files: dict[str, _Decoded] = {}
        self._lock = threading.Lock()
        self.bytes_decoded = 0

    def read(
        self,
        directory: Path,
        since: float,
        until: float | None = None,
        max_bytes: int = MAX_BYTES,
        model: str | None = None,
    ) -> Window:
        """The window of ``directory`` from ``since`` to ``until``, decoding only new bytes."""
        until = time.time() if until is None else until
        window = Window(since, until, model)
        prefix = str(directory) + os.sep
        with self._lock:
            listed = _files(directory, since)
            keep = {str(p) for _, p in listed}
            for key in [k for k in self._files if k.startswith(prefix) and k not in keep]:
                del self._files[key]  # deleted, or older than any window asked for now
            left = max_bytes
            for _, path in listed:
                decoded = self._update(path, left)
                if decoded is None:
                    continue
                left -= decoded.offset
                for segment in decoded.segments:
                    window.undecodable += segment.undecodable_lines
                    window.add(segment)
                if left <= 0:
                    break
        return window

    def keep_only(self, directories: list[Path]) -> None:
        """Forget the files of every directory but ``directories`` (endpoints deleted)."""
        prefixes = tuple(str(d) + os.sep for d in directories)
        with self._lock:
            for key in [k for k in self._files if not k.startswith(prefixes)]:
                del self._files[key]

    def _update(self, path: Path, budget: int) -> _Decoded | None:
        fd = _open_regular(path)
        if fd is None:
            self._files.pop(str(path), None)
            return None
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            inode = (info.st_dev, info.st_ino)
            entry = self._files.get(str(path))
            if entry is None or entry.inode != inode or info.st_size < entry.offset:
                entry = _Decoded(inode)
                self._files[str(path)] = entry
            if info.st_size == entry.offset:
                return entry
            fh.seek(entry.offset)
            data = fh.read(max(budget - entry.offset, 0))
        end = data.rfind(b"\n") + 1
        if end < len(data) and _whole_record(data[end:]):
            end = len(data)
        if end:
            entry.segments.append(decode_lines(data[:end].splitlines()))
            entry.offset += end
            self.bytes_decoded += end
        return entry


def read_window(
    directory: Path,
    since: float,
    until: float | None = None,
    max_bytes: int = MAX_BYTES,
    model: str | None = None,
    cache: CaptureCache | None = None,
) -> Window:
    """The captured requests of ``directory`` with a timestamp in ``[since, until]`` (served
    by ``model``, ``name:version``, when given); ``cache`` keeps what was decoded."""
    return (cache or CaptureCache()).read(directory, since, until, max_bytes, model)


__all__ = [
    "BASELINE_MARK",
    "CaptureCache",
    "Window",
    "newest_capture",
    "outputs_of",
    "read_window",
]
