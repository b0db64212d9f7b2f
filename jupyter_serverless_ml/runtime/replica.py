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

from . import content, frames
from .predict import InputError, Predictor, dumps, loads

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    406: "INVALID_ARGUMENT",
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


class ProbeFailed(RuntimeError):
    """The model loaded, but raised on its own example (or a row of zeros)."""


class Replica:
    """Decodes, predicts and encodes for one model (or runs its inference code)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        method = spec.get("method") or "predict"
        code = spec.get("code")
        self.service: Any = None
        self.predictor: Predictor | None = None
        if code:
            from . import handlers

            self.service = handlers.load_service(code, spec["model_dir"], method)
        else:
            self.predictor = Predictor(spec["model_dir"], method, mmap=True)
        self.deployed_model_id = str(spec.get("deployed_model_id", spec.get("variant", "")))
        self.model_label = str(spec.get("model", ""))
        self.capture = Capture(spec.get("capture"), spec.get("replica", "r"))

    def for_replica(self, spec: dict[str, Any]) -> Replica:
        """This loaded model (a template's, in a fork of it) serving as replica ``spec``."""
        self.spec = spec
        self.deployed_model_id = str(spec.get("deployed_model_id", spec.get("variant", "")))
        self.model_label = str(spec.get("model", ""))
        self.capture = Capture(spec.get("capture"), spec.get("replica", "r"))
        return self

    def probe(self) -> None:
        """Predict the model's signature example (or a row of zeros) once: a model that
        loads but cannot predict fails here, before the endpoint serves."""
        if self.predictor is None:
            return
        rows = self.predictor.probe_rows()
        if rows is None:
            return
        example = (self.predictor.meta.get("signature") or {}).get("example")
        try:
            self.predictor.predict(rows)
        except Exception as exc:
            what = "its signature example" if example else "a probe row"
            raise ProbeFailed(
                f"the model loaded but could not predict {what}: {_where(exc)}"
            ) from None

    def answer(
        self, route: int, content_type: str, accept: str, payload: bytes
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) for one invocation."""
        try:
            if route == frames.ROUTE_VERTEX:
                return self._vertex(payload)
            if self.service is not None:
                if not hasattr(self.service, "invocations"):
                    out_type, body = self._routine_invocations(content_type, accept, payload)
                else:
                    out_type, body = self.service.invocations(content_type, accept, payload)
                return 200, out_type, body
            return self._invocations(route, content_type, accept, payload)
        except InputError as exc:
            return self.error(route, exc.status, "InputError", str(exc))
        except Exception as exc:
            return self.error(route, 500, "ModelError", f"the model raised {_where(exc)}")

    def _invocations(
        self, route: int, content_type: str, accept: str, payload: bytes
    ) -> tuple[int, str, bytes]:
        assert self.predictor is not None
        kind = content.request_type(content_type)
        out = content.response_type(accept)
        inputs = self.decode(route, kind, payload)
        predictions = self.predictor.predict(inputs)
        if out == content.JSON and route == frames.ROUTE_NATIVE:
            return 200, out, dumps({"predictions": Predictor.to_list(predictions)})
        return 200, out, content.encode(predictions, out)

    def _routine_invocations(
        self, content_type: str, accept: str, payload: bytes
    ) -> tuple[str, bytes]:
        """A custom prediction routine on the SageMaker route: JSON in, JSON out."""
        if content.request_type(content_type) != content.JSON:
            raise InputError("this model's Predictor takes application/json", status=415)
        content.response_type(accept, (content.JSON,))
        return content.JSON, content.encode(self.service.vertex(loads(payload)), content.JSON)

    def _vertex(self, payload: bytes) -> tuple[int, str, bytes]:
        data = self._decoded(lambda: loads(payload, constants=self.predictor is not None))
        if not (isinstance(data, dict) and "instances" in data):
            raise InputError('a Vertex predict request needs {"instances": [...]}')
        if self.service is not None:
            reply = self.service.vertex(data)
        else:
            assert self.predictor is not None
            inputs = self._decoded(lambda: self.predictor.rows_from_json(data))
            reply = {"predictions": Predictor.to_list(self.predictor.predict(inputs))}
        if isinstance(reply, dict) and "predictions" in reply:
            reply.setdefault("deployedModelId", self.deployed_model_id)
            reply.setdefault("model", self.model_label)
            reply.setdefault("modelDisplayName", self.model_label.split(":")[0])
            reply.setdefault("modelVersionId", self.model_label.rpartition(":")[2])
        return 200, content.JSON, content.encode(reply, content.JSON)

    @staticmethod
    def _decoded(decode: Any) -> Any:
        """Run a decoder: whatever it raises is the request's fault (a 400)."""
        try:
            return decode()
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"the body cannot be read: {type(exc).__name__}: {exc}") from None

    def decode(self, route: int, content_type: str, payload: bytes) -> Any:
        """The model's input from a request body (any failure is an InputError: a 400)."""
        predictor = self.predictor
        assert predictor is not None
        kind = content.request_type(content_type)

        def run() -> Any:
            if kind == content.JSON:  # non-finite values: refused by the frame, by name
                data = loads(payload, constants=True)
                if route == frames.ROUTE_VERTEX and not (
                    isinstance(data, dict) and "instances" in data
                ):
                    raise InputError('a Vertex predict request needs {"instances": [...]}')
                return predictor.rows_from_json(data)
            if kind == content.JSONLINES:
                return predictor.rows_from_jsonlines(payload)
            if kind == content.CSV:
                try:
                    text = payload.decode()
                except UnicodeDecodeError as exc:
                    raise InputError(f"the CSV body is not UTF-8: {exc}") from None
                return predictor.rows_from_csv(text)
            return predictor.rows_from_array(content.read_array(payload, kind))

        return self._decoded(run)

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


