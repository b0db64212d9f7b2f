"""Reading files a job controls, safely: no links followed, no blocking, sizes capped.

A job writes its ``/opt/ml`` (``JOBDIR/ml`` on the host), so anything there may
be a symbolic link to a host secret, a FIFO that blocks ``open()`` for good, a
device, or a sparse file of a terabyte. The supervisor and the daemon read job
files only through this module: every path component below a trusted root is
opened with ``O_NOFOLLOW`` (a directory with ``O_DIRECTORY`` too), the file with
``O_NONBLOCK`` as well, and it must be a regular file (``fstat``); reads are
capped. A model directory is copied file by file the same way, and a link or a
special file in it is an :class:`UnsafeJobFile` with a reason the user can act on.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20


class UnsafeJobFile(Exception):
    """A job file that is a link, a special file, or too large; the message says which."""


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _open_parent(root: Path, rel: str) -> tuple[int, str]:
    """Open the directory holding ``rel`` below ``root`` without following links."""
    parts = [p for p in Path(rel).parts if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"not a relative path below the job directory: {rel!r}")
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (40, 20):  # ELOOP, ENOTDIR: a link or a file where a dir is
                    raise UnsafeJobFile(
                        f"{rel}: {part!r} is not a plain directory (a link or a file); not read"
                    ) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def _open_file(root: Path, rel: str) -> int:
    parent, name = _open_parent(root, rel)
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the last component is a symbolic link
            raise UnsafeJobFile(
                f"{rel} is a symbolic link; the platform does not follow it"
            ) from None
        raise
    finally:
        os.close(parent)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UnsafeJobFile(f"{rel} is {_kind(mode)}, not a regular file; not read")
    return fd


def read_bytes(root: Path, rel: str, limit: int, offset: int = 0) -> bytes | None:
    """At most ``limit`` bytes of ``root/rel`` from ``offset``; None when it does not exist."""
    try:
        fd = _open_file(root, rel)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if offset:
            fh.seek(offset)
        return fh.read(limit)


def read_text(root: Path, rel: str, limit: int = 64 * 1024) -> str | None:
    """The start of a text file (``limit`` bytes at most); None when it does not exist."""
    data = read_bytes(root, rel, limit)
    return None if data is None else data.decode(errors="replace")


def read_json(root: Path, rel: str, limit: int = 1 << 20) -> dict[str, Any] | None:
    """A JSON object file; None when missing, torn, too large, a link or a special file."""
    try:
        data = read_bytes(root, rel, limit + 1)
    except (OSError, UnsafeJobFile):
        return None
    if data is None or len(data) > limit:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def copy_tree(source: Path, target: Path, max_bytes: int, what: str = "model directory") -> int:
    """Copy a job's directory tree of plain files; returns the bytes copied.

    Raises :class:`UnsafeJobFile` for a symbolic link, a special file, or more
    than ``max_bytes`` in all (``target`` may then hold a partial copy: the
    caller removes it).
    """
    try:
        fd = os.open(source, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (40, 20):
            raise UnsafeJobFile(f"the job's {what} is a link or a file, not a directory") from None
        raise
    total = [0]
    try:
        _copy_dir(fd, target, "", max_bytes, total, what)
    finally:
        os.close(fd)
    return total[0]


def _copy_dir(fd: int, target: Path, rel: str, cap: int, total: list[int], what: str) -> None:
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in sorted(os.listdir(fd)):
        shown = f"{rel}{name}"
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            try:
                _copy_dir(child, target / name, f"{shown}/", cap, total, what)
            finally:
                os.close(child)
            continue
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeJobFile(
                f"the job's {what} holds {_kind(info.st_mode)} ({shown}); a model must be "
                "plain files and directories: save copies of the files instead of links "
                "(shutil.copy, not os.symlink)"
            )
        src = os.open(name, _FILE_FLAGS, dir_fd=fd)
        try:
            if not stat.S_ISREG(os.fstat(src).st_mode):
                raise UnsafeJobFile(f"the job's {what} changed while it was copied ({shown})")
            _copy_file(src, target / name, shown, cap, total, what)
        finally:
            os.close(src)


def _copy_file(src: int, dest: Path, shown: str, cap: int, total: list[int], what: str) -> None:
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        while chunk := os.read(src, _CHUNK):
            total[0] += len(chunk)
            if total[0] > cap:
                raise UnsafeJobFile(
                    f"the job's {what} holds more than {cap} bytes (at {shown}); the platform "
                    "copies at most --max-disk of a job's output: raise --max-disk"
                )
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
    finally:
        os.close(out)


def remove_tree(path: Path) -> None:
    """Remove a tree the job may have filled with links (never follows them)."""
    import shutil

    with contextlib.suppress(FileNotFoundError):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)


__all__ = ["UnsafeJobFile", "copy_tree", "read_bytes", "read_json", "read_text", "remove_tree"]
