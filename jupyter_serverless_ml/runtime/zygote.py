"""The serving zygote: ``python -m jsml_runtime.zygote FD [MODULE ...]``.

One per serving environment. It imports the model libraries once, then forks a
replica (or batch worker) per request of the platform, so a cold start costs a
fork and a model load rather than an interpreter start and imports. Commands
arrive as JSON datagrams on the inherited socket FD; a spawn command carries
the new process's socket as an SCM_RIGHTS file descriptor, and the answer
carries a pidfd of the child, so the platform knows its pid even when the
zygote runs in its own PID namespace (a sandbox). The zygote exits when the
platform closes its socket; replicas exit when the zygote does.

A spawn whose spec says ``"template": true`` forks a *template* instead
(:mod:`.template`): a child that loads one model and then runs this same command
loop on its own SEQPACKET socket, so the model's replicas are forks of a process
that already holds the model (a cold start costs a fork, not a load), sharing its
pages copy-on-write.

A template keeps one child forked ahead of need, *parked* (as Android's zygote
keeps unspecialized app processes): it waits on a private socket, shares every page
with the template, and costs its page tables. A spawn hands it the spec and the
router's socket, so the fork (copying the page tables of a process that holds a
large model: tens of milliseconds) is off the cold start's path; the template forks
the next spare once it has had no command for ``SPARE_AFTER_SECONDS``, so that fork
does not compete with the new replica's first requests. A spare that exits while parked is replaced
on the next spawn, which then forks as before; so does a spawn whose spare does not
say it took the socket (it died on the way): the template waits for that word before
it answers, so a replica is never lost to a spare that was dying.

The zygote reaps its children. It keeps a copy of each child's socket and
reads the child's stdout and stderr through a pipe (forwarding them to its own
log); when a child exits, it writes an exit report on the child's socket before
closing its copy: a READY frame ``{"ok": false, "exited": true, "error": ...}``
with the exit status and the last lines the child printed (a template's report
is the same JSON as a datagram on its command socket). So the router
learns why a replica died (a load that raised, ``os._exit`` in predict, a
signal) in order, just before the socket closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import random
import selectors
import signal
import socket
import sys
import time
from collections import deque
from typing import Any

from . import frames

_PR_SET_PDEATHSIG = 1
#: how long a template stays quiet before it forks its next parked spare
SPARE_AFTER_SECONDS = 0.25
#: how long a spawn waits for the parked spare to take its socket before it forks instead
UNPARK_SECONDS = 1.0
_TAIL_BYTES = 4096


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def preload(modules: list[str]) -> dict[str, Any]:
    """Import modules; the answer lists the ones that failed. What they created is then
    frozen out of the garbage collector (``gc.freeze()``): a fork's collections never
    touch those objects, so their pages stay shared with the zygote."""
    started = time.perf_counter()
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional library: the replica's load will say more
            failed[name] = f"{type(exc).__name__}: {exc}"
    gc.collect()
    gc.freeze()
    return {"ok": True, "seconds": time.perf_counter() - started, "failed": failed}


class Child:
    """A forked child as the zygote sees it: its socket copy and its output pipe."""

    def __init__(self, pid: int, sock_fd: int, out_fd: int, template: bool = False) -> None:
        self.pid = pid
        self.sock_fd = sock_fd
        self.out_fd = out_fd
        self.template = template
        self.tail: deque[bytes] = deque()
        self.tail_bytes = 0

    def keep(self, data: bytes) -> None:
        """Remember the end of what the child printed."""
        self.tail.append(data)
        self.tail_bytes += len(data)
        while self.tail_bytes - len(self.tail[0]) >= _TAIL_BYTES:
            self.tail_bytes -= len(self.tail.popleft())

    def reason(self, status: int) -> str:
        """Why the child exited: its status and its last lines of output."""
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f"signal {number}"
            how = f"was killed by {name}" + (
                " (out of memory?)" if number == signal.SIGKILL else ""
            )
        else:
            how = f"exited with status {os.WEXITSTATUS(status)}"
        text = b"".join(self.tail).decode(errors="replace")
        lines = [line for line in text.strip().splitlines() if line.strip()][-6:]
        if not lines:
            return f"the process {how}"
        last = " | ".join(line.strip() for line in lines)
        return f"the process {how}; its last output: {last[-600:]}"


class Zygote:
    """The command loop: spawn children, forward their output, report their exits."""

    def __init__(self, control: socket.socket, loaded: Any = None) -> None:
        self.control = control
        #: a template's loaded model (a ``replica.Replica``) that its forks serve
        self.loaded = loaded
        self.children: dict[int, Child] = {}
        self.by_out: dict[int, Child] = {}
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(control, selectors.EVENT_READ, "control")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        #: a template's parked child: (pid, the socket it waits on)
        self.spare: tuple[int, socket.socket] | None = None

    def run(self) -> int:
        """Serve commands until the platform closes the control socket."""
        if self.loaded is not None:
            self.prefork()
        while True:
            # a template forks its next spare once it has been quiet a moment, not while
            # the replica it just started answers its first request
            wait = SPARE_AFTER_SECONDS if self.loaded is not None and self.spare is None else None
            events = self.selector.select(wait)
            if not events and self.loaded is not None and self.spare is None:
                self.prefork()
            for key, _ in events:
                if key.data == "control":
                    if not self.command():
                        return 0
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        os.read(self.wake_r, 4096)
                    self.reap()
                elif key.fd in self.by_out:  # reap() may have closed it in this round
                    self.drain(self.by_out[key.fd])

    def command(self) -> bool:
        """Answer one command; False when the platform went away."""
        try:
            message, fds, _, _ = socket.recv_fds(self.control, 1 << 20, 4)
        except InterruptedError:
            return True
        except OSError:
            return False
        if not message:
            return False
        command = json.loads(message)
        pidfds: list[int] = []
        if command.get("op") == "preload":
            reply = preload(list(command.get("modules") or []))
        elif command.get("op") == "spawn" and fds:
            reply = self.spawn(fds, command["spec"])
            if reply.get("pidfd"):
                pidfds.append(reply.pop("pidfd"))
        else:
            for fd in fds:
                os.close(fd)
            reply = {"ok": False, "error": f"unknown command {command.get('op')!r}"}
        socket.send_fds(self.control, [json.dumps(reply).encode()], pidfds)
        for fd in pidfds:
            os.close(fd)
        return True

    def prefork(self) -> None:
        """Fork the parked spare (a template's): it waits for a spec and a socket."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            ours.close()
            os.close(out_r)
            self._parked(theirs, out_w)
        theirs.close()
        os.close(out_w)
        os.set_blocking(out_r, False)
        child = Child(pid, -1, out_r)
        self.children[pid] = child
        self.by_out[out_r] = child
        self.selector.register(out_r, selectors.EVENT_READ, "child")
        self.spare = (pid, ours)

    def _unpark(self, fd: int, spec: dict[str, Any]) -> int | None:
        """Give the spare ``spec`` and the router's socket; its pid, or None when it is gone."""
        if self.spare is None or spec.get("template"):
            return None
        pid, ours = self.spare
        self.spare = None
        try:
            socket.send_fds(ours, [json.dumps(spec).encode()], [fd])
            ours.settimeout(UNPARK_SECONDS)
            taken = ours.recv(16) == b"taken"  # empty: it died before it read them
        except OSError:  # it is gone, or did not answer in time
            taken = False
        finally:
            ours.close()
        child = self.children.get(pid)
        if not taken or child is None:
            if child is not None:  # not reaped yet, so the pid is still its own
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)  # never two processes on one socket
            return None
        child.sock_fd = fd
        return pid

    def spawn(self, fds: list[int], spec: dict[str, Any]) -> dict[str, Any]:
        """Fork a child serving ``spec`` on ``fds[0]`` (a template's parked spare serves it
        when there is one)."""
        for extra in fds[1:]:
            os.close(extra)
        pid = self._unpark(fds[0], spec)
        if pid is None:
            out_r, out_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(out_r)
                self._child(fds[0], out_w, spec)
            os.close(out_w)
            os.set_blocking(out_r, False)
            child = Child(pid, fds[0], out_r, template=bool(spec.get("template")))
            self.children[pid] = child
            self.by_out[out_r] = child
            self.selector.register(out_r, selectors.EVENT_READ, "child")
        reply: dict[str, Any] = {"ok": True, "pid": pid}
        with contextlib.suppress(OSError, AttributeError):
            reply["pidfd"] = os.pidfd_open(pid)
        return reply

    def _detach(self, out_w: int) -> None:
        """In a new child: drop the zygote's descriptors, print into ``out_w``."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.selector.close()
        self.control.close()
        for fd_kept in (self.wake_r, self.wake_w):
            os.close(fd_kept)
        if self.spare is not None:
            self.spare[1].close()
        for other in self.children.values():  # another child's socket must close with it
            if other.sock_fd >= 0:  # -1 for a parked spare
                os.close(other.sock_fd)
            if other.out_fd >= 0:  # -1 once its output reached its end
                os.close(other.out_fd)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        _die_with_parent()

    def _parked(self, waiting: socket.socket, out_w: int) -> None:
        """The spare: wait for a spec and the router's socket, then serve as a replica."""
        code = 0
        try:
            self._detach(out_w)
            while True:
                try:
                    message, fds, _, _ = socket.recv_fds(waiting, 1 << 20, 2)
                    break
                except InterruptedError:
                    continue
            if fds:
                waiting.send(b"taken")
            waiting.close()
            if not message or not fds:  # the template closed it: not needed
                os._exit(0)
            random.seed()
            from . import replica

            replica.serve(json.loads(message), socket.socket(fileno=fds[0]), self.loaded)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _child(self, fd: int, out_w: int, spec: dict[str, Any]) -> None:
        code = 0
        try:
            self._detach(out_w)
            random.seed()
            sock = socket.socket(fileno=fd)
            if spec.get("template"):
                from . import template

                template.serve(spec, sock)
            elif spec.get("multi_model"):
                from . import multi_model

                multi_model.serve(spec, sock)
            else:
                from . import replica

                replica.serve(spec, sock, self.loaded)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def drain(self, child: Child) -> bool:
        """Forward what the child printed to the zygote's log; False at end of file."""
        while True:
            try:
                data = os.read(child.out_fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                data = b""
            if not data:
                self.selector.unregister(child.out_fd)
                del self.by_out[child.out_fd]
                os.close(child.out_fd)
                child.out_fd = -1
                return False
            child.keep(data)
            with contextlib.suppress(OSError):
                os.write(2, data)

    def reap(self) -> None:
        """Collect every exited child and send its exit report."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            if self.spare is not None and self.spare[0] == pid:  # died while parked
                self.spare[1].close()
                self.spare = None
            if child.out_fd >= 0:
                self.drain(child)
                if child.out_fd >= 0:  # a grandchild still holds the pipe
                    self.selector.unregister(child.out_fd)
                    del self.by_out[child.out_fd]
                    os.close(child.out_fd)
            report = {"ok": False, "exited": True, "pid": pid, "error": child.reason(status)}
            with contextlib.suppress(OSError):
                os.write(2, f"[zygote] child {pid}: {report['error']}\n".encode())
            if child.sock_fd < 0:  # a spare that never served: nobody to tell
                continue
            sock = socket.socket(fileno=child.sock_fd)
            data = (
                json.dumps(report).encode()
                if child.template
                else frames.json_frame(frames.OP_READY, 0, report)
            )
            with contextlib.suppress(OSError):  # the router may have closed its end
                sock.send(data, socket.MSG_DONTWAIT)
            sock.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(args[0]))
    _die_with_parent()
    hello = preload(args[1:])
    hello["pid"] = os.getpid()
    control.send(json.dumps(hello).encode())
    return Zygote(control).run()


if __name__ == "__main__":
    sys.exit(main())
