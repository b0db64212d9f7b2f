"""Reading CSV input for batch prediction: is the first line a header, and a tolerant reader.

Batch transform sends headerless CSV; a notebook's export has a header. A first
line whose fields are all numbers is data, never a header (``--csv-header auto``);
``yes`` and ``no`` say it outright. Standard library only at import time.
"""

from __future__ import annotations

import contextlib
from typing import Any


class CsvHeaderError(ValueError):
    """An unknown --csv-header mode."""


CSV_HEADER_MODES = ("auto", "yes", "no")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _open_text(path: str | int) -> Any:
    """A text file object for a path, or for a descriptor (left open when closed)."""
    return open(path, newline="", closefd=not isinstance(path, int))


def has_header(path: str | int, mode: str = "auto") -> bool:
    """Whether the CSV file's first line is a header: ``yes``/``no`` as told; ``auto``: a
    first line whose fields are all numbers (or empty) is data, never a header, as batch
    transform reads headerless CSV; anything else is a header."""
    if mode not in CSV_HEADER_MODES:
        raise CsvHeaderError(f"--csv-header {mode!r}: use one of {', '.join(CSV_HEADER_MODES)}")
    if mode != "auto":
        return mode == "yes"
    import csv

    with _open_text(path) as fh:
        first = next(csv.reader(fh), [])
    return not all(_is_number(f) or not f.strip() for f in first)


def read_csv_rows(path: str | int, has_header: bool = True) -> tuple[Any, dict[int, str]]:
    """The rows of a CSV file pandas could not parse, one at a time: lines with the wrong
    number of fields are rows of None, reported by index. ``path`` may be a descriptor
    (read from where it stands, left open)."""
    import csv

    import pandas as pd

    bad: dict[int, str] = {}
    rows: list[list[Any]] = []
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows_before: list[list[Any]] = []
        if not has_header:
            rows_before = [list(header)]
            header = [str(i) for i in range(len(header))]
            rows.extend(rows_before)
        for index, fields in enumerate(reader, start=len(rows_before)):
            row: list[Any] = list(fields)
            if len(row) != len(header):
                bad[index] = (
                    f"line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                )
                row = [None] * len(header)
            rows.append(row)
    frame = pd.DataFrame(rows, columns=header)
    for column in frame.columns:
        with contextlib.suppress(ValueError, TypeError):
            frame[column] = pd.to_numeric(frame[column])
    return frame, bad
