"""The serving routes, answered before the control plane's router (a raw ASGI fast path).

* ``POST /endpoints/<name>/invocations``: the SageMaker runtime route. With the
  platform token as a bearer token it is the native route; signed with SigV4
  (boto3's ``sagemaker-runtime`` client, secret key = the token) it answers as
  SageMaker does: ``x-Amzn-Invoked-Production-Variant``, errors typed in
  ``x-amzn-ErrorType``, model errors as ``ModelError`` (424) carrying the
  model's status and message. On a multi-model endpoint the
  ``X-Amzn-SageMaker-Target-Model`` header (boto3's ``TargetModel``) names the
  model; ``POST /endpoints/<name>/models/<model>/invocations`` does too.
* ``POST /v1/projects/<p>/locations/<l>/endpoints/<name>:predict`` and
  ``GET .../endpoints/<name>``: the Vertex AI routes, for the Vertex SDK with
  the token as its OAuth access token (``google.oauth2.credentials.Credentials(token)``).
"""

from __future__ import annotations

import hmac
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from ...errors import JsmlError, NotFound, http_status
from ...runtime import frames
from . import sigv4
from .endpoints import EndpointManager
from .router import Unavailable

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_VERTEX_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    413: "INVALID_ARGUMENT",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_AWS_TYPE = {
    400: "ValidationError",
    401: "InvalidSignatureException",
    404: "ValidationError",
    413: "ValidationError",
    500: "InternalFailure",
    503: "ServiceUnavailable",
    504: "ServiceUnavailable",
}
_JSON = b"application/json"
_CLOSE = frozenset({401, 413})
_TOKEN_HELP = (
    "missing or wrong platform token: send 'Authorization: Bearer <token>', sign with SigV4 "
    "using the token as the AWS secret key, or pass it to the Vertex SDK as "
    "google.oauth2.credentials.Credentials(token) (`jsml platform status --json` prints it)"
)


