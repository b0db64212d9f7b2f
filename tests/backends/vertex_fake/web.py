"""A small threaded HTTP server with a route table, shared by the fake GCS and Vertex APIs.

Google's REST APIs answer errors as ``{"error": {"code", "message", "status", ...}}``;
:class:`ApiError` carries one to the handler, which writes it with its HTTP code.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

#: HTTP code -> google.rpc.Code name
RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An error answer in Google's JSON error shape."""

    def __init__(self, code: int, message: str, status: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status or RPC_STATUS.get(code, "UNKNOWN")
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": str(self), "status": self.status, **self.extra}
        }


@dataclass
class Request:
    """One request: method, path (decoded segments kept raw in ``raw_path``), query, body."""

    method: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, f"Invalid JSON payload received. {exc}") from None


@dataclass
class Response:
    """A reply: status, headers and bytes."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, value: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(value).encode(), {"Content-Type": "application/json"})


Handler = Callable[[Request], Response]


class Router:
    """Routes ``(method, regex)`` to handlers; named groups become ``request.params``."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        #: a hook that may raise an ApiError before any route (fault injection in tests)
        self.before: list[Callable[[Request], None]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + r"$"), handler))

    def dispatch(self, request: Request) -> Response:
        for hook in list(self.before):
            hook(request)
        path = request.raw_path
        for method, pattern, handler in self.routes:
            if method != request.method:
                continue
            match = pattern.match(path)
            if match:
                request.params = {k: unquote(v) for k, v in match.groupdict().items() if v}
                return handler(request)
        raise ApiError(
            404, f"The requested URL {request.method} {path} was not found on this server."
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    router: Router

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            self.command,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        try:
            response = self.router.dispatch(request)
        except ApiError as exc:
            response = Response.of_json(exc.body(), exc.code)
        except Exception as exc:  # a bug in the fake: say so as an INTERNAL error
            import traceback

            traceback.print_exc()
            response = Response.of_json(ApiError(500, f"fake server error: {exc!r}").body(), 500)
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class Server:
    """A threaded HTTP server on 127.0.0.1 with a :class:`Router`; ``stop()`` closes it."""

    def __init__(self, router: Router) -> None:
        handler = type("Handler", (_Handler,), {"router": router})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)
