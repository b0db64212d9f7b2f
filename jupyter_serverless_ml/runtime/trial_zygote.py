"""The trial zygote: ``python -m jsml_runtime.trial_zygote FD``, one per tuning study.

It runs where a job runs (the study's sandbox), imports the runtime and the modules
the bundle's cell imports once, then forks one process per trial, so a trial costs
a fork rather than an interpreter start, imports and a sandbox. Commands arrive as
JSON datagrams on the inherited SEQPACKET socket FD:

- ``{"op": "run", "id", "env", "cwd", "memory"}`` with the trial's log file as an
  SCM_RIGHTS descriptor: fork a trial (its stdout and stderr go to the log, its
  environment is exactly ``env``, ``memory`` bytes of address space at most). The
  answer ``{"op": "started", "id", "pid"}`` carries a pidfd of the trial, so the
  host knows its pid outside this PID namespace. The trial waits for ``go``.
- ``{"op": "go", "id"}``: the host has placed the trial in its control groups; it runs
  the bundle with :func:`jsml_runtime.runner.main`.

When a trial exits the zygote sends ``{"op": "exited", "id", "status"}`` (the raw
wait status). The zygote exits, killing its trials, when the host closes the socket.
Nothing it says is trusted by the host beyond a trial's own outcome.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import json
import os
import resource
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from . import runner


def cell_imports(code: Path) -> list[str]:
    """Top-level modules the bundle's cell and captured definitions import."""
    try:
        config = json.loads((code / runner.CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return []
    found: list[str] = []
    for key in ("captured_file", "cell_file", "entry_point"):
        name = config.get(key)
        if not name:
            continue
        try:
            tree = ast.parse((code / str(name)).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
    return list(dict.fromkeys(found))


def preload(code: Path) -> dict[str, Any]:
    """Import what every trial will import; a module that fails is the trial's to report."""
    started = time.perf_counter()
    failed = {}
    # cloudpickle: how a trial's model is saved (see flavors.save), else imported per trial
    for name in ["jsml_runtime.runner", "cloudpickle", *cell_imports(code)]:
        try:
            importlib.import_module(name)
        except BaseException as exc:  # the trial will say it again
            failed[name] = f"{type(exc).__name__}: {exc}"
    gc.collect()
    gc.freeze()
    return {"op": "ready", "seconds": time.perf_counter() - started, "failed": failed}


class TrialZygote:
    """The command loop (see the module docstring)."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: dict[int, str] = {}
        self.gates: dict[str, int] = {}

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """One datagram to the host."""
        socket.send_fds(self.control, [json.dumps(message).encode()], fds or [])

    def run(self) -> int:
        """Serve until the host closes the socket."""
        signal.signal(signal.SIGCHLD, lambda *_: self.reap())
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.control, 1 << 20, 2)
            except InterruptedError:
                continue
            except OSError:
                message, fds = b"", []
            if not message:
                for pid in list(self.children):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                return 0
            command = json.loads(message)
            if command.get("op") == "run" and fds:
                self.spawn(command, fds[0])
            elif command.get("op") == "go":
                gate = self.gates.pop(str(command.get("id")), None)
                if gate is not None:
                    with contextlib.suppress(OSError):
                        os.write(gate, b"g")
                    os.close(gate)
            for fd in fds[1:] if command.get("op") == "run" else fds:
                os.close(fd)

    def spawn(self, command: dict[str, Any], log_fd: int) -> None:
        """Fork one trial; it waits on a pipe for ``go``."""
        trial_id = str(command["id"])
        gate_r, gate_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(gate_w)
            self._trial(command, log_fd, gate_r)
        os.close(gate_r)
        os.close(log_fd)
        self.children[pid] = trial_id
        self.gates[trial_id] = gate_w
        pidfds: list[int] = []
        with contextlib.suppress(OSError, AttributeError):
            pidfds.append(os.pidfd_open(pid))
        self.send({"op": "started", "id": trial_id, "pid": pid}, pidfds)
        for fd in pidfds:
            os.close(fd)

    def reap(self) -> None:
        """Collect exited trials and report each."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            trial_id = self.children.pop(pid, None)
            if trial_id is not None:
                gate = self.gates.pop(trial_id, None)
                if gate is not None:
                    os.close(gate)
                with contextlib.suppress(OSError):
                    self.send({"op": "exited", "id": trial_id, "status": status})

    def _trial(self, command: dict[str, Any], log_fd: int, gate: int) -> None:
        code = 1
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.control.close()
            for other in self.gates.values():
                os.close(other)
            os.setpgid(0, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.close(log_fd)
            memory = command.get("memory")
            if memory:
                resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in dict(command["env"]).items()})
            os.chdir(str(command.get("cwd") or "/"))
            if os.read(gate, 1) != b"g":  # the host went away before the trial could start
                os._exit(1)
            os.close(gate)
            sys.argv = ["jsml_runtime.runner"]
            code = runner.main()
        except BaseException:  # a trial always exits here, never returns
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point: preload, say ready, serve."""
    fd = int((argv or sys.argv[1:])[0])
    control = socket.socket(fileno=fd)
    zygote = TrialZygote(control)
    zygote.send(preload(runner.code_dir()))
    return zygote.run()


if __name__ == "__main__":
    sys.exit(main())
