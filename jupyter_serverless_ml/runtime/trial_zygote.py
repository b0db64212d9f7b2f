"""The trial zygote: ``python -m jsml_runtime.trial_zygote FD``, one per tuning study.

It runs where a job runs (the study's sandbox), imports the runtime and the modules
the bundle's cell imports once, then forks one process per trial, so a trial costs
a fork rather than an interpreter start, imports and a sandbox. Commands arrive as
JSON datagrams on the inherited SEQPACKET socket FD:

- ``{"op": "run", "id", "env", "cwd", "memory", "go"}`` with the trial's log file and
  then its control groups' files (opened for writing by the host) as SCM_RIGHTS
  descriptors: fork a trial (its stdout and stderr go to the log, its environment is
  exactly ``env``, ``memory`` bytes of address space at most). The trial moves itself into
  its groups first (see :func:`_join`). The answer ``{"op": "started", "id", "pid",
  "joined"}`` carries a pidfd of the trial, so the host knows its pid outside this PID
  namespace. A trial that joined its groups starts at once when the command said ``go``;
  else it waits for ``go``.
- ``{"op": "go", "id"}``: the host has placed the trial in its control groups; it runs
  the bundle with :func:`jsml_runtime.runner.main`.
- ``{"op": "spare"}``: fork a child ahead and park it (one at most): the answer
  ``{"op": "spare", "pid"}`` carries its pidfd (a spare parked before is killed: the host
  asks only when it has none). A ``run`` with ``"spare": true`` hands the trial to the
  parked child (the command and the descriptors over a private socket; it joins the
  groups and says so), so the fork is off the trial's path. The ``started`` answer says
  ``"spare": true`` when the spare took it (else the trial was forked as above: no spare
  was parked, or it had died).

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
import select
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from . import runner

MAX_FDS = 8  # a trial's log and its control groups' files
REAP_SECONDS = 0.1


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
        self.children: dict[int, str] = {}  # pid -> trial id ("" for the parked spare)
        self.gates: dict[str, int] = {}
        self.spare: tuple[int, int, socket.socket] | None = None  # pid, gate, orders

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """One datagram to the host."""
        socket.send_fds(self.control, [json.dumps(message).encode()], fds or [])

    def run(self) -> int:
        """Serve until the host closes the socket."""
        signal.signal(signal.SIGCHLD, lambda *_: self.reap())
        while True:
            try:
                if not select.select([self.control], [], [], REAP_SECONDS)[0]:
                    self.reap()  # SIGCHLD reaps at once; this is the safety net
                    continue
                message, fds, _, _ = socket.recv_fds(self.control, 1 << 20, MAX_FDS)
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
                self.spawn(command, fds)  # its descriptors are the trial's now
                continue
            if command.get("op") == "spare":
                self.park()
            elif command.get("op") == "go":
                gate = self.gates.pop(str(command.get("id")), None)
                if gate is not None:
                    with contextlib.suppress(OSError):
                        os.write(gate, b"g")
                    os.close(gate)
            for fd in fds:
                os.close(fd)

    def park(self) -> None:
        """Fork the spare: it waits for its orders (a ``run`` command and the log). The host
        asks only when it has none: one still parked here was given up on."""
        if self.spare is not None:
            pid = self.spare[0]
            self._drop_spare()
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        gate_r, gate_w = os.pipe()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            os.close(gate_w)
            mine.close()
            self._parked(theirs, gate_r)
        os.close(gate_r)
        theirs.close()
        self.spare = (pid, gate_w, mine)
        self.children[pid] = ""
        self._announce({"op": "spare", "pid": pid}, pid)

    def _announce(self, message: dict[str, Any], pid: int) -> None:
        pidfds: list[int] = []
        with contextlib.suppress(OSError, AttributeError):
            pidfds.append(os.pidfd_open(pid))
        self.send(message, pidfds)
        for fd in pidfds:
            os.close(fd)

    def _drop_spare(self) -> None:
        if self.spare is not None:
            _, gate, orders = self.spare
            self.spare = None
            with contextlib.suppress(OSError):
                os.close(gate)
            orders.close()

    def _hand_to_spare(self, command: dict[str, Any], fds: list[int]) -> bool:
        """Give the trial to the parked spare; False when there is none (or it is gone)."""
        if self.spare is None:
            return False
        pid, gate, orders = self.spare
        self.spare = None
        try:
            socket.send_fds(orders, [json.dumps(command).encode()], fds)
            joined = orders.recv(1) == b"j"
        except OSError:  # it died: reaped as a spare, the trial is forked instead
            with contextlib.suppress(OSError):
                os.close(gate)
            orders.close()
            return False
        orders.close()
        for fd in fds:
            os.close(fd)
        self._started(command, pid, gate, joined, spare=True)
        return True

    def _started(
        self, command: dict[str, Any], pid: int, gate: int, joined: bool, spare: bool
    ) -> None:
        trial_id = str(command["id"])
        self.children[pid] = trial_id
        if joined and command.get("go"):
            with contextlib.suppress(OSError):
                os.write(gate, b"g")
            os.close(gate)
        else:
            self.gates[trial_id] = gate
        message = {"op": "started", "id": trial_id, "pid": pid, "joined": joined}
        self._announce({**message, "spare": True} if spare else message, pid)

    def spawn(self, command: dict[str, Any], fds: list[int]) -> None:
        """Start one trial (``fds``: its log, then its control groups' files): the parked
        spare where asked (see :meth:`park`), else a fork. It joins its groups and, where
        it did and the command says ``go``, starts at once; else it waits for ``go``."""
        if command.get("spare") and self._hand_to_spare(command, fds):
            return
        gate_r, gate_w = os.pipe()
        said_r, said_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(gate_w)
            os.close(said_r)
            joined = _join(fds[1:])
            os.write(said_w, b"j" if joined else b"x")
            os.close(said_w)
            self._trial(command, fds[0], gate_r)
        os.close(gate_r)
        os.close(said_w)
        for fd in fds:
            os.close(fd)
        try:
            joined = os.read(said_r, 1) == b"j"  # EOF: it died first
        finally:
            os.close(said_r)
        self._started(command, pid, gate_w, joined, spare=False)

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
            if trial_id == "":  # the parked spare died unused
                if self.spare is not None and self.spare[0] == pid:
                    self._drop_spare()
                continue
            if trial_id is not None:
                gate = self.gates.pop(trial_id, None)
                if gate is not None:
                    os.close(gate)
                with contextlib.suppress(OSError):
                    self.send({"op": "exited", "id": trial_id, "status": status})

    def _parked(self, orders: socket.socket, gate: int) -> None:
        """The spare's life until its orders come (then :meth:`_trial`); never returns."""
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.control.close()
            for other in self.gates.values():  # a trial's gate is its own (EOF: host gone)
                os.close(other)
            self.gates = {}
            data, fds, _, _ = socket.recv_fds(orders, 1 << 20, MAX_FDS)
            if not data or not fds:  # the zygote went away
                os._exit(1)
            command = dict(json.loads(data))
            orders.send(b"j" if _join(fds[1:]) else b"x")
            orders.close()
        except BaseException:
            os._exit(1)
        self._trial(command, fds[0], gate)

    def _trial(self, command: dict[str, Any], log_fd: int, gate: int) -> None:
        code = 1
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.control.close()
            for other in self.gates.values():
                os.close(other)
            if self.spare is not None:  # the spare's gate and orders are not this trial's
                os.close(self.spare[1])
                self.spare[2].close()
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


def _join(fds: list[int]) -> bool:
    """Move this (single-threaded) process into a trial's control groups: "0" written to
    each group's file the host opened for it (cgroup v1 ``tasks``: the caller's own thread,
    which the kernel moves without the global lock a move of another process takes and
    every fork and exit on the machine waits for); closes them. True when every move took."""
    joined = True
    for fd in fds:
        try:
            os.write(fd, b"0")
        except OSError:
            joined = False
        finally:
            os.close(fd)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Entry point: preload, say ready, serve."""
    fd = int((argv or sys.argv[1:])[0])
    control = socket.socket(fileno=fd)
    zygote = TrialZygote(control)
    zygote.send(preload(runner.code_dir()))
    return zygote.run()


if __name__ == "__main__":
    sys.exit(main())
