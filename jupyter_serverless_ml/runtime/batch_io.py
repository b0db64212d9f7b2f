"""Reading a batch's input and writing its part files, through paths or file descriptors.

In the shared, sandboxed zygote a batch worker sees neither its input's nor its
output's directory: the platform opens each input file read-only and each
shard's part file write-only and passes the descriptors with the request. A
:class:`Source` is a file's path (for messages and cache keys) and, when the
platform passed one, its descriptor; every reader goes through the descriptor
when there is one, from the file's start, and leaves it open. Direct calls (and
workers whose zygote sees the input) read by path.
"""

from __future__ import annotations

import bisect
import io
import json
import mmap
import os
from dataclasses import dataclass
from typing import IO, Any

from . import csv_input

_cache: dict[Any, Any] = {}


class DataError(ValueError):
    """Bad input data (not retryable): the message names the file and row."""


@dataclass(frozen=True)
class Source:
    """One input file: its path and, when the platform opened it, its descriptor."""

    path: str
    fd: int | None = None

    def binary(self) -> IO[bytes]:
        """The file from its start, as a binary file object (closing it keeps the fd open)."""
        if self.fd is None:
            return open(self.path, "rb")
        os.lseek(self.fd, 0, os.SEEK_SET)
        return open(self.fd, "rb", closefd=False)

    def readable(self) -> str | int:
        """What :mod:`csv_input` opens: the path, or the descriptor rewound to the start."""
        if self.fd is None:
            return self.path
        os.lseek(self.fd, 0, os.SEEK_SET)
        return self.fd

    def identity(self) -> tuple[Any, ...]:
        """A cache key that changes when the file does (another file behind the same fd
        number, or the same path rewritten)."""
        if self.fd is None:
            return (self.path,)
        st = os.fstat(self.fd)
        return (self.path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def stat(self) -> os.stat_result:
        return os.stat(self.path) if self.fd is None else os.fstat(self.fd)


def count_rows(source: Source | str, kind: str, header: bool = True) -> int:
    """Rows in a file (Parquet from its metadata; CSV and JSONL by counting lines; a CSV's
    header line, when it has one, is not a row)."""
    source = source if isinstance(source, Source) else Source(source)
    if kind == "parquet":
        import pyarrow.parquet as pq

        with source.binary() as fh:
            return int(pq.ParquetFile(fh).metadata.num_rows)
    lines = 0
    last = b"\n"
    with source.binary() as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    if kind == "csv" and header:
        lines -= 1
    return max(0, lines)


class ParquetCursor:
    """Row ranges of one Parquet file, decoded a batch at a time (memory stays near one shard).

    Consecutive ranges continue where the last one stopped; a range behind the cursor, or
    in a later row group, starts again at the row group that holds its first row. A
    descriptor is memory-mapped (no copy); a path is opened with a memory map.
    """

    def __init__(self, path: str, columns: list[str] | None, fd: int | None = None) -> None:
        import pyarrow
        import pyarrow.parquet as pq

        # zygotes run with OMP_NUM_THREADS=1 (right for serving), which pyarrow also
        # takes as its pool size; decoding wants every core
        pyarrow.set_cpu_count(os.cpu_count() or 1)
        self.path = path
        if fd is None:
            self.file = pq.ParquetFile(path, memory_map=True)
        else:
            try:
                self.map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except ValueError:
                raise DataError(f"{path} is empty, not a Parquet file") from None
            self.file = pq.ParquetFile(pyarrow.BufferReader(pyarrow.py_buffer(self.map)))
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
    path: str | Source,
    kind: str,
    columns: list[str] | None,
    start: int,
    stop: int,
    header: bool = True,
) -> tuple[Any, dict[int, str]]:
    """Rows ``[start, stop)`` of a file as a DataFrame, and the unparsable ones among them
    (by index within the range). A worker keeps the file it read last open. A headerless
    CSV's columns are named by the model's features when their number matches."""
    source = path if isinstance(path, Source) else Source(path)
    if kind == "parquet":
        key = ("cursor", source.identity(), tuple(columns) if columns else None)
        cursor = _cache.get(key)
        if cursor is None:
            _cache.clear()
            cursor = _cache[key] = ParquetCursor(source.path, columns, source.fd)
        return cursor.read(start, stop), {}
    data, bad = _load(source, kind, columns, header)
    frame = data.iloc[start:stop].reset_index(drop=True)
    return frame, {k - start: v for k, v in bad.items() if start <= k < stop}


def _load(
    source: Source, kind: str, columns: list[str] | None, header: bool = True
) -> tuple[Any, dict[int, str]]:
    """A whole CSV or JSONL file (cached) and the rows that could not be parsed, by index."""
    key = (kind, header, source.identity())
    if key in _cache:
        return _cache[key]  # type: ignore[no-any-return,unused-ignore]
    _cache.clear()
    import pandas as pd

    bad: dict[int, str] = {}
    if kind == "csv":
        try:
            with source.binary() as fh:
                data = pd.read_csv(fh, header=0 if header else None)
        except pd.errors.ParserError:
            data, bad = csv_input.read_csv_rows(source.readable(), header)
        if not header:
            names = list(columns) if columns and len(columns) == data.shape[1] else None
            data.columns = names or [str(i) for i in range(data.shape[1])]
    else:
        records: list[dict[str, Any]] = []
        with source.binary() as fh:
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


def write_part(out: Any, kind: str, target: str | int) -> int:
    """Write a part file; returns its size. ``target``: a descriptor the platform created
    (written from its start, left open), or a path (written to a temporary name, then
    renamed, so a part file that exists is complete)."""
    if isinstance(target, int):
        with open(target, "wb", closefd=False) as fh:
            _write(out, kind, fh)
        return os.fstat(target).st_size
    temporary = f"{os.path.dirname(target)}/.{os.path.basename(target)}.tmp{os.getpid()}"
    with open(temporary, "wb") as fh:
        _write(out, kind, fh)
    os.replace(temporary, target)
    return os.path.getsize(target)


def _write(out: Any, kind: str, fh: IO[bytes]) -> None:
    if kind == "parquet":
        out.to_parquet(fh, index=False)
        return
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    if kind == "csv":
        out.to_csv(text, index=False)
    else:
        out.to_json(text, orient="records", lines=True)
    text.flush()
    text.detach()


__all__ = ["DataError", "ParquetCursor", "Source", "count_rows", "read_rows", "write_part"]
