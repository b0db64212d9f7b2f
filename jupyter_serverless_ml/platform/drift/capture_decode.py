"""Decode a run of capture lines in one columnar pass (what a drift check reads).

A capture line is a JSON record whose ``input`` and ``output`` are the request and
response bodies as JSON text, so a naive reader decodes JSON twice per request and
builds a Python float for every value. Here the records are decoded once each
(their bodies are just long strings), and the bodies of the common shape, a JSON
object holding one list of equally wide number rows (``{"instances": [[...], ...]}``,
``inputs``, ``data``, or a bare ``[[...], ...]``), are checked against that shape
and handed together, as CSV text, to pyarrow's CSV reader with every column typed
``float64``: one C++ pass for all of them. Anything else (records, ``dataframe_split``,
CSV or JSON Lines bodies, strings among the numbers, rows of unequal widths) falls
back to the stdlib decoder, record by record, with the same result. Flat lists of
numbers (``{"predictions": [...]}``) take the same path for outputs.

Nothing here trusts the text: a body that only looks like the shape fails the typed
CSV parse and is decoded the slow way; a line that is not a record is counted.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BASELINE_MARK = "jsml-baseline"
_ROWS_BODY = re.compile(
    r'\s*(?:\{\s*"(?:instances|inputs|data)"\s*:\s*\[\s*\[(.*)\]\s*\]\s*\}|\[\s*\[(.*)\]\s*\])\s*',
    re.S,
)
_ROW_BREAK = re.compile(r"\]\s*,\s*\[")
_FLAT_OUTPUT = re.compile(
    r'\s*(?:\{\s*"(?:predictions|outputs)"\s*:\s*\[([^\[\]{}"]*)\]\s*\}|\[([^\[\]{}"]*)\])\s*'
)
_JSON_TYPES = ("application/json", "")


@dataclass
class Segment:
    """The decoded records of one byte range of a capture file (one entry per record)."""

    ts: np.ndarray
    model: np.ndarray
    status: np.ndarray
    latency_ms: np.ndarray
    baseline: np.ndarray
    #: rows of the columnar path: ``block[row_record == i]`` are record i's rows
    block: np.ndarray | None = None
    row_record: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: outputs of the columnar path, likewise by ``output_record``
    outputs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    output_record: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: records decoded one by one: index -> (rows, records, outputs), None when undecodable
    slow: dict[int, tuple[list[Any], list[dict[str, Any]], list[Any]] | None] = field(
        default_factory=dict
    )
    undecodable_lines: int = 0

    def __len__(self) -> int:
        return len(self.ts)


def number(text: str) -> Any:
    """A CSV cell as a float when it reads as one, else the text."""
    try:
        return float(text)
    except ValueError:
        return text


def rows_of(value: Any, rows: list[Any], records: list[dict[str, Any]]) -> bool:
    """Add the rows of a decoded JSON body (the shapes the serving decoder accepts)."""
    if isinstance(value, dict):
        split = value.get("dataframe_split")
        if isinstance(split, dict) and isinstance(split.get("data"), list):
            names = split.get("columns")
            if isinstance(names, list):
                records.extend(
                    dict(zip(map(str, names), r, strict=False))
                    for r in split["data"]
                    if isinstance(r, list)
                )
                return True
        for key in ("instances", "inputs", "dataframe_records", "data"):
            if key in value:
                return rows_of(value[key], rows, records)
        return False
    if not isinstance(value, list) or not value:
        return False
    if all(isinstance(r, dict) for r in value):
        records.extend(value)
    elif all(isinstance(r, list) for r in value):
        rows.extend(value)
    elif all(not isinstance(v, (list, dict)) for v in value):
        rows.append(value)
    else:
        return False
    return True


def decode_input(
    content_type: str, text: str, rows: list[Any], records: list[dict[str, Any]]
) -> bool:
    """Decode one request body into ``rows`` (lists) and ``records`` (dicts)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        found = [r for r in csv.reader(io.StringIO(text)) if r]
        rows.extend([number(v) for v in r] for r in found)
        return bool(found)
    if kind in ("application/jsonlines", "application/jsonl", "application/x-ndjson"):
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(lines) == 1 and isinstance(lines[0], dict):
            return rows_of(lines[0], rows, records)
        return rows_of(lines, rows, records)
    return rows_of(json.loads(text), rows, records)


