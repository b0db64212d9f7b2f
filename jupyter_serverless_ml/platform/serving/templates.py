"""Model templates: one loaded copy of each served model that its replicas fork from.

With ``--keep-warm`` (the default) every variant of an endpoint gets a template:
a process forked from its environment's zygote, inside the same sandbox, that
loaded (and probed) the model once. Its replicas are forks of it, so a cold
start (from zero, or a replacement) costs a fork rather than a model load, and
the replicas share the model's pages copy-on-write. The template stays while the
variant exists, also at zero replicas: that is its memory cost (its PSS, shown
by ``%endpoint``); ``--no-keep-warm`` has none, and each replica loads the model
itself. The template also keeps one child forked ahead of need, parked until a
cold start hands it its socket (``runtime/zygote.py``), so even the fork is off the
request's path; the spare shares every page and costs its page tables. See
``runtime/template.py`` for the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import socket
from typing import Any

from ...errors import BackendError
from . import procmem
from .zygotes import ZygotePool, _recv_fds, host_pid

__all__ = ["Template", "TemplateGone", "start_template"]


class TemplateGone(BackendError):
    """The template exited (its replicas with it); the reason says why."""


class Template:
    """A running template and its command socket."""

    def __init__(
        self, sock: socket.socket, pid: int, pidfd: int | None, load_seconds: float
    ) -> None:
        self.sock = sock
        self.pid = pid
        self.pidfd = pidfd
        self.load_seconds = load_seconds
        self.lock = asyncio.Lock()
        self.closed = False

    @property
    def alive(self) -> bool:
        """Whether the process still runs (its pidfd turns readable when it exits)."""
        if self.closed:
            return False
        if self.pidfd is None:
            return procmem.memory(self.pid) is not None
        readable, _, _ = select.select([self.pidfd], [], [], 0)
        return not readable

    def memory(self) -> dict[str, int] | None:
        """Its RSS and PSS (see :mod:`.procmem`); None once it exited."""
        return procmem.memory(self.pid) if self.alive else None

    async def fork(self, spec: dict[str, Any], timeout: float = 30.0) -> tuple[int, socket.socket]:
        """Fork a replica serving ``spec``; returns its host pid and the router's socket."""
        if not self.alive:
            raise TemplateGone("the model's template exited")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            async with self.lock:
                socket.send_fds(
                    self.sock,
                    [json.dumps({"op": "spawn", "spec": spec}).encode()],
                    [theirs.fileno()],
                )
                reply, fds = await asyncio.wait_for(_recv_fds(self.sock), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            ours.close()
            self.close()
            raise TemplateGone(
                f"the model's template did not fork: {exc or type(exc).__name__}"
            ) from None
        finally:
            theirs.close()
        answer = json.loads(reply) if reply else {"ok": False, "exited": True}
        pid = int(answer.get("pid") or 0)
        for fd in fds:
            pid = host_pid(fd) or pid
            os.close(fd)
        if not answer.get("ok"):
            ours.close()
            if answer.get("exited") or not reply:
                self.close()
                raise TemplateGone(
                    f"the model's template exited: {answer.get('error') or 'no reason given'}"
                )
            raise BackendError(f"the model's template could not fork: {answer.get('error')}")
        ours.setblocking(False)
        return pid, ours

    def close(self) -> None:
        """Close its socket: the template exits, and its replicas with it."""
        if self.closed:
            return
        self.closed = True
        self.sock.close()
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)


async def start_template(
    pool: ZygotePool, python: str, modules: list[str], spec: dict[str, Any], timeout: float
) -> Template:
    """Fork a template of ``spec``'s model from its zygote and wait until it loaded it; a
    model that cannot load (or predict its probe) raises BackendError with the reason."""
    zygote = await pool.get(python, modules)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    try:
        reply = await zygote.command(
            {"op": "spawn", "spec": dict(spec, template=True)}, [theirs.fileno()]
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    fds = list(reply.get("fds") or [])
    pidfd = fds[0] if fds else None
    for extra in fds[1:]:
        os.close(extra)
    pid = (host_pid(pidfd) if pidfd is not None else None) or int(reply.get("pid") or 0)
    template = Template(ours, pid, pidfd, 0.0)
    if not reply.get("ok"):
        template.close()
        raise BackendError(f"the zygote could not fork the model's template: {reply.get('error')}")
    try:
        hello_bytes, extra_fds = await asyncio.wait_for(_recv_fds(ours), timeout)
    except asyncio.TimeoutError:
        template.close()
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
        raise BackendError(f"the model did not load within {timeout:g}s") from None
    for fd in extra_fds:
        os.close(fd)
    hello = json.loads(hello_bytes) if hello_bytes else {}
    if not hello.get("ok"):
        template.close()
        raise BackendError(str(hello.get("error") or "the model's template exited while loading"))
    template.load_seconds = float(hello.get("load_seconds") or 0.0)
    return template
