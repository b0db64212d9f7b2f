"""Batch prediction inside a worker forked from the serving zygote.

Two operations, each answered with a JSON reply: ``plan`` lists the input files
and cuts them into shards of at most ``chunk_rows`` rows; ``shard`` predicts
one shard and writes its part file atomically (a temporary name, then a
rename), so a part file that exists is complete. A worker keeps the file it
read last in memory, so consecutive shards of one file read it once.
"""

from __future__ import annotations

import bisect
import json
import os
import time
from pathlib import Path
from typing import Any

from . import csv_input
from .predict import InputError, Predictor

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
EXTENSIONS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}
_cache: dict[str, Any] = {}


class DataError(ValueError):
    """Bad input data (not retryable): the message names the file and row."""


def handle(op: int, request: dict[str, Any], predictor: Predictor) -> dict[str, Any]:
    """Answer one batch frame (2: plan, 3: shard)."""
    if op == 2:
        return plan(request, predictor)
    return run_shard(request, predictor)


# -- planning ------------------------------------------------------------------


def input_files(source: str, forced: str | None = None) -> list[tuple[str, str]]:
    """(path, format) of each input file: the file, or the directory's data files in name order."""
    path = Path(source)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file()
            and not p.name.startswith((".", "_"))
            and (forced or p.suffix.lower() in FORMATS)
        )
        if not files:
            raise DataError(f"{source} holds no .parquet, .csv or .jsonl files")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"input {source} does not exist")
    result = []
    for file in files:
        kind = forced or FORMATS.get(file.suffix.lower())
        if kind is None:
            raise DataError(
                f"cannot tell the format of {file}: name it .parquet, .csv or .jsonl, "
                "or pass --input-format"
            )
        result.append((str(file), kind))
    return result


