"""The one exception tree of jupyter-serverless-ml.

::

    JsmlError
    ├── UsageError            bad argument to a magic, the CLI or the API; nothing was submitted
    │   └── CaptureError      a name the cell uses cannot be packaged into the bundle
    ├── ConfigError           $JSML_HOME or configuration unusable
    ├── BackendError          a backend could not do what was asked
    │   ├── PlatformUnavailable   the embedded platform cannot be reached or started
    │   ├── NotFound              no such job, model or version
    │   └── Conflict              the request conflicts with the current state
    └── JobFailed             a job ended in Failed (or Stopped while waited on)

Every message says what to do next.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from typing import Any


class JsmlError(Exception):
    """Base class of every error this package raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        """How IPython shows it: the message without a traceback (still an error output,
        so a papermill run fails)."""
        return [f"{type(self).__name__}: {self}"]


class UsageError(JsmlError, ValueError):
    """A bad argument: unknown option, bad syntax, missing path. Nothing was submitted."""


class CaptureError(UsageError):
    """A name used by the cell cannot be captured into the bundle."""


class ConfigError(JsmlError):
    """The configuration or `$JSML_HOME` cannot be used."""


class BackendError(JsmlError):
    """A backend refused or failed a request."""


class PlatformUnavailable(BackendError):
    """The embedded local platform is not reachable and could not be started."""


class NotFound(BackendError, LookupError):
    """No such job, model or version."""


class Conflict(BackendError):
    """The request conflicts with the object's current state."""


class PredictionError(BackendError):
    """An endpoint answered a prediction request with an error.

    ``status`` is the HTTP status (400: the input does not fit the model, 500: the
    model raised, 503: no replica in time) and ``body`` the endpoint's answer.
    """

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class JobFailed(JsmlError):
    """A job ended in a non-successful terminal state.

    Attributes: ``job_id``, ``status``, ``reason`` (the failure reason as the job
    reported it) and ``log_tail`` (its last log lines).
    """

    def __init__(
        self, job_id: str, status: str, reason: str, log_tail: str = "", details: str | None = None
    ) -> None:
        self.job_id = job_id
        self.status = status
        self.reason = reason
        self.log_tail = log_tail
        said = reason.strip() or "no reason recorded"
        if said.lower().startswith(f"{status.lower()}: "):  # "stopped: budget ..." once
            said = said[len(status) + 2 :]
        message = f"job {job_id} {status.lower()}: {said}"
        if log_tail.strip():
            message += f"\n--- last log lines of {job_id} ---\n{log_tail.rstrip()}"
        message += "\n" + (details or f"(full log: %logs {job_id}   details: %job {job_id})")
        super().__init__(message)


@contextlib.contextmanager
def storage_errors(what: str, where: object) -> Iterator[None]:
    """Map an OSError while writing ``what`` under ``where`` to a ConfigError that says what to do."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            advice = "free some space there, or set JSML_HOME to a larger disk"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            advice = "fix its permissions, or set JSML_HOME to a writable directory"
        else:
            advice = "check that disk"
        raise ConfigError(
            f"could not write {what} under {where}: {exc.strerror or exc}; {advice}"
        ) from exc


_BY_NAME: dict[str, type[JsmlError]] = {
    cls.__name__: cls
    for cls in (
        UsageError,
        CaptureError,
        ConfigError,
        BackendError,
        PlatformUnavailable,
        NotFound,
        Conflict,
    )
}

#: The one map from the error tree to HTTP, used by the platform's API and the sidebar's.
HTTP_STATUS: dict[type[JsmlError], int] = {
    UsageError: 400,
    NotFound: 404,
    Conflict: 409,
    ConfigError: 500,
    PlatformUnavailable: 503,
    BackendError: 502,
}


def http_status(error: BaseException) -> int:
    """The HTTP status for ``error``: the nearest class of the tree in :data:`HTTP_STATUS`
    (400 bad input, 404 unknown, 409 conflict, 500 configuration, 502 a backend failing,
    503 the platform unreachable); 500 for anything outside the tree."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


@contextlib.contextmanager
def map_exceptions(
    mapping: dict[type[BaseException] | tuple[type[BaseException], ...], type[JsmlError]],
    context: str,
) -> Iterator[None]:
    """Re-raise a foreign exception as the tree's class it maps to, with ``context`` first.

    Each backend wraps its SDK calls in this once (httpx's ``map_httpcore_exceptions``
    pattern), so no foreign exception reaches a caller. An error of the tree passes as it is.
    """
    try:
        yield
    except JsmlError:
        raise
    except Exception as exc:
        for foreign, ours in mapping.items():
            if isinstance(exc, foreign):
                raise ours(f"{context}: {exc}") from exc
        raise


def to_wire(error: JsmlError) -> dict[str, Any]:
    """The JSON body the platform sends for ``error``."""
    return {"error": type(error).__name__, "message": str(error)}


def from_wire(status: int, body: dict[str, Any]) -> JsmlError:
    """Rebuild the exception a platform reply describes (the client side of :func:`to_wire`)."""
    cls = _BY_NAME.get(str(body.get("error")), BackendError)
    return cls(str(body.get("message") or f"platform answered HTTP {status}"))
