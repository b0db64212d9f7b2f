"""Reading a ``--warmup FILE``: the requests each new replica answers before it takes traffic.

The file is JSON Lines (one request body per line, sent as ``application/json``)
or a JSON list of bodies. For a multi-model endpoint, or another content type,
a line may instead be ``{"body": ..., "target_model": "name:version",
"content_type": "text/csv"}`` (``body`` a string, or JSON that is sent as JSON).
Read in the kernel, so a relative path is the notebook's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError

MAX_REQUESTS = 100
MAX_BYTES = 1 << 20
_WRAPPER_KEYS = {"body", "target_model", "content_type"}


def _request(item: Any, where: str) -> dict[str, Any]:
    if isinstance(item, dict) and "body" in item and set(item) <= _WRAPPER_KEYS:
        body = item["body"]
        request = {
            "body": body if isinstance(body, str) else json.dumps(body),
            "content_type": str(item.get("content_type") or "application/json"),
        }
        if item.get("target_model"):
            request["target_model"] = str(item["target_model"])
        return request
    if item is None:
        raise UsageError(f"{where} is empty; write one JSON request body per line")
    return {"body": json.dumps(item), "content_type": "application/json"}


def read_warmup(path: str | Path) -> tuple[dict[str, Any], ...]:
    """The warm-up requests in ``path`` (a UsageError says what is wrong with the file)."""
    file = Path(path).expanduser()
    try:
        text = file.read_text()
    except OSError as exc:
        raise UsageError(f"--warmup {path}: cannot read it ({exc.strerror or exc})") from None
    if len(text.encode()) > MAX_BYTES:
        raise UsageError(f"--warmup {path} is over 1 MB; keep a few typical requests")
    stripped = text.strip()
    if not stripped:
        raise UsageError(f"--warmup {path} is empty; write one JSON request body per line")
    items: list[tuple[Any, str]] = []
    try:
        whole = json.loads(stripped)
    except ValueError:
        whole = None
    if isinstance(whole, list) and stripped.startswith("["):
        items = [(item, f"--warmup {path} item {n}") for n, item in enumerate(whole, 1)]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((json.loads(line), f"--warmup {path} line {number}"))
            except ValueError as exc:
                raise UsageError(
                    f"--warmup {path} line {number} is not JSON ({exc}); write one JSON "
                    'request body per line, e.g. {"instances": [[1, 2, 3]]}'
                ) from None
    if not items:
        raise UsageError(f"--warmup {path} holds no request")
    if len(items) > MAX_REQUESTS:
        raise UsageError(f"--warmup {path} holds {len(items)} requests; at most {MAX_REQUESTS}")
    return tuple(_request(item, where) for item, where in items)


__all__ = ["read_warmup"]
