"""Read an endpoint's captured traffic (times and latencies) for serving-mode advice.

Capture files are written by replicas, which run the model's code, so nothing in
them is trusted: links are not followed, at most ``max_bytes`` are read, and only
a finite ``ts`` and ``latency_ms`` of each line are kept.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

MAX_BYTES = 256 << 20


def _lines(path: Path, budget: int) -> list[bytes]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(budget).splitlines()
    finally:
        os.close(fd)


def read_traffic(directory: Path, max_bytes: int = MAX_BYTES) -> list[tuple[float, float]]:
    """``(time, latency_seconds)`` of each captured request, in time order."""
    try:
        info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode):
            return []
        names = sorted(n for n in os.listdir(directory) if n.endswith(".jsonl"))
    except OSError:
        return []
    out: list[tuple[float, float]] = []
    left = max_bytes
    for name in names:
        if left <= 0:
            break
        lines = _lines(directory / name, left)
        left -= sum(len(line) + 1 for line in lines)
        for line in lines:
            try:
                record = json.loads(line)
                ts = float(record["ts"])
                latency = float(record.get("latency_ms") or 0.0) / 1000
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
            if math.isfinite(ts) and math.isfinite(latency) and latency >= 0:
                out.append((ts, latency))
    out.sort()
    return out


__all__ = ["read_traffic"]
