"""Isolated job environments built with uv from a bundle's pinned requirements.

Environments live in ``$JSML_HOME/envs/<key>``, keyed by the hash of the Python
version and the requirements, so a second job with the same requirements reuses
the first one's environment. Building takes a file lock per key; a finished
environment has a ``.complete`` marker.
"""

from __future__ import annotations

import fcntl
import hashlib
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class EnvironmentBuildFailed(RuntimeError):
    """uv could not build the environment; the message holds uv's output."""


def env_key(requirements: list[str], python_version: str | None = None) -> str:
    """The cache key of an environment."""
    text = (python_version or platform.python_version()) + "\n" + "\n".join(sorted(requirements))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def uv_binary() -> str:
    """The uv executable (the ``uv`` package's, else one on PATH)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise EnvironmentBuildFailed(
                "--env isolated needs uv: pip install uv (it is a dependency of jupyter-serverless-ml)"
            ) from None
        return found


def ensure(
    root: Path,
    requirements: list[str],
    base_python: str,
    log: Callable[[str], None] = print,
    uv: str | None = None,
) -> tuple[Path, float, bool]:
    """The interpreter of the environment for ``requirements``; built if missing.

    Returns (python path, seconds spent, whether it was a cache hit).
    """
    started = time.monotonic()
    key = env_key(requirements)
    env_dir = root / key
    python = env_dir / "bin" / "python"
    root.mkdir(parents=True, exist_ok=True)
    if (env_dir / ".complete").exists():
        return python, time.monotonic() - started, True
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (env_dir / ".complete").exists():
            return python, time.monotonic() - started, True
        shutil.rmtree(env_dir, ignore_errors=True)
        uv = uv or uv_binary()
        log(f"building isolated environment {key} ({len(requirements)} requirements) with uv")
        _run([uv, "venv", "--quiet", "--python", base_python, str(env_dir)])
        req_file = env_dir / "requirements.txt"
        req_file.write_text("".join(r + "\n" for r in requirements))
        install = [
            uv,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(python),
            "-r",
            str(req_file),
        ]
        try:
            _run([*install, "--offline"])
        except EnvironmentBuildFailed:
            log("not all requirements are in uv's cache; downloading")
            _run(install)
        (env_dir / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    return python, time.monotonic() - started, False


def _run(command: list[str]) -> None:
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise EnvironmentBuildFailed(
            f"{' '.join(command[:3])} failed: {(done.stderr or done.stdout).strip()[-2000:]}"
        )
