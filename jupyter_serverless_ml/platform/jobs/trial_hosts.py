"""The daemon's side of trial hosts: where a tuning study's trial jobs are sent to run.

A job whose spec names a ``trial_host`` (a folder under ``$JSML_HOME/tuning/hosts``)
is not given a supervisor of its own: the job manager queues it in that folder and
makes sure the study's host process (:mod:`.trial_host`) runs; the host forks the
trial from its sandboxed zygote and writes the job's files as a supervisor does. The
host's pid is the job's ``supervisor_pid``, so a host that dies makes its trials lost
exactly as a dead supervisor does. Folder layout::

    host.json     what the host needs to start its zygote (bundle, python, channels, ...)
    host.lock     held (flock) by the running host; host.pid names it
    queue/ID      a trial job to start (its job directory)
    stop/ID       a stop request for a running trial
    close         the study ended: exit once idle
    work/         the sandbox's /opt/ml (the code, the channels, trials/ID for each trial)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import state
from . import procs

HOSTS_DIR = "tuning/hosts"
#: the host's program: ``-m jupyter_serverless_ml.platform.jobs.trial_host`` without running
#: the package's ``__init__`` (it looks the version up among the installed distributions,
#: 60-80 ms of a study's start that the host has no use for; nothing it imports needs it),
#: and the study's zygote started first (:mod:`.trial_boot`), while the host imports
_BOOT = """import sys, types
package = types.ModuleType("jupyter_serverless_ml")
package.__path__ = [sys.argv[1]]
sys.modules["jupyter_serverless_ml"] = package
from pathlib import Path
from jupyter_serverless_ml.platform.jobs import trial_boot
early = trial_boot.start_zygote(Path(sys.argv[2]))
from jupyter_serverless_ml.platform.jobs import trial_host
sys.exit(trial_host.main(sys.argv[2:], early))
"""
_PACKAGE_DIR = str(Path(__file__).resolve().parents[2])
START_TIMEOUT = 30.0
_spawned: dict[int, subprocess.Popen[bytes]] = {}


def host_dir(home: Path, study: str) -> Path:
    """The trial host folder of a study."""
    return home / HOSTS_DIR / study


def _checked(home: Path, raw: str) -> Path:
    folder = Path(raw)
    root = (home / HOSTS_DIR).resolve()
    if folder.resolve().parent != root:
        raise OSError(f"trial_host {raw!r} is not a trial host folder under {root}")
    return folder


def _reap() -> None:
    for pid, proc in list(_spawned.items()):
        if proc.poll() is not None:
            del _spawned[pid]


def live_host(folder: Path) -> tuple[int, str] | None:
    """The running host of ``folder`` (pid, start time), if any."""
    _reap()
    found = state.read_json(folder / "host.pid")
    if not found:
        return None
    pid, start = int(found.get("pid") or 0), str(found.get("start") or "")
    return (pid, start) if procs.is_alive(pid, start) else None


def launch(
    home: Path, job: Mapping[str, Any], spec: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[int, str]:
    """Queue a trial job at its host (started when none runs); returns the host's identity.

    ``spec`` is the job's ``job.json``, written here into the job directory."""
    folder = _checked(home, str(spec["trial_host"]))
    _write_new(Path(str(job["job_dir"])) / "job.json", json.dumps(spec, indent=2, default=str))
    for sub in ("queue", "stop", "work"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if not (folder / "host.json").exists():
        config: dict[str, Any] = {
            key: spec.get(key)
            for key in (
                "home",
                "bundle",
                "python",
                "channels",
                "network",
                "sandbox",
                "sandbox_reason",
                "max_disk",
            )
        }
        config["zygote"] = _zygote_plan(config, folder, env)
        state.write_json(folder / "host.json", config)
    with contextlib.suppress(FileNotFoundError):
        (folder / "close").unlink()
    _write_new(folder / "queue" / str(job["id"]), str(job["job_dir"]))
    found = live_host(folder)
    if found is not None:
        with contextlib.suppress(OSError):
            os.kill(found[0], signal.SIGUSR1)  # look at the queue now
        return found
    proc = procs.spawn_detached(
        [sys.executable, "-S", "-c", _BOOT, _PACKAGE_DIR, str(folder)],
        folder / "host.log",
        folder,
        env,
    )
    _spawned[proc.pid] = proc
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = live_host(folder)
        if found is not None:
            return found
        if proc.poll() is not None:
            # it exited at once: another host holds the lock (one that was closing and
            # took the job after all) and names itself in host.pid, or it failed
            deadline = min(deadline, time.monotonic() + 1.0)
        time.sleep(0.005)
    raise OSError(f"the study's trial host did not start; see {folder / 'host.log'}")


def _zygote_plan(
    config: dict[str, Any], folder: Path, env: Mapping[str, str]
) -> dict[str, Any] | None:
    """The zygote's command for the host to start first (see :mod:`.trial_boot`); None
    when it cannot be made here (the host makes it itself)."""
    from .trial_support import zygote_command

    try:
        argv, zygote_env, code_dir = zygote_command(config, folder, dict(env), "{fd}")
    except Exception:  # the host tries again and reports it in host.log
        return None
    return {"argv": argv, "env": zygote_env, "code_dir": code_dir}


def _write_new(path: Path, text: str) -> None:
    """Write a file atomically (a reader never sees it half written; the host skips the
    dot-named temporary in its queue), mode 0600. No fsync: a trial's job.json and queue entry
    matter only to a host that runs now; the job's row in the store is the record, and an
    entry lost with the machine makes the job lost (its host is gone too)."""
    temporary = path.with_name(f".{path.name}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def request_stop(job: Mapping[str, Any]) -> None:
    """Ask the host to stop one trial (its job's stop)."""
    folder = Path(str(job["spec"]["trial_host"]))
    (folder / "stop").mkdir(parents=True, exist_ok=True)
    (folder / "stop" / str(job["id"])).touch()


def close(folder: Path) -> None:
    """The study ended: its host exits once no trial is queued or running."""
    if folder.is_dir():
        (folder / "close").touch()


def use_hosts() -> bool:
    """Whether studies run their trials on trial hosts (``JSML_TRIAL_ZYGOTE=0``: a
    supervisor and a fresh sandbox per trial, as any job)."""
    return os.environ.get("JSML_TRIAL_ZYGOTE", "1").lower() not in ("0", "off", "false", "no")


__all__ = ["close", "host_dir", "launch", "live_host", "request_stop", "use_hosts"]
