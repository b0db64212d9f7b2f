"""Process helpers on Linux's /proc: identity across PID reuse, trees, memory, signals."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
PR_SET_PDEATHSIG = 1


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces: split after the last ')'
    return raw[raw.rfind(")") + 2 :].split()


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (with the PID, an identity)."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def is_alive(pid: int | None, started: str | None = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, if given, started at ``started``."""
    if not pid:
        return False
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return started is None or fields[19] == started


def children_map() -> dict[int, list[int]]:
    """Parent PID -> child PIDs for every process visible in /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _children(pid: int) -> list[int] | None:
    """Direct children from /proc/PID/task/*/children; None where the kernel lacks the file."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as fh:
                found += [int(c) for c in fh.read().split()]
        except FileNotFoundError:
            return None
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every descendant of ``pid`` (not ``pid`` itself)."""
    direct = _children(pid)
    tree = children_map() if direct is None else None
    found: list[int] = []
    stack = list(direct if direct is not None else (tree or {}).get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        more = _children(child) if tree is None else tree.get(child, [])
        stack.extend(more or [])
    return found


def rss_bytes(pids: Iterable[int]) -> int:
    """Total resident memory of ``pids``."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def pss_bytes(pids: Iterable[int]) -> int:
    """Total proportional set size of ``pids``: shared pages counted once, not per process."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            total += rss_bytes([pid])
    return total


def signal_all(pids: Iterable[int], sig: int) -> None:
    """Send ``sig`` to each PID, ignoring ones that are gone."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            continue


def die_with_parent() -> None:
    """``preexec_fn``: have the kernel SIGKILL this child when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn_detached(
    argv: list[str], log_path: Path, cwd: Path, env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Start a background process the way every platform process starts.

    It gets its own session (a terminal's or a kernel's signals do not reach it),
    no stdin, and stdout/stderr appended to ``log_path``; it never holds the
    caller's output open.
    """
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=str(cwd),
            env=dict(env),
        )
