"""A job's resource limits: memory, processes and disk, and the reason when one is hit.

Memory and processes are enforced by control groups where the machine allows
them (see :mod:`.cgroups`): the kernel counts every page the job uses, its
tmpfs ``/tmp`` and ``/dev/shm`` included, once (not the RSS of each forked
worker again), and refuses forks over the process limit. Elsewhere the
supervisor polls: proportional set size (PSS) of the job's processes plus what
they wrote to the sandbox's tmpfs mounts, and the number of processes. Disk use
(``/opt/ml`` on the host plus the sandbox's ``/tmp``) is polled everywhere.
Each limit that is hit stops the job with a reason that says which limit and
how to raise it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ...options import format_size
from . import cgroups, procs

DEFAULT_MAX_PROCESSES = 4096
DEFAULT_MAX_DISK = 20 * 1024**3
DISK_INTERVAL = 0.5


def tree_bytes(path: Path) -> int:
    """Bytes allocated to the files below ``path`` (links not followed, sparse files as stored)."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                total += info.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return total


def _tmpfs_mounts(pid: int) -> set[str]:
    """The mount points where ``pid`` sees a tmpfs (from ``/proc/<pid>/mounts``)."""
    try:
        with open(f"/proc/{pid}/mounts", encoding="utf-8", errors="replace") as table:
            lines = table.read().splitlines()
    except OSError:
        return set()
    seen: dict[str, str] = {}
    for line in lines:  # the last mount on a point is the one in effect
        fields = line.split()
        if len(fields) >= 3:
            seen[fields[1]] = fields[2]
    return {point for point, kind in seen.items() if kind == "tmpfs"}


def _tmpfs_used(pids: list[int], mounts: tuple[str, ...]) -> int:
    """Bytes in the sandbox's own tmpfs mounts, seen through a job process's root.

    Only a process that sees a tmpfs of its own there counts: one still inside bubblewrap's
    set-up (before its pivot to the new root) sees other file systems at those paths, and
    their usage (the host's disk) is not the job's.
    """
    host = {m: os.stat(m).st_dev for m in mounts if os.path.exists(m)}
    for pid in pids:
        used = 0
        private = False
        tmpfs = _tmpfs_mounts(pid)
        for mount in mounts:
            if mount not in tmpfs:
                continue
            try:
                seen = f"/proc/{pid}/root{mount}"
                if os.stat(seen).st_dev == host.get(mount):
                    continue
                info = os.statvfs(seen)
            except OSError:
                continue
            private = True
            used += (info.f_blocks - info.f_bfree) * info.f_frsize
        if private:
            return used
    return 0


class JobLimits:
    """The limits of one job attempt and how they are watched."""

    def __init__(
        self,
        home: Path,
        job_id: str,
        ml_dir: Path,
        *,
        memory: int | None,
        per_instance: int | None,
        max_processes: int,
        max_disk: int,
    ) -> None:
        self.memory = memory
        self.per_instance = per_instance
        self.max_processes = max_processes
        self.max_disk = max_disk
        self.ml_dir = ml_dir
        self.groups = cgroups.create(home, job_id, memory, max_processes)
        self.peak = 0
        self._next_disk = 0.0
        self._disk = 0

    def describe(self) -> str:
        """One line for the job log: the limits and what enforces them."""
        how = "control groups" if self.groups else "polling (no control groups here)"
        memory = f"memory {format_size(self.memory)}, " if self.memory else ""
        return (
            f"limits: {memory}{self.max_processes} processes, disk {format_size(self.max_disk)} "
            f"(/opt/ml and /tmp); enforced by {how}"
        )

    def preexec(self) -> None:
        """Run in the job's process before exec: join the groups."""
        if self.groups:
            cgroups.join(self.groups.procs_files)

    def _memory_reason(self, used: int | None) -> str:
        reached = f" (reached {format_size(used)})" if used else ""
        return (
            f"exceeded --memory {format_size(self.per_instance or 0)} per instance{reached}, "
            "counting the job's processes and the files it wrote to /tmp and /dev/shm: the job "
            "was killed; raise --memory or process the data in chunks"
        )

    def _process_reason(self, count: int | None = None) -> str:
        seen = f" ({count} running)" if count else ""
        return (
            f"exceeded --max-processes {self.max_processes}{seen}: the job started more "
            "processes or threads than allowed and was killed; raise --max-processes or start "
            "fewer workers"
        )

    def _disk_reason(self) -> str:
        return (
            f"exceeded --max-disk {format_size(self.max_disk)} (the job wrote "
            f"{format_size(self._disk)} to /opt/ml and /tmp): the job was killed; raise "
            "--max-disk or write less (stream the data, keep fewer checkpoints)"
        )

    def check(self, pids: list[int], now: float) -> str | None:
        """A reason when a limit is hit, else None (call it while the job runs)."""
        if self.groups:
            if self.memory and self.groups.oom_kills():
                return self._memory_reason(self.groups.memory_peak())
            if self.groups.fork_refusals():
                return self._process_reason()
        else:
            if len(pids) > self.max_processes:
                return self._process_reason(len(pids))
            if self.memory:
                used = procs.pss_bytes(pids) + _tmpfs_used(pids, ("/tmp", "/dev/shm"))
                self.peak = max(self.peak, used)
                if used > self.memory:
                    return self._memory_reason(used)
        if now >= self._next_disk:
            self._next_disk = now + DISK_INTERVAL
            self._disk = tree_bytes(self.ml_dir) + _tmpfs_used(pids, ("/tmp",))
            if self._disk >= self.max_disk:
                return self._disk_reason()
        return None

    def after_exit(self) -> str | None:
        """The limit that explains a failed exit (an OOM kill, a full disk), if any."""
        if self.groups and self.memory and self.groups.oom_kills():
            return self._memory_reason(self.groups.memory_peak())
        if self.groups and self.groups.fork_refusals():
            return self._process_reason()
        if self._disk >= self.max_disk or tree_bytes(self.ml_dir) >= self.max_disk:
            self._disk = max(self._disk, tree_bytes(self.ml_dir))
            return self._disk_reason()
        return None

    def peak_memory(self) -> int | None:
        """The peak memory seen (from the group where there is one)."""
        if self.groups:
            return self.groups.memory_peak() if self.memory else None
        return self.peak or None

    def close(self) -> None:
        """Remove the groups (after every process of the job has ended)."""
        if self.groups:
            for _ in range(50):
                self.groups.kill_all()
                self.groups.remove()
                if not any(d.exists() for d in self.groups.dirs.values()):
                    return
                time.sleep(0.02)


__all__ = ["DEFAULT_MAX_DISK", "DEFAULT_MAX_PROCESSES", "JobLimits", "tree_bytes"]
