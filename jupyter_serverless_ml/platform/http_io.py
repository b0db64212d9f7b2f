"""What the control plane reads from requests and writes into responses, checked.

* Bodies are strict JSON: ``NaN``, ``Infinity`` and numbers out of a float's range
  are refused (a 400 naming the value), so nothing the store cannot serve back
  is ever accepted.
* Responses never fail on a value: a non-finite float that is already stored (an
  older platform accepted them) is served as the string ``"NaN"``,
  ``"Infinity"`` or ``"-Infinity"`` instead of failing the whole listing.
* Numbers in query strings and paths are bounded (SQLite holds 64-bit integers;
  a bigger one was a 500) and floats are finite.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import UsageError

INT_MAX = 2**53  # the largest integer every client (JavaScript too) reads exactly


def _refuse_constant(name: str) -> Any:
    raise UsageError(
        f"the request body holds {name}, which is not JSON; send a finite number, "
        "null, or the value as a string"
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UsageError(
            f"the request body holds the number {text[:40]}, out of a 64-bit float's range; "
            "send a finite number, or the value as a string"
        )
    return value


def strict_loads(raw: bytes | str) -> Any:
    """Decode JSON, refusing NaN, Infinity and out-of-range numbers (:class:`UsageError`)."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise UsageError("the request body nests too deeply to be read") from None
    except ValueError as exc:  # JSONDecodeError, and int() beyond its digit limit
        raise UsageError(f"request body is not JSON: {exc}") from None


def _serveable(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its name as a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {k: _serveable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serveable(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """A JSON response that serves stored non-finite floats as strings instead of failing."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:  # "Out of range float values are not JSON compliant"
            return super().render(_serveable(content))


def json_response(data: Any, status: int = 200) -> JSONResponse:
    """``data`` as a JSON response (non-finite floats served as strings)."""
    return SafeJSONResponse(data, status_code=status)


def unauthorized() -> JSONResponse:
    """The 401 for a missing or wrong token; the connection closes, so its body is never read."""
    return SafeJSONResponse(
        {
            "error": "Unauthorized",
            "message": (
                "missing or wrong platform token; send 'Authorization: Bearer <token>' "
                "(the token is in $JSML_HOME/token; `jsml platform status --json` prints it)"
            ),
        },
        401,
        headers={"connection": "close"},
    )


def query_int(request: Request, key: str, default: int, low: int = 0, high: int = INT_MAX) -> int:
    """The integer query parameter ``key`` (``default`` when absent), within ``low..high``."""
    raw = request.query_params.get(key)
    if raw is None:
        return default
    return bounded_int(raw, f"query parameter {key}", low, high)


def bounded_int(raw: str, what: str, low: int = 0, high: int = INT_MAX) -> int:
    """``raw`` as an integer within ``low..high``; otherwise a UsageError naming ``what``."""
    try:
        value = int(raw.strip()) if len(raw) <= 40 else None
    except ValueError:
        raise UsageError(f"{what}={raw[:40]!r} must be a number") from None
    if value is None or not low <= value <= high:
        raise UsageError(f"{what}={raw[:40]!r} must be a whole number from {low} to {high}")
    return value


def query_float(request: Request, key: str, default: float, low: float, high: float) -> float:
    """The finite float query parameter ``key`` (``default`` when absent), clamped into
    ``low..high`` (a wait of an hour becomes the longest wait allowed)."""
    raw = request.query_params.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(f"query parameter {key}={raw[:40]!r} must be a finite number of seconds")
    return min(max(value, low), high)


__all__ = [
    "INT_MAX",
    "SafeJSONResponse",
    "bounded_int",
    "json_response",
    "query_float",
    "query_int",
    "strict_loads",
    "unauthorized",
]
