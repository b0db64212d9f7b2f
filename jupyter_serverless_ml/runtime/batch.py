"""Batch prediction inside a worker forked from the serving zygote.

Two operations, each answered with a JSON reply: ``plan`` lists the input files
and cuts them into shards of at most ``chunk_rows`` rows; ``shard`` predicts
one shard and writes its part file atomically (a temporary name, then a
rename), so a part file that exists is complete. A worker keeps the file it
read last in memory, so consecutive shards of one file read it once.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from . import csv_input
from .batch_io import DataError, ParquetCursor, Source, count_rows, read_rows, write_part
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


def handle(
    op: int, request: dict[str, Any], predictor: Predictor, fds: list[int] | None = None
) -> dict[str, Any]:
    """Answer one batch frame (2: plan, 3: shard). ``fds``: the descriptors the platform
    sent with it (input files, a part file), closed once answered."""
    try:
        if op == 2:
            return plan(request, predictor, fds or [])
        return run_shard(request, predictor, fds or [])
    finally:
        for fd in fds or []:
            with contextlib.suppress(OSError):
                os.close(fd)


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


def plan(
    request: dict[str, Any], predictor: Predictor | None = None, fds: list[int] | None = None
) -> dict[str, Any]:
    """The input files and the shards cut from them, in input order.

    The files are ``request["files"]`` (``{"path", "format"}`` each, listed by the
    platform, read through ``fds`` in the same order when it sent them), else those of
    ``request["input"]``. With a predictor (and unless ``costs`` is false), also times
    reading the first file and predicting a sample of it, so the caller can tell
    whether more workers (each reading the file again) would pay off.
    """
    chunk = int(request["chunk_rows"])
    if request.get("files") is not None:
        listed = [(str(f["path"]), str(f["format"])) for f in request["files"]]
    else:
        listed = input_files(request["input"], request.get("input_format"))
    descriptors = list(fds or [])
    if descriptors and len(descriptors) != len(listed):
        raise DataError(f"{len(listed)} input files listed but {len(descriptors)} opened")
    files: list[dict[str, Any]] = []
    sources: list[Source] = []
    shards: list[dict[str, Any]] = []
    for number, (path, kind) in enumerate(listed):
        source = Source(path, descriptors[number] if descriptors else None)
        try:
            header = kind == "csv" and csv_input.has_header(
                source.readable(), request.get("csv_header") or "auto"
            )
        except csv_input.CsvHeaderError as exc:
            raise InputError(str(exc)) from None
        rows = count_rows(source, kind, header)
        st = source.stat()
        files.append(
            {
                "path": path,
                "format": kind,
                "rows": rows,
                "size": st.st_size,
                **({"header": header} if kind == "csv" else {}),
                "mtime": st.st_mtime,
            }
        )
        sources.append(source)
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
    if predictor is not None and files and request.get("costs", True):
        reply.update(_costs(files[0], sources[0], predictor, chunk))
    return reply


# what decoding a file again costs another worker: its size at this rate, plus a fork
REREAD_BYTES_PER_SECOND = 400e6
REREAD_FIXED_SECONDS = 0.03


def _costs(
    first: dict[str, Any], source: Source, predictor: Predictor, chunk_rows: int
) -> dict[str, Any]:
    """What another worker would spend reading the first file again, and an estimate of
    predicting all of it (timed on a sample of its first shard, which stays cached)."""
    if not first["rows"]:
        return {}
    head = min(first["rows"], int(chunk_rows))
    frame, _ = read_rows(
        source, first["format"], predictor.columns, 0, head, bool(first.get("header", True))
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


def run_shard(
    request: dict[str, Any], predictor: Predictor, fds: list[int] | None = None
) -> dict[str, Any]:
    """Predict one shard and write its part file; the reply counts rows in and out.

    ``request["input_fd"]`` and ``request["output_fd"]`` index ``fds`` where the platform
    sent the input file (read-only) and the part file (write-only, empty) as descriptors;
    without them the shard's file is read and ``request["output"]`` written by path.
    """
    import numpy as np

    started = time.perf_counter()
    shard = request["shard"]
    skip = request.get("on_error") == "skip"
    start, stop = shard["start"], shard["stop"]
    parquet_all = request.get("include_input") and shard["format"] == "parquet"
    wanted = None if parquet_all else predictor.columns
    fds = fds or []
    input_fd, output_fd = request.get("input_fd"), request.get("output_fd")
    source = Source(shard["file"], fds[input_fd] if input_fd is not None else None)
    frame, read_errors = read_rows(
        source, shard["format"], wanted, start, stop, bool(shard.get("header", True))
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
    target = fds[output_fd] if output_fd is not None else str(request["output"])
    size = write_part(out, request["format"], target)
    return {
        "ok": True,
        "rows_in": stop - start,
        "rows_out": len(out),
        "rows_failed": len(errors),
        "errors": [f"row {start + k + 1}: {v}" for k, v in sorted(errors.items())[:5]],
        "bytes": size,
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


__all__ = [
    "DataError",
    "InputError",
    "ParquetCursor",
    "count_rows",
    "handle",
    "input_files",
    "plan",
    "read_rows",
    "run_shard",
]