class HTTPError(Exception):
    """An error the fast path answers itself (before or instead of a replica)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ServingApp:
    """Serving routes first; everything else goes to ``control``."""

    def __init__(self, control: ASGIApp, endpoints: EndpointManager, token: str) -> None:
        self.control = control
        self.endpoints = endpoints
        self.token = token
        self._token = token.encode()
        self._request_prefix = uuid.uuid4().hex[:12]
        self._requests = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/endpoints/"):
                await self._sagemaker(scope, receive, send)
                return
            if path.startswith("/v1/projects/") and "/endpoints/" in path:
                await self._vertex(scope, receive, send)
                return
        await self.control(scope, receive, send)

    # -- shared ----------------------------------------------------------------

    async def _body(self, receive: Receive, limit: int, headers: dict[bytes, bytes]) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise HTTPError(400, "Content-Length is not a number") from None
            if size > limit:
                raise HTTPError(
                    413,
                    f"the payload is {size} bytes, over this endpoint's "
                    f"limit of {limit} bytes (deploy with --max-payload)",
                )
        chunks = []
        total = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise HTTPError(
                    413,
                    f"the payload is over this endpoint's limit of {limit} "
                    "bytes (deploy with --max-payload)",
                )
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _precheck(self, scope: Scope, headers: dict[bytes, bytes]) -> int:
        """The route style of a request whose credentials can hold, decided before its body
        is read: a wrong or missing token is a 401 at once (the body is never read)."""
        authorization = headers.get(b"authorization", b"")
        if authorization[:7].lower() == b"bearer ":
            if hmac.compare_digest(authorization[7:].strip(), self._token):
                return frames.ROUTE_NATIVE
            raise HTTPError(401, _TOKEN_HELP)
        if sigv4.is_sigv4(authorization.decode("latin-1")):
            problem = sigv4.precheck(scope["headers"])
            if problem:
                raise HTTPError(401, problem)
            return frames.ROUTE_SAGEMAKER
        raise HTTPError(401, _TOKEN_HELP)

    def _verify(self, scope: Scope, route: int, body: bytes) -> None:
        """Check a SigV4 signature over the body that was read (a 401 when it does not hold)."""
        if route != frames.ROUTE_SAGEMAKER:
            return
        problem = sigv4.check(
            scope["method"],
            scope.get("raw_path") or scope["path"].encode(),
            scope.get("query_string", b""),
            scope["headers"],
            body,
            self.token,
        )
        if problem:
            raise HTTPError(401, problem)

    @staticmethod
    async def _respond(
        send: Send,
        status: int,
        body: bytes,
        content_type: bytes = _JSON,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if extra:
            headers += extra
        if status in _CLOSE:  # the body was not read: do not read it to keep the connection
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- SageMaker -------------------------------------------------------------

    async def _sagemaker(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = scope["path"].split("/")  # ['', 'endpoints', name, 'invocations']
        in_path = None
        if len(parts) == 6 and parts[3] == "models" and parts[5] == "invocations":
            in_path = unquote(parts[4])  # /endpoints/<name>/models/<model>/invocations
            parts = parts[:3] + parts[5:]
        headers = _headers(scope)
        route = (
            frames.ROUTE_SAGEMAKER
            if headers.get(b"authorization", b"").startswith(b"AWS4")
            else frames.ROUTE_NATIVE
        )
        try:
            if len(parts) != 4 or parts[3] != "invocations":
                raise HTTPError(
                    404, f"no route {scope['path']}; invoke POST /endpoints/<name>/invocations"
                )
            if scope["method"] != "POST":
                raise HTTPError(405, "invoke an endpoint with POST")
            name = parts[2]
            checked = self._precheck(scope, headers)
            body = await self._body(receive, self.endpoints.max_payload(name), headers)
            self._verify(scope, checked, body)
            target = headers.get(b"x-amzn-sagemaker-target-variant")
            model = headers.get(b"x-amzn-sagemaker-target-model")
            result = await self.endpoints.invoke(
                name,
                route,
                headers.get(b"content-type", _JSON),
                headers.get(b"accept", _JSON),
                body,
                target.decode("latin-1") if target else None,
                in_path or (model.decode("latin-1") if model else None),
            )
        except (HTTPError, JsmlError, Unavailable) as exc:
            await self._sagemaker_error(send, route, exc)
            return
        extra = [
            (b"x-amzn-invoked-production-variant", result.variant.encode()),
            (b"x-amzn-requestid", f"{self._request_prefix}-{next(self._requests)}".encode()),
        ]
        if result.status == 200 or route == frames.ROUTE_NATIVE:
            await self._respond(
                send, result.status, result.body, result.content_type.encode(), extra
            )
            return
        original = result.body.decode(errors="replace")
        try:
            message = json.loads(original).get("message", original)
        except (ValueError, AttributeError):
            message = original
        kind = "client" if result.status < 500 else "server"
        body = json.dumps(
            {
                "message": f"Received {kind} error ({result.status}) from primary with message "
                f'"{message}". See the endpoint\'s events with %endpoint.',
                "OriginalStatusCode": result.status,
                "OriginalMessage": original,
                "LogStreamArn": f"local:endpoints/{result.variant}",
            }
        ).encode()
        await self._respond(send, 424, body, _JSON, [*extra, (b"x-amzn-errortype", b"ModelError")])

    async def _sagemaker_error(self, send: Send, route: int, exc: Exception) -> None:
        status, retry = _status(exc)
        extra = [(b"retry-after", str(retry).encode())] if retry else []
        if route == frames.ROUTE_SAGEMAKER:
            extra.append((b"x-amzn-errortype", _AWS_TYPE.get(status, "ValidationError").encode()))
            body = {"message": str(exc)}
        else:
            body = {"error": _kind(exc, status), "message": str(exc)}
        await self._respond(send, status, json.dumps(body).encode(), _JSON, extra)

    # -- Vertex ----------------------------------------------------------------

    async def _vertex(self, scope: Scope, receive: Receive, send: Send) -> None:
        # /v1/projects/<p>/locations/<l>/endpoints/<name>[:predict]
        parts = scope["path"].split("/")
        try:
            if len(parts) != 8 or parts[4] != "locations" or parts[6] != "endpoints":
                raise HTTPError(404, f"no route {scope['path']}")
            project, location, tail = parts[3], parts[5], parts[7]
            name, _, verb = tail.partition(":")
            headers = _headers(scope)
            if self._precheck(scope, headers) != frames.ROUTE_NATIVE:
                raise HTTPError(401, _TOKEN_HELP)
            body = b""
            if scope["method"] == "POST":
                body = await self._body(receive, self.endpoints.max_payload(name), headers)
            if scope["method"] == "GET" and not verb:
                await self._respond(
                    send, 200, json.dumps(self._vertex_resource(project, location, name)).encode()
                )
                return
            if scope["method"] != "POST" or verb not in ("predict", "rawPredict"):
                raise HTTPError(
                    404,
                    f"unsupported Vertex method {scope['method']} :{verb}; use POST ...:predict",
                )
            route = frames.ROUTE_VERTEX if verb == "predict" else frames.ROUTE_NATIVE
            result = await self.endpoints.invoke(name, route, _JSON, _JSON, body)
        except (HTTPError, JsmlError, Unavailable) as exc:
            status, retry = _status(exc)
            extra = [(b"retry-after", str(retry).encode())] if retry else []
            payload = {
                "error": {
                    "code": status,
                    "message": str(exc),
                    "status": _VERTEX_STATUS.get(status, "UNKNOWN"),
                }
            }
            await self._respond(send, status, json.dumps(payload).encode(), _JSON, extra)
            return
        await self._respond(send, result.status, result.body, result.content_type.encode())

    def _vertex_resource(self, project: str, location: str, name: str) -> dict[str, Any]:
        data = self.endpoints.describe(name)
        prefix = f"projects/{project}/locations/{location}"
        return {
            "name": f"{prefix}/endpoints/{name}",
            "displayName": name,
            "deployedModels": [
                {
                    "id": v["name"],
                    "model": f"{prefix}/models/{v['model_name']}",
                    "modelVersionId": str(v["model_version"]),
                    "displayName": v["model"],
                    "dedicatedResources": {
                        "minReplicaCount": v["min_replicas"],
                        "maxReplicaCount": v["max_replicas"],
                    },
                }
                for v in data["variants"]
            ],
            "trafficSplit": {k: round(w) for k, w in data["traffic"].items()},
        }


_WANTED = frozenset(
    {
        b"authorization",
        b"content-type",
        b"content-length",
        b"accept",
        b"x-amzn-sagemaker-target-variant",
        b"x-amzn-sagemaker-target-model",
    }
)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request headers the serving routes look at, in one pass."""
    return {name: value for name, value in scope["headers"] if name in _WANTED}


def _status(exc: Exception) -> tuple[int, int | None]:
    if isinstance(exc, HTTPError):
        return exc.status, exc.retry_after
    if isinstance(exc, Unavailable):
        return 503, exc.retry_after
    if isinstance(exc, NotFound):
        return 404, None
    assert isinstance(exc, JsmlError)
    return http_status(exc), None


def _kind(exc: Exception, status: int) -> str:
    if isinstance(exc, JsmlError):
        return type(exc).__name__
    return {
        401: "Unauthorized",
        404: "NotFound",
        405: "MethodNotAllowed",
        413: "PayloadTooLarge",
        503: "ServiceUnavailable",
        504: "Timeout",
    }.get(status, "BadRequest")
