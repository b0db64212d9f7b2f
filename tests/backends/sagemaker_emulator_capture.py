"""Data capture in the SageMaker emulator: each answered InvokeEndpoint of an endpoint whose
config enables capture is written to S3 as SageMaker does, one JSON Lines object under
``DestinationS3Uri/ENDPOINT/VARIANT/yyyy/mm/dd/hh/`` with ``captureData.endpointInput`` and
``endpointOutput`` (``observedContentType``, ``mode``, ``data``, ``encoding`` JSON, CSV or
BASE64) and ``eventMetadata`` (``eventId``, ``inferenceTime``)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import uuid
from typing import Any


def _part(mode: str, content_type: str, data: bytes | str) -> dict[str, Any]:
    data = data.encode() if isinstance(data, str) else data
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        return {
            "observedContentType": content_type,
            "mode": mode,
            "data": data.decode(),
            "encoding": "CSV",
        }
    if kind == "application/json":
        return {
            "observedContentType": content_type,
            "mode": mode,
            "data": data.decode(),
            "encoding": "JSON",
        }
    return {
        "observedContentType": content_type,
        "mode": mode,
        "data": base64.b64encode(data).decode(),
        "encoding": "BASE64",
    }


def write_capture(
    emulator: Any, endpoint: str, variant: str, config: Any, request: Any, answer: Any, kind: str
) -> None:
    """Capture one request of ``endpoint`` if its endpoint config asks for it."""
    capture = getattr(config, "data_capture_config", None) or {}
    if not capture.get("EnableCapture") or not capture.get("DestinationS3Uri"):
        return
    if random.random() * 100 >= float(capture.get("InitialSamplingPercentage", 100)):
        return
    headers = {k.lower(): v for k, v in request.headers.items()}
    now = dt.datetime.now(dt.timezone.utc)
    record = {
        "captureData": {
            "endpointInput": _part(
                "INPUT", headers.get("content-type", "application/json"), request.body
            ),
            "endpointOutput": _part("OUTPUT", kind, answer),
        },
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        },
        "eventVersion": "0",
    }
    key = f"{now:%Y/%m/%d/%H}/{now:%M-%S-%f}-{uuid.uuid4().hex[:8]}.jsonl"
    uri = f"{str(capture['DestinationS3Uri']).rstrip('/')}/{endpoint}/{variant}/{key}"
    emulator._put(uri, (json.dumps(record) + "\n").encode())
