"""Request capture on disk: replicas append JSONL files; the platform bounds their total size."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def bound_directory(directory: Path, max_bytes: int) -> int:
    """Delete the oldest capture files until the directory holds at most ``max_bytes``.

    Returns the bytes removed. Files a replica still appends to are removed too
    (the replica rotates to a new file within a few MB).
    """
    try:
        files = sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    except FileNotFoundError:
        return 0
    sizes = {f: f.stat().st_size for f in files}
    total = sum(sizes.values())
    removed = 0
    for file in files:
        if total <= max_bytes:
            break
        file.unlink(missing_ok=True)
        total -= sizes[file]
        removed += sizes[file]
    return removed


def read_records(directory: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Captured records, oldest file first (a torn last line is skipped)."""
    count = 0
    for file in sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime):
        with open(file, "rb") as fh:
            for line in fh:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
                count += 1
                if limit is not None and count >= limit:
                    return
