"""The files of a batch job as the daemon handles them for its workers.

Workers never see the batch's directories: the daemon opens each input file
read-only, and for each shard creates a part file under a temporary name in
the output directory (``O_CREAT | O_EXCL | O_NOFOLLOW``, write-only) and hands
the worker only those file descriptors, never a directory's (``..`` would
escape through one). When the worker reports the shard written, the daemon
checks the file (its size as reported, its format's framing, its row count
where that is cheap) and renames it to its part name itself.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

_PAR1 = b"PAR1"


class PartRefused(Exception):
    """A part file the worker wrote does not hold what its reply says."""


def open_input(path: str) -> int:
    """A read-only descriptor of one input file (a regular file; a FIFO or device is
    refused without blocking on it)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


@dataclass
class Part:
    """A part file being written: its temporary and final names, and the daemon's fd."""

    name: str
    temporary: str
    fd: int


class OutputDir:
    """The output directory, held open by the daemon; part files are created in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def sweep(self) -> None:
        """Remove temporary part files a run that stopped midway left behind."""
        for name in os.listdir(self.fd):
            if name.startswith(".part-") and name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=self.fd)

    def create(self, name: str) -> Part:
        """A new, empty, write-only part file under a temporary name."""
        temporary = f".{name}.{secrets.token_hex(4)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        return Part(name, temporary, os.open(temporary, flags, 0o644, dir_fd=self.fd))

    def accept(self, part: Part, kind: str, size: int, rows: int) -> None:
        """Check the written part file and give it its final name; PartRefused if the
        file is not what the worker reported."""
        check = os.open(part.temporary, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            actual = os.fstat(check).st_size
            if actual != size:
                raise PartRefused(f"{part.name} holds {actual} bytes, the worker reported {size}")
            found = _rows(check, kind, actual)
            if found is not None and found != rows:
                raise PartRefused(f"{part.name} holds {found} rows, the worker reported {rows}")
        finally:
            os.close(check)
        os.rename(part.temporary, part.name, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def discard(self, part: Part) -> None:
        """Remove a part file that was not accepted."""
        with contextlib.suppress(OSError):
            os.unlink(part.temporary, dir_fd=self.fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _rows(fd: int, kind: str, size: int) -> int | None:
    """Rows in a part file: Parquet from its footer (None when pyarrow is missing here),
    JSONL by counting lines; None for CSV (a quoted field may hold a line break).
    PartRefused when the framing is wrong."""
    if kind == "parquet":
        if size < 12 or os.pread(fd, 4, 0) != _PAR1 or os.pread(fd, 4, size - 4) != _PAR1:
            raise PartRefused("the part file is not a complete Parquet file")
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return None
        with open(fd, "rb", closefd=False) as fh:
            return int(pq.ParquetFile(fh).metadata.num_rows)
    if kind == "csv":
        return None
    lines, offset, last = 0, 0, b"\n"
    while block := os.pread(fd, 1 << 20, offset):
        lines += block.count(b"\n")
        offset += len(block)
        last = block[-1:]
    if last != b"\n":
        lines += 1
    return lines


__all__ = ["OutputDir", "Part", "PartRefused", "open_input"]
