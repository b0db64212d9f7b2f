"""The serving sandbox: zygotes (and so every replica and batch worker) under bubblewrap.

Loading a model runs code (a pickle's ``__setstate__``, a class's ``predict``),
so serving processes get what a training job gets: the file system read-only,
``$JSML_HOME`` and the credential stores masked, a private ``/tmp``, no
network, their own PID namespace, every capability dropped and a clean
environment (no platform token, no cloud credentials, no ``JSML_*`` settings).
What a zygote must see is bound back: the registered models and the runtime
(read-only), the capture directory (read-write), the interpreter, and for a
batch job its input (read-only) and output (read-write). Sockets to the router
are passed as file descriptors. The zygote is sandboxed once; replicas are
forks of it and inherit the sandbox, so a cold start still costs a fork.

Built on the job sandbox's public helpers (:func:`probe`, :func:`masked_paths`,
:func:`interpreter_paths`, and ``hardening_args`` where it exists).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..jobs import sandbox as job_sandbox

#: Environment variables a serving process keeps (by exact name or prefix); all else is dropped.
KEPT_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")
KEPT_PREFIXES = ("LC_", "OMP_", "OPENBLAS_", "MKL_", "NUMEXPR_")
_BASE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]


@dataclass(frozen=True)
class Isolation:
    """Whether serving processes run sandboxed here, and a sentence saying how (or why not)."""

    sandboxed: bool
    description: str


@functools.lru_cache(maxsize=1)
def isolation() -> Isolation:
    """Probe once per process whether zygotes can start under bubblewrap."""
    support = job_sandbox.probe()
    if support.available:
        return Isolation(
            True,
            "replicas run in a bubblewrap sandbox (model read-only, no network, "
            "platform home and credentials masked, clean environment, no capabilities)",
        )
    return Isolation(
        False,
        f"replicas run WITHOUT a sandbox ({support.reason}): a model's code can read "
        "what the platform can; install bubblewrap to isolate them",
    )


def hardening() -> list[str]:
    """The job sandbox's hardening flags (capabilities, user namespace) or a capability drop."""
    harden = getattr(job_sandbox, "hardening_args", None)
    if callable(harden):
        return list(harden())
    return [
        "--cap-drop",
        "ALL",
        "--new-session",
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
    ]


def clean_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a serving process gets: locale, path and thread settings only."""
    source = os.environ if base is None else base
    env = {
        key: value
        for key, value in source.items()
        if key in KEPT_ENV or key.startswith(KEPT_PREFIXES)
    }
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(HOME="/tmp", TMPDIR="/tmp", PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def zygote_command(
    command: Sequence[str],
    *,
    home: Path,
    python: str,
    runtime: Path,
    readable: Sequence[Path] = (),
    writable: Sequence[Path] = (),
) -> list[str]:
    """Wrap a zygote's ``command`` in bwrap for the platform at ``home``.

    ``readable`` and ``writable`` are extra host paths the zygote needs (a batch
    job's input and output); they are bound at the same place.
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    models = home / "artifacts" / "models"
    capture = home / "capture"
    for directory in (models, capture):
        directory.mkdir(parents=True, exist_ok=True)
    args = [bwrap, *_BASE]
    hidden = [Path("/tmp")]
    for path in job_sandbox.masked_paths(home):
        if path.is_dir():
            args += ["--tmpfs", str(path)]
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
        hidden.append(path)
    seen: set[Path] = set()
    needed = [
        *job_sandbox.interpreter_paths(python),
        Path(python).parent,
        runtime,
        models,
        *readable,
    ]
    for path in needed:
        resolved = path.resolve()
        if resolved in seen or not resolved.exists():
            continue
        seen.add(resolved)
        if job_sandbox.under(resolved, hidden) or resolved == models.resolve():
            args += ["--ro-bind", str(resolved), str(resolved)]
    for path in [capture, *writable]:
        resolved = path.resolve()
        args += ["--bind", str(resolved), str(resolved)]
    args += ["--unshare-net", *hardening(), "--chdir", "/tmp", "--"]
    return [*args, *command]


__all__ = ["Isolation", "clean_env", "hardening", "isolation", "zygote_command"]