def _where(exc: BaseException) -> str:
    """``Type: message (in file:line)`` of an exception, at the frame that raised it."""
    frames_ = traceback.extract_tb(exc.__traceback__)
    if not frames_:
        return f"{type(exc).__name__}: {exc}"
    where = frames_[-1]
    return f"{type(exc).__name__}: {exc} (in {Path(where.filename).name}:{where.lineno})"


def load_probe(replica: Replica, spec: dict[str, Any]) -> None:
    """Probe a freshly loaded model when ``spec`` asks for it (a deploy's first replica)."""
    if spec.get("probe"):
        replica.probe()


def load_error(exc: BaseException) -> str:
    """What a failed load (or probe) says."""
    if isinstance(exc, ProbeFailed):
        return str(exc)
    return f"could not load the model: {type(exc).__name__}: {exc}"


def serve(spec: dict[str, Any], sock: socket.socket, loaded: Replica | None = None) -> None:
    """Load the model (or take the template's ``loaded`` one), announce READY, then answer
    frames until the router closes."""
    channel = frames.BlockingChannel(sock)
    started = time.perf_counter()
    try:
        if loaded is not None:
            replica = loaded.for_replica(spec)
        else:
            replica = Replica(spec)
            load_probe(replica, spec)
    except Exception as exc:
        channel.write(
            frames.json_frame(
                frames.OP_READY, 0, {"ok": False, "pid": os.getpid(), "error": load_error(exc)}
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
                "template": loaded is not None,
            },
        )
    )
    capture = replica.capture
    while (message := channel.read()) is not None:
        op, request_id, body = message
        if op == frames.OP_WARMUP:
            route, content_type, accept, payload = frames.parse_invoke(body)
            status, out_type, out = replica.answer(route, content_type, accept, payload)
            channel.write(
                frames.frame(
                    frames.OP_RESULT, request_id, frames.result_body(status, out_type, out)
                )
            )
        elif op == frames.OP_INVOKE:
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
                predictor = replica.predictor
                if predictor is None:  # batch workers never run inference scripts
                    raise batch.DataError("batch prediction does not run inference scripts")
                reply = batch.handle(op, json.loads(body), predictor, channel.take_fds())
            except Exception as exc:
                reply = {
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "retryable": not isinstance(exc, batch.DataError),
                }
            channel.write(frames.json_frame(frames.OP_REPLY, request_id, reply))
        elif op == frames.OP_STOP:
            break