def count_rows(path: str, kind: str, header: bool = True) -> int:
    """Rows in a file (Parquet from its metadata; CSV and JSONL by counting lines; a CSV's
    header line, when it has one, is not a row)."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    lines = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    if kind == "csv" and header:
        lines -= 1
    return max(0, lines)


def plan(request: dict[str, Any], predictor: Predictor | None = None) -> dict[str, Any]:
    """The input files and the shards cut from them, in input order.

    With a predictor, also times reading the first file and predicting a sample
    of it, so the caller can tell whether more workers (each reading the file
    again) would pay off.
    """
    chunk = int(request["chunk_rows"])
    files: list[dict[str, Any]] = []
    shards: list[dict[str, Any]] = []
    for path, kind in input_files(request["input"], request.get("input_format")):
        try:
            header = kind == "csv" and csv_input.has_header(
                path, request.get("csv_header") or "auto"
            )
        except csv_input.CsvHeaderError as exc:
            raise InputError(str(exc)) from None
        rows = count_rows(path, kind, header)
        files.append(
            {
                "path": path,
                "format": kind,
                "rows": rows,
                "size": os.path.getsize(path),
                **({"header": header} if kind == "csv" else {}),
                "mtime": os.path.getmtime(path),
            }
        )
        for start in range(0, rows, chunk):
            shards.append(
                {
                    "index": len(shards),
                    "file": path,
                    "format": kind,
                    "start": start,
                    "stop": min(rows, start + chunk),
                    **({"header": header} if kind == "csv" else {}),
                }
            )
    reply: dict[str, Any] = {"ok": True, "files": files, "shards": shards}
    if predictor is not None and files:
        reply.update(_costs(files[0], predictor, chunk))
    return reply


# what decoding a file again costs another worker: its size at this rate, plus a fork
REREAD_BYTES_PER_SECOND = 400e6
REREAD_FIXED_SECONDS = 0.03


def _costs(first: dict[str, Any], predictor: Predictor, chunk_rows: int) -> dict[str, Any]:
    """What another worker would spend reading the first file again, and an estimate of
    predicting all of it (timed on a sample of its first shard, which stays cached)."""
    if not first["rows"]:
        return {}
    head = min(first["rows"], int(chunk_rows))
    frame, _ = read_rows(
        first["path"], first["format"], predictor.columns, 0, head, bool(first.get("header", True))
    )
    read = first["size"] / REREAD_BYTES_PER_SECOND + REREAD_FIXED_SECONDS
    small, large = min(first["rows"], 200), min(first["rows"], 2000)
    try:
        inputs, errors = _validate(frame.iloc[:large], predictor)
        if errors or large <= small:
            return {"read_seconds": read}
        predictor.predict(inputs.iloc[:10])  # the first call pays one-time costs
        timings = []
        for rows in (small, large):
            started = time.perf_counter()
            predictor.predict(inputs.iloc[:rows])
            timings.append(time.perf_counter() - started)
    except Exception:  # the shards will report bad data properly
        return {"read_seconds": read}
    per_row = max(0.0, (timings[1] - timings[0]) / (large - small))
    per_call = max(0.0, timings[0] - per_row * small)
    calls = -(-first["rows"] // max(1, int(chunk_rows)))
    return {"read_seconds": read, "predict_seconds": per_row * first["rows"] + per_call * calls}


# -- reading -------------------------------------------------------------------


class ParquetCursor:
    """Row ranges of one Parquet file, decoded a batch at a time (memory stays near one shard).

    Consecutive ranges continue where the last one stopped; a range behind the cursor, or
    in a later row group, starts again at the row group that holds its first row.
    """

    def __init__(self, path: str, columns: list[str] | None) -> None:
        import pyarrow
        import pyarrow.parquet as pq

        # zygotes run with OMP_NUM_THREADS=1 (right for serving), which pyarrow also
        # takes as its pool size; decoding wants every core
        pyarrow.set_cpu_count(os.cpu_count() or 1)
        self.file = pq.ParquetFile(path, memory_map=True)
        names = self.file.schema_arrow.names
        self.columns = [c for c in columns if c in names] if columns else None
        metadata = self.file.metadata
        self.offsets = [0]
        for group in range(metadata.num_row_groups):
            self.offsets.append(self.offsets[-1] + metadata.row_group(group).num_rows)
        self.pos = -1
        self.batches: Any = None
        self.pending: Any = None
        self.last: tuple[int, int, Any] | None = None

    def _group(self, row: int) -> int:
        return max(0, bisect.bisect_right(self.offsets, row) - 1)

    def _seek(self, row: int) -> None:
        group = self._group(row)
        self.batches = self.file.iter_batches(
            batch_size=65536,
            row_groups=list(range(group, len(self.offsets) - 1)),
            columns=self.columns,
            use_threads=True,
        )
        self.pos, self.pending = self.offsets[group], None

    def read(self, start: int, stop: int) -> Any:
        """Rows ``[start, stop)`` as a DataFrame."""
        import pyarrow as pa

        if self.last is not None and self.last[:2] == (start, stop):
            return self.last[2]
        if self.pos < 0 or start < self.pos or self._group(start) > self._group(self.pos):
            self._seek(start)
        pieces = []
        while self.pos < stop:
            batch = self.pending if self.pending is not None else next(self.batches, None)
            if batch is None:
                break
            self.pending = None
            first = self.pos
            if first + batch.num_rows <= start:
                self.pos = first + batch.num_rows
                continue
            low, high = max(0, start - first), min(batch.num_rows, stop - first)
            pieces.append(batch.slice(low, high - low))
            self.pos = first + high
            if high < batch.num_rows:
                self.pending = batch.slice(high)
        rows = sum(piece.num_rows for piece in pieces)
        if rows != stop - start:
            raise DataError(
                f"{self.file.metadata.num_rows} rows in the file, fewer than planned "
                f"(rows {start + 1}-{stop}): did it change during the batch?"
            )
        frame = pa.Table.from_batches(pieces).to_pandas()
        self.last = (start, stop, frame)
        return frame


def read_rows(
    path: str,
    kind: str,
    columns: list[str] | None,
    start: int,
    stop: int,
    header: bool = True,
) -> tuple[Any, dict[int, str]]:
    """Rows ``[start, stop)`` of a file as a DataFrame, and the unparsable ones among them
    (by index within the range). A worker keeps the file it read last open. A headerless
    CSV's columns are named by the model's features when their number matches."""
    if kind == "parquet":
        key = f"cursor:{path}:{columns}"
        cursor = _cache.get(key)
        if cursor is None:
            _cache.clear()
            cursor = _cache[key] = ParquetCursor(path, columns)
        return cursor.read(start, stop), {}
    data, bad = _load(path, kind, columns, header)
    frame = data.iloc[start:stop].reset_index(drop=True)
    return frame, {k - start: v for k, v in bad.items() if start <= k < stop}


def _load(
    path: str, kind: str, columns: list[str] | None, header: bool = True
) -> tuple[Any, dict[int, str]]:
    """A whole CSV or JSONL file (cached) and the rows that could not be parsed, by index."""
    key = f"{kind}:{header}:{path}"
    if key in _cache:
        return _cache[key]  # type: ignore[no-any-return,unused-ignore]
    _cache.clear()
    import pandas as pd

    bad: dict[int, str] = {}
    if kind == "csv":
        try:
            data = pd.read_csv(path, header=0 if header else None)
        except pd.errors.ParserError:
            data, bad = csv_input.read_csv_rows(path, header)
        if not header:
            names = list(columns) if columns and len(columns) == data.shape[1] else None
            data.columns = names or [str(i) for i in range(data.shape[1])]
    else:
        records: list[dict[str, Any]] = []
        with open(path, "rb") as fh:
            for index, line in enumerate(fh):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("not a JSON object")
                except ValueError as exc:
                    bad[len(records)] = f"line {index + 1} is not a JSON object: {exc}"
                    record = {}
                records.append(record)
        data = pd.DataFrame.from_records(records)
    _cache[key] = (data, bad)
    return data, bad


# -- predicting ----------------------------------------------------------------


def _validate(frame: Any, predictor: Predictor) -> tuple[Any, dict[int, str]]:
    """The model's input columns, converted, and per-row errors for values that are not numbers."""
    import pandas as pd

    errors: dict[int, str] = {}
    columns = predictor.columns
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"the input lacks feature column(s) {', '.join(map(repr, missing[:5]))}"
                f"; the model expects {len(columns)} features"
            )
        inputs = frame if list(frame.columns) == columns else frame[columns]
    else:
        inputs = frame
        if predictor.n_features is not None and inputs.shape[1] != predictor.n_features:
            raise DataError(
                f"the input has {inputs.shape[1]} columns; the model expects {predictor.n_features}"
            )
    kinds = [dtype.kind for dtype in inputs.dtypes]
    if all(kind in "biuf" for kind in kinds):
        return inputs, errors
    inputs = inputs.copy()
    for column, kind in zip(inputs.columns, kinds, strict=True):
        if kind in "biuf":
            continue
        converted = pd.to_numeric(inputs[column], errors="coerce")
        bad = (converted.isna() & inputs[column].notna()).to_numpy().nonzero()[0]
        for row in bad[:1000]:
            errors.setdefault(
                int(row), f"feature {column!r} has {inputs[column].iloc[row]!r}, not a number"
            )
        inputs[column] = converted
    return inputs, errors


