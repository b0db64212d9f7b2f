"""Control groups for one job: a memory and a process limit the kernel enforces.

cgroup v1 (a hierarchy per controller, ``/sys/fs/cgroup/{memory,pids}``) and v2
(one unified hierarchy, ``/sys/fs/cgroup/cgroup.controllers``) are both
supported; a job's groups live below the supervisor's own, at
``jsml-<hash of $JSML_HOME>/<job id>``, so one platform never touches another's.
Where no group can be created (no permission, no controller) :func:`create`
returns None and the caller accounts memory and processes itself (also when
``JSML_CGROUPS=off``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def group_name(home: Path) -> str:
    """The parent group of a platform's jobs."""
    return "jsml-" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's group path, from /proc/self/cgroup."""
    found: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _field(text: str, key: str) -> int:
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def _parents(home: Path) -> dict[str, Path]:
    """Where this platform's job groups go: per v1 controller, or "" for v2."""
    own = _own_paths()
    name = group_name(home)
    if (ROOT / "cgroup.controllers").is_file():
        return {"": ROOT / own.get("", "/").lstrip("/") / name}
    return {
        c: ROOT / c / own.get(c, "/").lstrip("/") / name
        for c in ("memory", "pids")
        if (ROOT / c / "cgroup.procs").is_file()
    }


class JobGroups:
    """The groups one job runs in (v1: one per controller; v2: one)."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs
        self.v2 = "" in dirs

    def _dir(self, controller: str) -> Path | None:
        return self.dirs.get("") if self.v2 else self.dirs.get(controller)

    @property
    def procs_files(self) -> list[str]:
        """The files a new process writes its PID to, to join every group."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def oom_kills(self) -> int:
        """Processes the kernel killed over the memory limit."""
        d = self._dir("memory")
        if d is None:
            return 0
        return _field(_read(d / ("memory.events" if self.v2 else "memory.oom_control")), "oom_kill")

    def memory_peak(self) -> int | None:
        """The group's peak memory (its processes and their tmpfs pages), when known."""
        d = self._dir("memory")
        if d is None:
            return None
        text = _read(d / ("memory.peak" if self.v2 else "memory.max_usage_in_bytes")).strip()
        if not text.isdigit():
            text = _read(d / ("memory.current" if self.v2 else "memory.usage_in_bytes")).strip()
        return int(text) if text.isdigit() else None

    def fork_refusals(self) -> int:
        """How often a fork failed at the process limit."""
        d = self._dir("pids")
        return _field(_read(d / "pids.events"), "max") if d else 0

    def kill_all(self) -> None:
        """SIGKILL every process still in the groups (a job's leftovers)."""
        for path in self.procs_files:
            for pid in _read(Path(path)).split():
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid), 9)

    def remove(self) -> None:
        """Remove the groups (once their processes are gone)."""
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                d.rmdir()


def create(home: Path, job_id: str, memory: int | None, max_processes: int) -> JobGroups | None:
    """Create the job's groups with its limits; None where the machine does not allow it."""
    if os.environ.get("JSML_CGROUPS", "auto").lower() == "off":
        return None  # polled instead (also how the fallback is tested)
    parents = _parents(home)
    need = {"memory", "pids"}
    if not parents or ("" not in parents and set(parents) != need):
        return None
    made: dict[str, Path] = {}
    try:
        for controller, parent in parents.items():
            parent.mkdir(exist_ok=True)
            if controller == "":
                enabled = _read(parent.parent / "cgroup.subtree_control").split()
                if not need <= set(enabled):
                    _undo(made)
                    return None
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
            target = parent / job_id
            target.mkdir(exist_ok=True)
            made[controller] = target
        groups = JobGroups(made)
        if memory:
            memory_dir = groups._dir("memory")
            assert memory_dir is not None
            if groups.v2:
                (memory_dir / "memory.max").write_text(str(memory))
                with contextlib.suppress(OSError):
                    (memory_dir / "memory.swap.max").write_text("0")
            else:
                (memory_dir / "memory.limit_in_bytes").write_text(str(memory))
                with contextlib.suppress(OSError):
                    (memory_dir / "memory.memsw.limit_in_bytes").write_text(str(memory))
        pids_dir = groups._dir("pids")
        assert pids_dir is not None
        (pids_dir / "pids.max").write_text(str(max_processes))
        return groups
    except OSError:
        _undo(made)
        return None


def _undo(made: dict[str, Path]) -> None:
    JobGroups(made).remove()


def join(procs_files: list[str]) -> None:
    """Move the calling process into the groups (run in the child before exec)."""
    pid = str(os.getpid())
    for path in procs_files:
        with open(path, "w") as fh:
            fh.write(pid)


def remove_stale(home: Path, keep: set[str]) -> list[str]:
    """Remove the empty groups of this platform's jobs not in ``keep``; returns their ids."""
    removed = []
    for parent in _parents(home).values():
        if not parent.is_dir():
            continue
        for child in parent.iterdir():
            if child.is_dir() and child.name not in keep:
                with contextlib.suppress(OSError):
                    child.rmdir()
                    removed.append(child.name)
    return removed
