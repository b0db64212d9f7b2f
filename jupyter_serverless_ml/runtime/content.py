"""Media types of requests and responses: which are accepted, and encoding predictions.

Requests: ``application/json`` (and ``+json``), ``application/jsonlines``,
``text/csv``, ``application/x-npy`` (the SageMaker SDK's NumpySerializer, the
default of its scikit-learn predictor) and ``application/x-npz``. Responses, by
``Accept``: JSON, JSON Lines, CSV, ``x-npy`` and ``x-npz``; ``*/*`` or none is
JSON. Anything else is a 415 (Content-Type) or 406 (Accept) naming what is
accepted. Arrays are read without pickles (``allow_pickle=False``).
"""

from __future__ import annotations

import io
import json
from typing import Any

from .predict import InputError

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
_JSONLINES_ALIASES = ("application/jsonlines", "application/jsonl", "application/x-ndjson")
REQUEST_TYPES = (JSON, JSONLINES, CSV, NPY, NPZ)
RESPONSE_TYPES = (JSON, JSONLINES, CSV, NPY, NPZ)


def media(value: str) -> str:
    """The bare media type of a header value (``text/csv; charset=utf-8`` -> ``text/csv``)."""
    return value.split(";")[0].strip().lower()


def request_type(content_type: str) -> str:
    """The request's media type among those decoded; a 415 InputError otherwise."""
    kind = media(content_type)
    if kind in ("", JSON) or kind.endswith("+json"):
        return JSON
    if kind in _JSONLINES_ALIASES:
        return JSONLINES
    if kind in (CSV, NPY, NPZ):
        return kind
    raise InputError(
        f"unsupported Content-Type {content_type!r}: send one of {', '.join(REQUEST_TYPES)}",
        status=415,
    )


def response_type(accept: str, supported: tuple[str, ...] = RESPONSE_TYPES) -> str:
    """The first type in ``Accept`` that can be answered (JSON for ``*/*`` or none); a 406
    InputError when none can."""
    wanted = [media(part) for part in accept.split(",") if media(part)]
    if not wanted:
        return JSON
    for kind in wanted:
        if kind in ("*/*", "application/*"):
            return JSON
        if kind in _JSONLINES_ALIASES:
            kind = JSONLINES
        if kind.endswith("+json"):
            kind = JSON
        if kind in supported:
            return kind
    raise InputError(
        f"cannot answer Accept {accept!r}: ask for one of {', '.join(supported)}", status=406
    )


def read_array(payload: bytes, kind: str) -> Any:
    """A numpy array from an ``x-npy`` body, or the first array of an ``x-npz`` body."""
    import numpy as np

    try:
        loaded = np.load(io.BytesIO(payload), allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"the {kind} body holds objects, not numbers: {exc}") from None
    except Exception as exc:
        raise InputError(f"the body is not a valid {kind} array: {exc}") from None
    if kind == NPZ or hasattr(loaded, "files"):
        names = list(getattr(loaded, "files", []))
        if not names:
            raise InputError("the x-npz body holds no array")
        return loaded[names[0]]
    return loaded


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(predictions: Any, kind: str) -> bytes:
    """``predictions`` (an array or list; one entry, or row, per input row) as ``kind``."""
    from .predict import Predictor, to_csv

    if kind in (NPY, NPZ):
        import numpy as np

        out = io.BytesIO()
        if kind == NPY:
            np.save(out, np.asarray(predictions), allow_pickle=False)
        else:
            np.savez(out, predictions=np.asarray(predictions))
        return out.getvalue()
    if isinstance(predictions, dict):  # a whole response object (Vertex, a Predictor)
        return json.dumps(predictions, separators=(",", ":"), default=_plain).encode()
    values = Predictor.to_list(predictions) if not isinstance(predictions, list) else predictions
    if kind == CSV:
        return to_csv(values).encode()
    if kind == JSONLINES:
        return b"".join(json.dumps(v, default=_plain).encode() + b"\n" for v in values)
    return json.dumps(values, separators=(",", ":"), default=_plain).encode()


__all__ = [
    "CSV",
    "JSON",
    "JSONLINES",
    "NPY",
    "NPZ",
    "REQUEST_TYPES",
    "RESPONSE_TYPES",
    "encode",
    "media",
    "read_array",
    "request_type",
    "response_type",
]
