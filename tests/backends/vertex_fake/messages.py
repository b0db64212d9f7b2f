"""Request bodies into the API's own messages (unknown fields refused), messages into JSON."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from google.protobuf import json_format

from .web import ApiError, Request, Response

TYPE_URL = "type.googleapis.com/google.cloud.aiplatform.v1."


def parse(kind: Any, req: Request, field: str) -> Any:
    """The body as message ``kind``; unknown fields are the real API's 400."""
    text = req.body.decode() or "{}"
    try:
        return kind.from_json(text, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        name = re.search(r'has no field named "([^"]+)"', str(exc))
        what = (
            f"Unknown name \"{name.group(1)}\" at '{field}': Cannot find field."
            if name
            else str(exc)
        )
        message = f"Invalid JSON payload received. {what}"
        raise ApiError(
            400,
            message,
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": field, "description": message}],
                }
            ],
        ) from None


def to_json(message: Any) -> dict[str, Any]:
    return dict(json_format.MessageToDict(type(message).pb(message)))


def reply(message: Any) -> Response:
    return Response.of_json(to_json(message))


def now() -> Any:
    return dt.datetime.now(dt.timezone.utc)