def outputs_of(text: str) -> list[Any]:
    """The model's outputs in a response body (the last value of each row of scores)."""
    try:
        data = json.loads(text)
    except ValueError:
        return [number(v) for v in text.split()]
    if isinstance(data, dict):
        data = data.get("predictions", data.get("outputs", []))
    if not isinstance(data, list):
        data = [data]
    return [v[-1] if isinstance(v, list) and v else v for v in data]


def _parse_floats(text: str, width: int) -> np.ndarray | None:
    """``width`` float64 columns of CSV ``text`` (pyarrow, one thread), or None if it
    is not exactly that."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = [f"c{i}" for i in range(width)]
    try:
        table = pcsv.read_csv(
            pa.BufferReader(text.encode()),
            read_options=pcsv.ReadOptions(
                column_names=names, use_threads=False, block_size=1 << 24
            ),
            parse_options=pcsv.ParseOptions(quote_char=False, newlines_in_values=False),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.float64()),
                null_values=["null"],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if not table.num_columns:
        return None
    out = np.empty((table.num_rows, width))
    for i, column in enumerate(table.columns):
        out[:, i] = column.to_numpy()
    return out


def _columnar_inputs(texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
    """Rows of the bodies of the common shape: ``(block, rows per body, bodies used)``."""
    parts: list[str] = []
    counts: list[int] = []
    used: list[int] = []
    width = -1
    for i, text in enumerate(texts):
        match = _ROWS_BODY.fullmatch(text)
        if match is None:
            continue
        raw = match.group(1) or match.group(2) or ""
        if "\n" in raw or "\r" in raw:  # rows over several lines: the slow path
            continue
        inner = _ROW_BREAK.sub("\n", raw)
        first = inner.split("\n", 1)[0]
        if not first.strip():
            continue
        this = first.count(",") + 1
        if width < 0:
            width = this
        elif this != width:
            continue
        parts.append(inner)
        counts.append(inner.count("\n") + 1)
        used.append(i)
    if not parts:
        return None
    block = _parse_floats("\n".join(parts), width)
    if block is None or len(block) != sum(counts):
        parsed, counts, used = _one_by_one(parts, counts, used, width)
        if not parsed:
            return None
        block = np.concatenate(parsed)
    return block, np.asarray(counts, dtype=np.int64), used


def _one_by_one(
    parts: list[str], counts: list[int], used: list[int], width: int
) -> tuple[list[np.ndarray], list[int], list[int]]:
    """When the bodies fail together (one is not all numbers), parse each alone."""
    parsed, kept_counts, kept = [], [], []
    for part, count, index in zip(parts, counts, used, strict=True):
        block = _parse_floats(part, width)
        if block is not None and len(block) == count:
            parsed.append(block)
            kept_counts.append(count)
            kept.append(index)
    return parsed, kept_counts, kept


def _columnar_outputs(texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
    """Outputs of the bodies holding a flat list of numbers."""
    parts: list[str] = []
    counts: list[int] = []
    used: list[int] = []
    for i, text in enumerate(texts):
        match = _FLAT_OUTPUT.fullmatch(text)
        if match is None:
            continue
        inner = (match.group(1) or match.group(2) or "").strip()
        if not inner:
            continue
        parts.append(inner.replace(",", "\n"))
        counts.append(inner.count(",") + 1)
        used.append(i)
    if not parts:
        return None
    values = _parse_floats("\n".join(parts), 1)
    if values is None or len(values) != sum(counts):
        parsed, counts, used = _one_by_one(parts, counts, used, 1)
        if not parsed:
            return None
        values = np.concatenate(parsed)
    return values[:, 0], np.asarray(counts, dtype=np.int64), used


_Fields = tuple[float, str, str, int, float, Any, Any]


def _record_fields(line: bytes) -> _Fields | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return _fields_of(record)


def _fields_of(record: Any) -> _Fields | None:
    try:
        ts = float(record["ts"])
        content_type = str(record.get("content_type") or "application/json")
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    if not math.isfinite(ts):
        return None
    status = record.get("status")
    latency = record.get("latency_ms")
    return (
        ts,
        str(record.get("model") or ""),
        content_type,
        status if isinstance(status, int) and not isinstance(status, bool) else 0,
        float(latency) if isinstance(latency, (int, float)) else math.nan,
        record.get("input"),
        record.get("output"),
    )


def decode_lines(lines: list[bytes]) -> Segment:
    """Decode capture lines: each record's fields, then its rows and outputs (200s only)."""
    fields = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        got = _record_fields(line)
        if got is None:
            bad += 1
        else:
            fields.append(got)
    return _decode(fields, bad)


