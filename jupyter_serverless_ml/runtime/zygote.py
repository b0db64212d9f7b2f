"""The serving zygote: ``python -m jsml_runtime.zygote FD [MODULE ...]``.

One per serving environment. It imports the model libraries once, then forks a
replica (or batch worker) per request of the platform, so a cold start costs a
fork and a model load rather than an interpreter start and imports. Commands
arrive as JSON datagrams on the inherited socket FD; a spawn command carries
the new process's socket as an SCM_RIGHTS file descriptor. The zygote exits
when the platform closes its socket; replicas exit when the zygote does.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import random
import signal
import socket
import sys
import time
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def preload(modules: list[str]) -> dict[str, Any]:
    """Import modules; the answer lists the ones that failed."""
    started = time.perf_counter()
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional library: the replica's load will say more
            failed[name] = f"{type(exc).__name__}: {exc}"
    return {"ok": True, "seconds": time.perf_counter() - started, "failed": failed}


def _child(control: socket.socket, fd: int, spec: dict[str, Any]) -> None:
    control.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _die_with_parent()
    random.seed()
    sock = socket.socket(fileno=fd)
    code = 0
    try:
        from . import replica

        replica.serve(spec, sock)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(args[0]))
    _die_with_parent()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    hello = preload(args[1:])
    hello["pid"] = os.getpid()
    control.send(json.dumps(hello).encode())
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 4)
        except OSError:
            return 0
        if not message:
            return 0  # the platform went away
        command = json.loads(message)
        if command.get("op") == "preload":
            reply = preload(list(command.get("modules") or []))
        elif command.get("op") == "spawn" and fds:
            pid = os.fork()
            if pid == 0:
                _child(control, fds[0], command["spec"])
            for fd in fds:
                os.close(fd)
            reply = {"ok": True, "pid": pid}
        else:
            for fd in fds:
                os.close(fd)
            reply = {"ok": False, "error": f"unknown command {command.get('op')!r}"}
        control.send(json.dumps(reply).encode())


if __name__ == "__main__":
    sys.exit(main())
