"""How a job process is isolated: a bubblewrap sandbox where ``bwrap`` works, else a plain process.

``JSML_SANDBOX`` selects: ``auto`` (default: bwrap when it works), ``off`` (plain
process), ``require`` (refuse to run jobs without a sandbox).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from ...runtime.contract import ML_ROOT

_BASE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
_ALWAYS = [
    "--cap-drop",
    "ALL",
    "--new-session",
    "--die-with-parent",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
]
_USERNS = ["--unshare-user", "--disable-userns"]


def _userns_works() -> bool:
    """Whether bwrap can put a sandbox in its own user namespace here (probed once)."""
    return _bwrap_accepts((*_ALWAYS, *_USERNS))


@lru_cache(maxsize=8)
def _bwrap_accepts(flags: tuple[str, ...]) -> bool:
    """Whether ``bwrap`` starts ``true`` with these flags added to the base mounts."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    try:
        done = subprocess.run(
            [bwrap, *_BASE, *flags, "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def hardening_args() -> list[str]:
    """The bwrap flags every sandboxed process gets (jobs, replicas, batch workers).

    No capabilities at all (``--cap-drop ALL``: as root, bwrap otherwise keeps
    every one), its own session, PID, IPC, UTS and cgroup namespaces, killed
    with its parent, and where the kernel allows it its own user namespace
    that cannot create further ones (``--unshare-user --disable-userns``).
    Combine with the mounts of the caller; ``--unshare-net`` is the caller's
    choice.
    """
    return [*_ALWAYS, *(_USERNS if _userns_works() else [])]


class SandboxSupport(NamedTuple):
    """Whether jobs run in a sandbox here, and why not when they don't."""

    available: bool
    mode: str
    reason: str


def base_mounts(tmp_size: int | None = None, shm_size: int | None = None) -> list[str]:
    """The read-only root, /dev, /proc and a private /tmp (and /dev/shm), sizes in bytes."""
    if not _bwrap_accepts(("--size", "1048576", "--tmpfs", "/tmp")):
        return list(_BASE)  # bubblewrap before 0.5 has no --size: the limits are polled
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    args += [*(["--size", str(tmp_size)] if tmp_size else []), "--tmpfs", "/tmp"]
    if shm_size:
        args += ["--size", str(shm_size), "--tmpfs", "/dev/shm"]
    return args


def probe() -> SandboxSupport:
    """Check once whether a bwrap sandbox with the flags jobs use starts here."""
    mode = os.environ.get("JSML_SANDBOX", "auto").lower()
    if mode == "off":
        return SandboxSupport(False, mode, "JSML_SANDBOX=off")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxSupport(False, mode, "bwrap (bubblewrap) is not installed")
    try:
        done = subprocess.run(
            [bwrap, *_BASE, *hardening_args(), "--unshare-net", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxSupport(False, mode, f"bwrap does not start: {exc}")
    if done.returncode != 0:
        return SandboxSupport(False, mode, f"bwrap does not start: {done.stderr.decode().strip()}")
    return SandboxSupport(True, mode, "bubblewrap")


CREDENTIALS = (
    ".aws",
    ".ssh",
    ".config/gcloud",
    ".azure",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".yarnrc",
    ".pgpass",
    ".my.cnf",
    ".config/gh",
    ".config/hub",
    ".config/pip",
    ".pip",
    ".condarc",
    ".gnupg",
    ".password-store",
    ".huggingface",
    ".cache/huggingface",
    ".kaggle",
    ".databrickscfg",
    ".databricks",
    ".snowflake",
    ".dbt",
    ".terraform.d",
    ".vault-token",
    ".config/rclone",
    ".s3cfg",
    ".boto",
    ".oci",
    ".wandb",
    ".netrc-wandb",
    ".mlflow",
    ".gitconfig",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".local/share/jupyter/runtime",
    ".ipython",
    ".jupyter",
)


def _jupyter_paths() -> list[Path]:
    """The Jupyter runtime directory (server tokens) and the IPython directory (history)."""
    found = []
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        found.append(Path(jupyter_runtime_dir()))
    except Exception:  # jupyter_core missing or broken: the default is masked anyway
        pass
    for name in ("JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR"):
        if os.environ.get(name):
            found.append(Path(os.environ[name]).expanduser())
    return found


def masked_paths(home: Path, user_home: Path | None = None) -> list[Path]:
    """What a sandboxed process must not read: the platform home (its token) wherever it
    lives, the Jupyter runtime directory (server tokens), IPython's profile and history,
    and the credential stores people keep in their home directory."""
    user_home = user_home or Path.home()
    paths = [home, home.resolve(), *_jupyter_paths()]
    paths += [user_home / name for name in CREDENTIALS]
    unique: list[Path] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def under(path: Path, roots: Iterable[Path]) -> bool:
    """True when ``path`` is one of ``roots`` or inside one of them."""
    return any(path == root or root in path.parents for root in roots)


def bwrap_command(
    command: list[str],
    *,
    ml_dir: Path,
    code_dir: Path,
    channels: dict[str, tuple[Path, str | None]],
    extra_ro: list[Path],
    network: bool,
    masked: Sequence[Path] = (),
    tmp_size: int | None = None,
    shm_size: int | None = None,
) -> list[str]:
    """Wrap ``command`` in bwrap: ``ml_dir`` at /opt/ml, the rest read-only, private /tmp.

    ``channels`` maps a channel name to (host path, file name or None for a
    directory). ``masked`` paths are hidden (an empty directory, or /dev/null for
    a file). ``extra_ro`` are host paths the job needs that a private /tmp or a
    mask would hide (an interpreter or an isolated environment); they are bound
    back read-only. ``tmp_size`` and ``shm_size`` cap the private ``/tmp`` and
    ``/dev/shm`` (bytes; their pages are memory).
    """
    args = ["bwrap", *base_mounts(tmp_size, shm_size)]
    hidden = [Path("/tmp")]
    for path in masked:
        if path.is_dir():
            args += ["--tmpfs", str(path)]
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
        hidden.append(path)
    args += ["--tmpfs", "/opt"]
    opt = Path("/opt")
    for entry in sorted(opt.iterdir()) if opt.is_dir() else []:
        if entry.name != "ml":
            args += ["--ro-bind", str(entry), str(entry)]
    args += ["--bind", str(ml_dir), ML_ROOT, "--ro-bind", str(code_dir), f"{ML_ROOT}/code"]
    for name, (path, file_name) in sorted(channels.items()):
        target = f"{ML_ROOT}/input/data/{name}" + (f"/{file_name}" if file_name else "")
        args += ["--ro-bind", str(path), target]
    seen: set[Path] = set()
    for path in extra_ro:
        resolved = path.resolve()
        if under(resolved, hidden) and resolved not in seen and resolved.exists():
            seen.add(resolved)
            args += ["--ro-bind", str(resolved), str(resolved)]
    args += [*hardening_args(), "--chdir", f"{ML_ROOT}/code"]
    if not network:
        args.append("--unshare-net")
    return [*args, *command]


def interpreter_paths(python: str) -> list[Path]:
    """Directories an interpreter needs visible: its prefix and base prefix."""
    exe = Path(python)
    paths = [exe.parent.parent, exe.resolve().parent.parent]
    if Path(python) == Path(sys.executable):
        paths += [Path(sys.prefix), Path(sys.base_prefix)]
    return paths