def _predict_rows(
    predictor: Predictor, inputs: Any, stop_at_first: bool
) -> tuple[Any, dict[int, str]]:
    """Predictions for the rows the model accepts (in order) and the errors of the others.

    The rows the model raises on are isolated by bisection, so a chunk with one
    bad row costs about 2 log2(rows) extra predict calls.
    """
    import numpy as np

    if len(inputs) == 0:
        return None, {}
    try:
        return np.asarray(predictor.predict(inputs)), {}
    except Exception as exc:
        if len(inputs) == 1:
            return None, {0: f"the model raised {type(exc).__name__}: {exc}"}
    half = len(inputs) // 2
    left, left_errors = _predict_rows(predictor, inputs.iloc[:half], stop_at_first)
    if stop_at_first and left_errors:
        return None, left_errors
    right, right_errors = _predict_rows(predictor, inputs.iloc[half:], stop_at_first)
    errors = dict(left_errors)
    errors.update({k + half: v for k, v in right_errors.items()})
    parts = [p for p in (left, right) if p is not None and len(p)]
    return (np.concatenate(parts) if parts else None), errors


def run_shard(request: dict[str, Any], predictor: Predictor) -> dict[str, Any]:
    """Predict one shard and write its part file; the reply counts rows in and out."""
    import numpy as np

    started = time.perf_counter()
    shard = request["shard"]
    skip = request.get("on_error") == "skip"
    start, stop = shard["start"], shard["stop"]
    parquet_all = request.get("include_input") and shard["format"] == "parquet"
    wanted = None if parquet_all else predictor.columns
    frame, read_errors = read_rows(
        shard["file"], shard["format"], wanted, start, stop, bool(shard.get("header", True))
    )
    read_seconds = time.perf_counter() - started
    inputs, errors = _validate(frame, predictor)
    errors.update(read_errors)
    if errors and not skip:
        row = min(errors)
        raise DataError(
            f"row {start + row + 1} of {shard['file']}: {errors[row]} "
            "(--on-error skip writes such rows with an empty prediction and the error)"
        )
    good = np.ones(len(frame), dtype=bool)
    for row in errors:
        good[row] = False
    predictions, model_errors = _predict_rows(predictor, inputs[good], stop_at_first=not skip)
    if model_errors:
        positions = good.nonzero()[0]
        mapped = {int(positions[k]): v for k, v in model_errors.items()}
        if not skip:
            row = min(mapped)
            raise DataError(f"row {start + row + 1} of {shard['file']}: {mapped[row]}")
        errors.update(mapped)
        for row in mapped:
            good[row] = False
    out = _output_frame(frame, predictor, predictions, good, errors, request)
    path = Path(request["output"])
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    kind = request["format"]
    if kind == "parquet":
        out.to_parquet(temporary, index=False)
    elif kind == "csv":
        out.to_csv(temporary, index=False)
    else:
        out.to_json(temporary, orient="records", lines=True)
    os.replace(temporary, path)
    return {
        "ok": True,
        "rows_in": stop - start,
        "rows_out": len(out),
        "rows_failed": len(errors),
        "errors": [f"row {start + k + 1}: {v}" for k, v in sorted(errors.items())[:5]],
        "bytes": path.stat().st_size,
        "seconds": time.perf_counter() - started,
        "read_seconds": read_seconds,
    }


def _output_frame(
    frame: Any,
    predictor: Predictor,
    predictions: Any,
    good: Any,
    errors: dict[int, str],
    request: dict[str, Any],
) -> Any:
    import numpy as np
    import pandas as pd

    rows = len(frame)
    out = frame.copy() if request.get("include_input") else pd.DataFrame(index=range(rows))
    values = np.asarray(predictions) if predictions is not None else np.empty((0,))
    shape: tuple[int, ...] = values.shape
    if values.ndim == 2 and shape[1] > 1:
        classes = getattr(predictor.model, "classes_", range(shape[1]))
        for position, label in enumerate(classes):
            column = np.full(rows, np.nan)
            column[good] = values[:, position]
            out[f"proba_{label}"] = column
    else:
        flat = values.reshape(-1)
        if good.all():
            out["prediction"] = flat
        else:
            column = pd.Series([None] * rows, dtype=object)
            column[good] = list(flat)
            out["prediction"] = column
    if request.get("on_error") == "skip":
        out["error"] = [errors.get(i) for i in range(rows)]
    return out


__all__ = ["DataError", "InputError", "handle", "plan", "run_shard"]
