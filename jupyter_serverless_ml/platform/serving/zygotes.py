"""Warm zygote processes, one per serving environment (interpreter).

A zygote imports numpy, pandas and the model's libraries once; every replica
and batch worker is a fork of it, handed its socket to the router over
SCM_RIGHTS. See ``runtime/zygote.py`` for the other side.
"""

from __future__ import annotations

import asyncio
import compileall
import json
import logging
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from ..._version import __version__
from ...errors import BackendError
from ...runtime import RUNTIME_DIR
from ..jobs import procs

log = logging.getLogger("jsml.serving")
# pyarrow is optional (batch prediction of Parquet needs it); a failed import is tolerated
BASE_MODULES = [
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "pyarrow.dataset",  # pyarrow.parquet.read_table imports it on first use: 0.2 s
    "jsml_runtime.replica",
    "jsml_runtime.batch",
    "jsml_runtime.predict",
]
FLAVOR_MODULES = {
    "sklearn": ["joblib", "sklearn"],
    "xgboost": ["xgboost"],
    "lightgbm": ["lightgbm"],
    "pytorch": ["torch"],
    "pickle": [],
    "files": ["joblib"],
}
START_TIMEOUT = 180.0
_SINGLE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def modules_for(model: dict[str, Any]) -> list[str]:
    """What a zygote should import before forking replicas of ``model``."""
    metadata = model.get("metadata") or {}
    modules = list(FLAVOR_MODULES.get(model.get("flavor", ""), []))
    owner = str(metadata.get("class") or "").rpartition(".")[0]
    if owner and owner.split(".")[0] in {m.split(".")[0] for m in modules}:
        modules.append(owner)
    return modules


def install_runtime(home: Path) -> Path:
    """A compiled copy of the runtime as ``jsml_runtime``; returns the directory holding it."""
    root = home / "serving" / f"runtime-{__version__}"
    root / "jsml_runtime"
    stamp = root / "sources.json"
    sources = {p.name: p.stat().st_mtime_ns for p in sorted(RUNTIME_DIR.glob("*.py"))}
    if stamp.exists() and json.loads(stamp.read_text()) == sources:
        return root
    staging = root.with_name(root.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "jsml_runtime").mkdir(parents=True)
    for name in sources:
        shutil.copyfile(RUNTIME_DIR / name, staging / "jsml_runtime" / name)
    compileall.compile_dir(staging / "jsml_runtime", quiet=1)
    (staging / "sources.json").write_text(json.dumps(sources))
    shutil.rmtree(root, ignore_errors=True)
    os.replace(staging, root)
    return root


class Zygote:
    """One running zygote and its command socket."""

    def __init__(
        self, python: str, proc: subprocess.Popen[bytes], sock: socket.socket, log_path: Path
    ) -> None:
        self.python = python
        self.proc = proc
        self.sock = sock
        self.log_path = log_path
        self.modules: set[str] = set()
        self.lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    async def command(
        self, command: dict[str, Any], fds: list[int] | None = None, timeout: float = START_TIMEOUT
    ) -> dict[str, Any]:
        """Send one command and wait for its answer."""
        loop = asyncio.get_running_loop()
        async with self.lock:
            socket.send_fds(self.sock, [json.dumps(command).encode()], fds or [])
            reply = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 20), timeout)
        if not reply:
            raise BackendError(f"the serving zygote for {self.python} exited; {self.log_tail()}")
        return dict(json.loads(reply))

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return f"see {self.log_path}"
        return (
            "its log ends:\n" + "\n".join(text) if text else f"its log ({self.log_path}) is empty"
        )

    def close(self) -> None:
        self.sock.close()
        if self.alive:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class ZygotePool:
    """Starts zygotes on demand and forks processes from them."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = home / "serving"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.zygotes: dict[str, Zygote] = {}
        self._starting: dict[str, asyncio.Lock] = {}
        self._runtime: Path | None = None

    async def get(self, python: str, modules: list[str]) -> Zygote:
        """The live zygote of ``python`` with ``modules`` imported (started if needed)."""
        lock = self._starting.setdefault(python, asyncio.Lock())
        async with lock:
            zygote = self.zygotes.get(python)
            if zygote is None or not zygote.alive:
                if zygote is not None:
                    zygote.close()
                zygote = await self._start(python, modules)
                self.zygotes[python] = zygote
        missing = [m for m in modules if m not in zygote.modules]
        if missing:
            await zygote.command({"op": "preload", "modules": missing})
            zygote.modules.update(missing)
        return zygote

    async def _start(self, python: str, modules: list[str]) -> Zygote:
        if not Path(python).exists():
            raise BackendError(
                f"the model's Python {python} no longer exists; retrain the model or "
                "deploy it from this kernel's variable"
            )
        if self._runtime is None:
            self._runtime = install_runtime(self.home)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        env = dict(os.environ, PYTHONPATH=str(self._runtime))
        env.pop("PYTHONHOME", None)
        for key in _SINGLE_THREAD:
            env.setdefault(key, "1")
        key = f"{abs(hash(python)) & 0xFFFFFFFF:08x}"
        log_path = self.dir / f"zygote-{key}.log"
        wanted = [*BASE_MODULES, *modules]
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [python, "-m", "jsml_runtime.zygote", str(theirs.fileno()), *wanted],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=[theirs.fileno()],
                env=env,
                cwd=str(self.dir),
                preexec_fn=procs.die_with_parent,
            )
        theirs.close()
        zygote = Zygote(python, proc, ours, log_path)
        loop = asyncio.get_running_loop()
        try:
            hello = await asyncio.wait_for(loop.sock_recv(ours, 1 << 20), START_TIMEOUT)
        except asyncio.TimeoutError:
            zygote.close()
            raise BackendError(
                f"the serving zygote for {python} did not start in "
                f"{START_TIMEOUT:.0f}s; {zygote.log_tail()}"
            ) from None
        if not hello:
            zygote.close()
            raise BackendError(
                f"the serving zygote for {python} failed to start; {zygote.log_tail()}"
            )
        info = json.loads(hello)
        zygote.modules.update(m for m in wanted if m not in info.get("failed", {}))
        log.info("zygote pid %d for %s ready in %.2fs", proc.pid, python, info["seconds"])
        return zygote

    async def fork(
        self, python: str, modules: list[str], spec: dict[str, Any]
    ) -> tuple[int, socket.socket]:
        """Fork a process running ``spec``; returns its pid and the router's socket to it."""
        zygote = await self.get(python, modules)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = await zygote.command({"op": "spawn", "spec": spec}, [theirs.fileno()])
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        if not reply.get("ok"):
            ours.close()
            raise BackendError(f"the zygote could not fork: {reply.get('error')}")
        ours.setblocking(False)
        return int(reply["pid"]), ours

    def close(self) -> None:
        for zygote in self.zygotes.values():
            zygote.close()
        self.zygotes.clear()
