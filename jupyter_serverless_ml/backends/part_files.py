"""Batch outputs written by the cloud backends in the layout the local platform uses:
``part-NNNNN.<format>`` files in input order (CSV, JSON Lines or Parquet)."""

from __future__ import annotations

import io
from typing import Any


def part_name(index: int, fmt: str) -> str:
    """The file name of part ``index`` in format ``fmt``."""
    return f"part-{index:05d}.{fmt}"


def encode_part(frame: Any, fmt: str) -> bytes:
    """A DataFrame as the bytes of one part file (``csv``, ``jsonl``, else Parquet)."""
    buffer = io.BytesIO()
    if fmt == "csv":
        buffer.write(frame.to_csv(index=False).encode())
    elif fmt == "jsonl":
        buffer.write(frame.to_json(orient="records", lines=True).encode())
    else:
        frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
