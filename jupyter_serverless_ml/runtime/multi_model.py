"""A multi-model replica: loads the models its requests name, least recently used out.

Each request (``OP_INVOKE_MODEL``) carries a JSON header naming its model
(``model``: ``name:version``; ``dir``: the registered model's directory, given by
the platform, never by the caller). A model is loaded on its first request and
kept while the models held fit the replica's budget (``cache_bytes``; a model
counts as its files' size, which for joblib and the native formats is close to
what it takes in memory); loading one more evicts the least recently used. A
model that fails to load answers a 500 saying why to its own requests only,
and is tried again after ``RETRY_SECONDS``. Every load, eviction and failure is
reported to the router as an ``OP_EVENT`` frame (before the answer it caused).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections import OrderedDict
from typing import Any

from . import frames
from .replica import Capture, Replica, load_error

RETRY_SECONDS = 10.0


def model_bytes(directory: str) -> int:
    """The size of a model directory's files (what the cache counts it as)."""
    total = 0
    for root, _, names in os.walk(directory):
        for name in names:
            try:
                total += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
            except OSError:
                continue
    return total


class Failed(Exception):
    """A model that could not be loaded (kept for ``RETRY_SECONDS``)."""


class ModelCache:
    """Loaded models, least recently used first, within ``budget`` bytes."""

    def __init__(self, budget: int, method: str, events: Any) -> None:
        self.budget = budget
        self.method = method
        self.events = events  # called with one event dict
        self.models: OrderedDict[str, tuple[Replica, int]] = OrderedDict()
        self.failed: dict[str, tuple[float, str]] = {}
        self.held = 0

    def get(self, label: str, directory: str) -> Replica:
        """The loaded model ``label`` (loaded now when it is not held)."""
        found = self.models.get(label)
        if found is not None:
            self.models.move_to_end(label)
            return found[0]
        failed = self.failed.get(label)
        if failed is not None and time.monotonic() - failed[0] < RETRY_SECONDS:
            raise Failed(failed[1])
        size = model_bytes(directory)
        while self.models and self.held + size > self.budget:
            old, (_, old_size) = self.models.popitem(last=False)
            self.held -= old_size
            self.events({"event": "evict", "model": old, "bytes": old_size})
        started = time.perf_counter()
        try:
            loaded = Replica({"model_dir": directory, "method": self.method, "model": label})
        except Exception as exc:
            message = load_error(exc)
            self.failed[label] = (time.monotonic(), message)
            self.events({"event": "fail", "model": label, "error": message})
            raise Failed(message) from None
        self.failed.pop(label, None)
        self.models[label] = (loaded, size)
        self.held += size
        seconds = time.perf_counter() - started
        self.events({"event": "load", "model": label, "bytes": size, "seconds": seconds})
        return loaded


class Headers:
    """OP_INVOKE_MODEL bodies taken apart; each distinct header (the router writes one per
    model) is decoded once, so a request costs a dict lookup and one payload slice."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.known: dict[bytes, tuple[str, str, bool]] = {}

    def parse(self, body: bytes) -> tuple[tuple[str, str, bool], int, str, str, bytes]:
        """((label, model directory, warm-up?), route, content type, accept, payload)."""
        (size,) = frames.MODEL_META.unpack_from(body)
        start = frames.MODEL_META.size
        end = start + size
        raw = body[start:end]
        header = self.known.get(raw)
        if header is None:
            data = json.loads(raw)
            header = (str(data.get("model")), str(data["dir"]), bool(data.get("warmup")))
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            self.known[raw] = header
        route, ct_len, accept_len = frames.INVOKE_META.unpack_from(body, end)
        at = end + frames.INVOKE_META.size
        content_type = body[at : at + ct_len].decode("latin-1")
        accept = body[at + ct_len : at + ct_len + accept_len].decode("latin-1")
        return header, route, content_type, accept, body[at + ct_len + accept_len :]


def serve(spec: dict[str, Any], sock: socket.socket) -> None:
    """Announce READY (nothing to load yet), then answer each request with its model."""
    channel = frames.BlockingChannel(sock)
    settings = spec.get("multi_model") or {}

    def event(data: dict[str, Any]) -> None:
        channel.write(frames.json_frame(frames.OP_EVENT, 0, data))

    cache = ModelCache(
        int(settings.get("cache_bytes") or 2 << 30), spec.get("method") or "predict", event
    )
    capture = Capture(spec.get("capture"), spec.get("replica", "r"))
    headers = Headers()
    channel.write(
        frames.json_frame(frames.OP_READY, 0, {"ok": True, "pid": os.getpid(), "load_seconds": 0.0})
    )
    while (message := channel.read()) is not None:
        op, request_id, body = message
        if op == frames.OP_STOP:
            break
        if op != frames.OP_INVOKE_MODEL:
            continue
        began = time.perf_counter()
        (label, directory, warmup), route, content_type, accept, payload = headers.parse(body)
        try:
            model = cache.get(label, directory)
        except Failed as exc:
            status, out_type, out = Replica.error(
                route, 500, "ModelLoadError", f"model {label} cannot be served: {exc}"
            )
        else:
            status, out_type, out = model.answer(route, content_type, accept, payload)
        channel.write(
            frames.frame(frames.OP_RESULT, request_id, frames.result_body(status, out_type, out))
        )
        if not warmup and capture.sampled():
            capture.write(
                {
                    "ts": time.time(),
                    "endpoint": spec.get("endpoint"),
                    "variant": spec.get("variant"),
                    "model": label,
                    "content_type": content_type,
                    "status": status,
                    "latency_ms": round((time.perf_counter() - began) * 1000, 3),
                    "input": payload.decode(errors="replace"),
                    "output": out.decode(errors="replace"),
                }
            )


__all__ = ["Headers", "ModelCache", "model_bytes", "serve"]
