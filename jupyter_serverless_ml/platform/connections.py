"""Bounds on the daemon's HTTP connections: a header timeout, an idle timeout and a cap.

uvicorn's keep-alive timeout starts only after a response, so a connection that
never sends a request, or sends its headers a byte at a time, stayed open for
good; enough of them ran the daemon out of descriptors. Here every request's
head (request line and headers) must arrive within ``header_timeout`` seconds of
the connection opening or of its first byte, idle connections close after
``keep_alive`` seconds (uvicorn's timer), and a connection past
``max_connections`` is answered 503 and closed at once. The descriptor soft
limit is raised to the hard limit at start, and the cap leaves half of it for
replicas, the store and logs.

Settings (environment of the daemon): ``JSML_HTTP_HEADER_TIMEOUT`` (10 s),
``JSML_HTTP_KEEP_ALIVE`` (5 s), ``JSML_HTTP_MAX_CONNECTIONS`` (half the
descriptor limit, at most 4096).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_CONNECTIONS = 4096


@dataclass(frozen=True)
class Limits:
    """How long a request's head may take, how long a connection may idle, how many may be open."""

    header_timeout: float = 10.0
    keep_alive: float = 5.0
    max_connections: int = MAX_CONNECTIONS

    @classmethod
    def from_environment(cls, descriptors: int) -> Limits:
        """The limits for a process allowed ``descriptors`` open files (environment overrides)."""
        default_cap = max(16, min(MAX_CONNECTIONS, descriptors // 2))
        return cls(
            header_timeout=_setting("JSML_HTTP_HEADER_TIMEOUT", 10.0),
            keep_alive=_setting("JSML_HTTP_KEEP_ALIVE", 5.0),
            max_connections=int(_setting("JSML_HTTP_MAX_CONNECTIONS", default_cap)),
        )


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = default
    return value if value > 0 else default


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open files to the hard limit; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else target
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


_BUSY = json.dumps(
    {
        "error": "ServiceUnavailable",
        "message": "the platform has too many open connections; retry shortly "
        "(close idle connections, or raise JSML_HTTP_MAX_CONNECTIONS)",
    }
).encode()
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"retry-after: 1\r\nconnection: close\r\ncontent-length: "
    + str(len(_BUSY)).encode()
    + b"\r\n\r\n"
    + _BUSY
)


class BoundedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout and a connection cap."""

    limits: ClassVar[Limits] = Limits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            transport.write(_BUSY_RESPONSE)
            transport.close()
            return
        self._arm()

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol(limits: Limits) -> type[BoundedProtocol]:
    """The protocol class to hand uvicorn (``http=``), bound to ``limits``."""
    return type("BoundedHttpProtocol", (BoundedProtocol,), {"limits": limits})


__all__ = ["BoundedProtocol", "Limits", "protocol", "raise_descriptor_limit"]