def decode_records(records: list[Any], bad: int = 0) -> Segment:
    """Decode records already parsed (dicts of the capture line's fields: ``ts``, ``model``,
    ``content_type``, ``status``, ``latency_ms``, ``input``, ``output``)."""
    fields = []
    for record in records:
        got = _fields_of(record)
        if got is None:
            bad += 1
        else:
            fields.append(got)
    return _decode(fields, bad)


def _decode(fields: list[_Fields], bad: int) -> Segment:
    n = len(fields)
    segment = Segment(
        ts=np.fromiter((f[0] for f in fields), float, n),
        model=np.array([f[1] for f in fields], dtype=object),
        status=np.fromiter((f[3] for f in fields), np.int64, n),
        latency_ms=np.fromiter((f[4] for f in fields), float, n),
        baseline=np.fromiter((BASELINE_MARK in f[2] for f in fields), bool, n),
        undecodable_lines=bad,
    )
    wanted = [i for i, f in enumerate(fields) if f[3] == 200 and not segment.baseline[i]]
    fast = [i for i in wanted if fields[i][2].split(";")[0].strip().lower() in _JSON_TYPES]
    inputs = _columnar_inputs([str(fields[i][5] or "") for i in fast])
    done: set[int] = set()
    if inputs is not None:
        block, counts, used = inputs
        records = np.asarray([fast[j] for j in used], dtype=np.int64)
        segment.block, segment.row_record = block, np.repeat(records, counts)
        done = set(records.tolist())
        outputs = _columnar_outputs([str(fields[i][6] or "") for i in records.tolist()])
        out_done: set[int] = set()
        if outputs is not None:
            values, out_counts, out_used = outputs
            out_records = records[out_used]
            segment.outputs, segment.output_record = values, np.repeat(out_records, out_counts)
            out_done = set(out_records.tolist())
        for i in done - out_done:  # rows decoded fast, outputs of another shape
            segment.slow[i] = ([], [], outputs_of(str(fields[i][6] or "")))
    for i in wanted:
        if i not in done:
            segment.slow[i] = _slow(fields[i][2], fields[i][5], fields[i][6])
    return segment


def _slow(
    content_type: str, body: Any, output: Any
) -> tuple[list[Any], list[dict[str, Any]], list[Any]] | None:
    rows: list[Any] = []
    records: list[dict[str, Any]] = []
    try:
        if not decode_input(content_type, str(body or ""), rows, records):
            return None
        return rows, records, outputs_of(str(output or ""))
    except (ValueError, TypeError, RecursionError):
        return None


__all__ = [
    "BASELINE_MARK",
    "Segment",
    "decode_input",
    "decode_lines",
    "decode_records",
    "number",
    "outputs_of",
    "rows_of",
]
