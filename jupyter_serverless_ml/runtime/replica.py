"""A serving replica: forked from a zygote, it loads one model and answers frames.

The replica owns one end of a socket pair whose other end is the router's. It
announces itself with a READY frame (or the load error), then answers
invocations in order. A model error becomes a 500 for that request only; the
replica stays up. A sampled share of requests and responses is appended to the
capture directory, after the response has been sent.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import traceback
from pathlib import Path
from typing import Any

from . import frames
from .predict import InputError, Predictor, dumps, to_csv

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    500: "INTERNAL",
}


class Capture:
    """Appends sampled request/response pairs to JSONL files of bounded size."""

    def __init__(self, spec: dict[str, Any] | None, replica: str) -> None:
        spec = spec or {}
        self.share = float(spec.get("percent", 0)) / 100.0
        self.directory = Path(spec["directory"]) if spec.get("directory") else None
        self.file_bytes = int(spec.get("file_bytes", 4 << 20))
        self.replica = replica
        self.fh: Any = None
        self.written = 0
        self.serial = 0

    def sampled(self) -> bool:
        return self.directory is not None and self.share > 0 and random.random() < self.share

    def write(self, record: dict[str, Any]) -> None:
        assert self.directory is not None
        try:
            if self.fh is None or self.written >= self.file_bytes:
                if self.fh is not None:
                    self.fh.close()
                self.serial += 1
                self.directory.mkdir(parents=True, exist_ok=True)
                name = f"{time.strftime('%Y%m%d-%H%M%S')}-{self.replica}-{self.serial:04d}.jsonl"
                self.fh = open(self.directory / name, "ab")  # noqa: SIM115 - kept open
                self.written = 0
            line = dumps(record) + b"\n"
            self.fh.write(line)
            self.fh.flush()
            self.written += len(line)
        except OSError:
            self.share = 0.0  # a full disk stops capture, never serving


class Replica:
    """Decodes, predicts and encodes for one model."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.predictor = Predictor(spec["model_dir"], spec.get("method") or "predict")
        self.deployed_model_id = str(spec.get("deployed_model_id", spec.get("variant", "")))
        self.model_label = str(spec.get("model", ""))
        self.capture = Capture(spec.get("capture"), spec.get("replica", "r"))

    def answer(
        self, route: int, content_type: str, accept: str, payload: bytes
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) for one invocation."""
        try:
            inputs = self.decode(route, content_type, payload)
        except InputError as exc:
            return self.error(route, 400, "InputError", str(exc))
        try:
            predictions = Predictor.to_list(self.predictor.predict(inputs))
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            message = f"{type(exc).__name__}: {exc} (in {Path(where.filename).name}:{where.lineno})"
            return self.error(route, 500, "ModelError", f"the model raised {message}")
        if route == frames.ROUTE_VERTEX:
            return (
                200,
                "application/json",
                dumps(
                    {
                        "predictions": predictions,
                        "deployedModelId": self.deployed_model_id,
                        "model": self.model_label,
                        "modelDisplayName": self.model_label.split(":")[0],
                        "modelVersionId": self.model_label.rpartition(":")[2],
                    }
                ),
            )
        if "text/csv" in accept:
            return 200, "text/csv", to_csv(predictions).encode()
        return 200, "application/json", dumps({"predictions": predictions})

    def decode(self, route: int, content_type: str, payload: bytes) -> Any:
        kind = content_type.split(";")[0].strip().lower()
        if kind in ("", "application/json", "application/jsonlines") or kind.endswith("+json"):
            try:
                data = json.loads(payload)
            except ValueError as exc:
                raise InputError(f"the body is not valid JSON: {exc}") from None
            if route == frames.ROUTE_VERTEX and not (
                isinstance(data, dict) and "instances" in data
            ):
                raise InputError('a Vertex predict request needs {"instances": [...]}')
            return self.predictor.rows_from_json(data)
        if kind == "text/csv":
            try:
                return self.predictor.rows_from_csv(payload.decode())
            except UnicodeDecodeError as exc:
                raise InputError(f"the CSV body is not UTF-8: {exc}") from None
        raise InputError(
            f"unsupported Content-Type {content_type!r}: send application/json or text/csv"
        )

    @staticmethod
    def error(route: int, status: int, kind: str, message: str) -> tuple[int, str, bytes]:
        body: dict[str, Any]
        if route == frames.ROUTE_VERTEX:
            body = {
                "error": {
                    "code": status,
                    "message": message,
                    "status": _STATUS_NAMES.get(status, "UNKNOWN"),
                }
            }
        else:
            body = {"error": kind, "message": message}
        return status, "application/json", dumps(body)


def serve(spec: dict[str, Any], sock: socket.socket) -> None:
    """Load the model, announce READY, then answer frames until the router closes."""
    channel = frames.BlockingChannel(sock)
    started = time.perf_counter()
    try:
        replica = Replica(spec)
    except Exception as exc:
        channel.write(
            frames.json_frame(
                frames.OP_READY,
                0,
                {
                    "ok": False,
                    "pid": os.getpid(),
                    "error": f"could not load the model: {type(exc).__name__}: {exc}",
                },
            )
        )
        return
    channel.write(
        frames.json_frame(
            frames.OP_READY,
            0,
            {
                "ok": True,
                "pid": os.getpid(),
                "load_seconds": time.perf_counter() - started,
            },
        )
    )
    capture = replica.capture
    while (message := channel.read()) is not None:
        op, request_id, body = message
        if op == frames.OP_INVOKE:
            began = time.perf_counter()
            route, content_type, accept, payload = frames.parse_invoke(body)
            status, out_type, out = replica.answer(route, content_type, accept, payload)
            channel.write(
                frames.frame(
                    frames.OP_RESULT, request_id, frames.result_body(status, out_type, out)
                )
            )
            if capture.sampled():
                capture.write(
                    {
                        "ts": time.time(),
                        "endpoint": spec.get("endpoint"),
                        "variant": spec.get("variant"),
                        "model": replica.model_label,
                        "content_type": content_type,
                        "status": status,
                        "latency_ms": round((time.perf_counter() - began) * 1000, 3),
                        "input": payload.decode(errors="replace"),
                        "output": out.decode(errors="replace"),
                    }
                )
        elif op in (frames.OP_BATCH_PLAN, frames.OP_BATCH_SHARD):
            from . import batch

            try:
                reply = batch.handle(op, json.loads(body), replica.predictor)
            except Exception as exc:
                reply = {
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "retryable": not isinstance(exc, batch.DataError),
                }
            channel.write(frames.json_frame(frames.OP_REPLY, request_id, reply))
        elif op == frames.OP_STOP:
            break
