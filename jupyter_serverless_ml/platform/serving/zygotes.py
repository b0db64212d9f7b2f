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
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

from ..._version import __version__
from ...errors import BackendError
from ...runtime import RUNTIME_DIR, confine
from ..jobs import procs
from . import sandbox

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
Paths: TypeAlias = Sequence[Path | str]
Key = tuple[str, tuple[str, ...], tuple[str, ...]]


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


def settle_none(future: asyncio.Future[None]) -> None:
    """Resolve ``future`` unless it is done."""
    if not future.done():
        future.set_result(None)


async def _recv_fds(sock: socket.socket) -> tuple[bytes, list[int]]:
    """One datagram and the file descriptors it carries, from a non-blocking socket."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 4)
            return message, fds
        except BlockingIOError:
            readable: asyncio.Future[None] = loop.create_future()
            loop.add_reader(sock.fileno(), settle_none, readable)
            try:
                await readable
            finally:
                loop.remove_reader(sock.fileno())


def host_pid(pidfd: int) -> int | None:
    """The pid (in the platform's PID namespace) of the process a pidfd refers to."""
    try:
        with open(f"/proc/self/fdinfo/{pidfd}") as fh:
            for line in fh:
                if line.startswith("Pid:"):
                    pid = int(line.split()[1])
                    return pid if pid > 0 else None
    except (OSError, ValueError, IndexError):
        return None
    return None


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
        """Send one command and wait for its answer (file descriptors it carries are in
        ``"fds"``; the caller closes them)."""
        async with self.lock:
            socket.send_fds(self.sock, [json.dumps(command).encode()], fds or [])
            reply, received = await asyncio.wait_for(_recv_fds(self.sock), timeout)
        if not reply:
            for fd in received:
                os.close(fd)
            raise BackendError(f"the serving zygote for {self.python} exited; {self.log_tail()}")
        answer = dict(json.loads(reply))
        answer["fds"] = received
        return answer

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
        self.zygotes: dict[Key, Zygote] = {}
        self._starting: dict[Key, asyncio.Lock] = {}
        self._runtime: Path | None = None
        self.isolation = sandbox.isolation()
        #: sandboxed zygotes confine writes with Landlock (see ``runtime/confine.py``);
        #: ``JSML_SERVING_LANDLOCK=off`` turns that off (batches then get zygotes of their own)
        self.confined = (
            self.isolation.sandboxed
            and os.environ.get("JSML_SERVING_LANDLOCK", "auto").lower() != "off"
            and confine.abi_version() > 0
        )

    @property
    def shares_descriptors(self) -> bool:
        """Whether a process forked from a shared zygote may be handed descriptors of host
        files (no sandbox to escape, or one whose writes Landlock confines)."""
        return not self.isolation.sandboxed or self.confined

    def key(self, python: str, readable: Paths = (), writable: Paths = ()) -> Key:
        """Which zygote serves ``python`` with these extra paths (one per python unsandboxed)."""
        if not self.isolation.sandboxed:
            return (python, (), ())
        return (python, tuple(sorted(map(str, readable))), tuple(sorted(map(str, writable))))

    async def get(
        self, python: str, modules: list[str], readable: Paths = (), writable: Paths = ()
    ) -> Zygote:
        """The live zygote of ``python`` with ``modules`` imported (started if needed); in
        the sandbox it also sees ``readable`` (read-only) and ``writable`` host paths."""
        key = self.key(python, readable, writable)
        lock = self._starting.setdefault(key, asyncio.Lock())
        async with lock:
            zygote = self.zygotes.get(key)
            if zygote is None or not zygote.alive:
                if zygote is not None:
                    zygote.close()
                zygote = await self._start(key, modules)
                self.zygotes[key] = zygote
        missing = [m for m in modules if m not in zygote.modules]
        if missing:
            await zygote.command({"op": "preload", "modules": missing})
            zygote.modules.update(missing)
        return zygote

    def release(self, python: str, readable: Paths = (), writable: Paths = ()) -> None:
        """Stop the zygote kept for these extra paths (a finished batch job's)."""
        key = self.key(python, readable, writable)
        if key[1] or key[2]:
            zygote = self.zygotes.pop(key, None)
            self._starting.pop(key, None)
            if zygote is not None:
                zygote.close()

    async def _start(self, key: Key, modules: list[str]) -> Zygote:
        python, readable, writable = key
        if not Path(python).exists():
            raise BackendError(
                f"the model's Python {python} no longer exists; retrain the model or "
                "deploy it from this kernel's variable"
            )
        if self._runtime is None:
            self._runtime = install_runtime(self.home)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        command = [python, "-m", "jsml_runtime.zygote", str(theirs.fileno())]
        if self.confined:
            allowed = ["/tmp", "/dev", str((self.home / "capture").resolve())]
            flags = [arg for path in allowed for arg in ("--write", path)]
            command = [python, "-m", "jsml_runtime.confine", *flags, "--", str(theirs.fileno())]
        if self.isolation.sandboxed:
            env = sandbox.clean_env()
            command = sandbox.zygote_command(
                command,
                home=self.home,
                python=python,
                runtime=self._runtime,
                readable=[Path(p) for p in readable],
                writable=[Path(p) for p in writable],
            )
        else:
            env = dict(os.environ)
            env.pop("PYTHONHOME", None)
        env["PYTHONPATH"] = str(self._runtime)
        for name in _SINGLE_THREAD:
            env.setdefault(name, "1")
        label = f"{abs(hash(key)) & 0xFFFFFFFF:08x}"
        log_path = self.dir / f"zygote-{label}.log"
        wanted = [*BASE_MODULES, *modules]
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [*command, *wanted],
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
        log.info(
            "zygote pid %d for %s ready in %.2fs (%s)",
            proc.pid,
            python,
            info["seconds"],
            "sandboxed" if self.isolation.sandboxed else "not sandboxed",
        )
        return zygote

    async def fork(
        self,
        python: str,
        modules: list[str],
        spec: dict[str, Any],
        readable: Paths = (),
        writable: Paths = (),
    ) -> tuple[int, socket.socket]:
        """Fork a process running ``spec``; returns its pid (as the platform sees it: the
        zygote may live in its own PID namespace) and the router's socket to it."""
        zygote = await self.get(python, modules, readable, writable)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = await zygote.command({"op": "spawn", "spec": spec}, [theirs.fileno()])
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        pid = int(reply.get("pid") or 0)
        for fd in reply.get("fds") or []:
            pid = host_pid(fd) or (0 if self.isolation.sandboxed else pid)
            os.close(fd)
        if not reply.get("ok"):
            ours.close()
            raise BackendError(f"the zygote could not fork: {reply.get('error')}")
        ours.setblocking(False)
        return pid, ours

    def close(self) -> None:
        for zygote in self.zygotes.values():
            zygote.close()
        self.zygotes.clear()
