"""The framing between the platform's router and its serving processes.

A frame is a 9-byte header ``!IIB`` (body length, request id, op) and a body.
The router writes invocation and batch frames on a replica's socket; the
replica answers with result frames carrying the same request id, in order.
Standard library only: this module is copied into bundles as ``jsml_runtime``.
"""

from __future__ import annotations

import array
import json
import socket
import struct
from typing import Any

HEADER = struct.Struct("!IIB")
INVOKE_META = struct.Struct("!BBB")  # route, content-type length, accept length
RESULT_META = struct.Struct("!HB")  # status, content-type length

# router -> replica
OP_INVOKE = 1
OP_BATCH_PLAN = 2
OP_BATCH_SHARD = 3
OP_STOP = 4
OP_INVOKE_MODEL = 5  # a multi-model endpoint's invocation: a JSON header naming the model first
OP_WARMUP = 6  # an invocation of the warm-up set: answered like OP_INVOKE, never captured
# replica -> router
OP_READY = 10
OP_RESULT = 11
OP_REPLY = 12  # a JSON answer to a batch op
OP_EVENT = 13  # a JSON note from a multi-model replica: a model loaded, evicted or failed

# how the caller wants answers shaped
ROUTE_NATIVE = 0  # POST /endpoints/<name>/invocations with the platform token
ROUTE_SAGEMAKER = 1  # the same route, called by an AWS client (SigV4)
ROUTE_VERTEX = 2  # POST /v1/projects/<p>/locations/<l>/endpoints/<name>:predict


def frame(op: int, request_id: int, body: bytes) -> bytes:
    """One frame: header and body."""
    return HEADER.pack(len(body), request_id, op) + body


def invoke_body(route: int, content_type: bytes, accept: bytes, payload: bytes) -> bytes:
    """The body of an invocation frame."""
    content_type, accept = content_type[:255], accept[:255]
    return INVOKE_META.pack(route, len(content_type), len(accept)) + content_type + accept + payload


def parse_invoke(body: bytes) -> tuple[int, str, str, bytes]:
    """(route, content type, accept, payload) of an invocation frame's body."""
    route, ct_len, accept_len = INVOKE_META.unpack_from(body)
    start = INVOKE_META.size
    content_type = body[start : start + ct_len].decode("latin-1")
    accept = body[start + ct_len : start + ct_len + accept_len].decode("latin-1")
    return route, content_type, accept, body[start + ct_len + accept_len :]


def result_body(status: int, content_type: str, payload: bytes) -> bytes:
    """The body of a result frame."""
    ct = content_type.encode("latin-1")[:255]
    return RESULT_META.pack(status, len(ct)) + ct + payload


def parse_result(body: bytes) -> tuple[int, str, bytes]:
    """(status, content type, payload) of a result frame's body."""
    status, ct_len = RESULT_META.unpack_from(body)
    start = RESULT_META.size
    return status, body[start : start + ct_len].decode("latin-1"), body[start + ct_len :]


MODEL_META = struct.Struct("!H")  # length of the JSON header of an OP_INVOKE_MODEL body


def invoke_model_body(header: bytes, invoke: bytes) -> bytes:
    """The body of a multi-model invocation: a JSON header (model, directory) and an
    invocation body as :func:`invoke_body` makes it."""
    return MODEL_META.pack(len(header)) + header + invoke


def parse_invoke_model(body: bytes) -> tuple[dict[str, Any], bytes]:
    """(header, invocation body) of an OP_INVOKE_MODEL frame's body."""
    (size,) = MODEL_META.unpack_from(body)
    start = MODEL_META.size
    return json.loads(body[start : start + size]), body[start + size :]


def json_frame(op: int, request_id: int, data: Any) -> bytes:
    """A frame whose body is JSON."""
    return frame(op, request_id, json.dumps(data).encode())


_FD_SPACE = socket.CMSG_SPACE(253 * array.array("i").itemsize)  # SCM_MAX_FD descriptors


class BlockingChannel:
    """The replica's side of its socket: read one frame, write one frame.

    File descriptors the router sends with a frame (SCM_RIGHTS: a batch shard's
    input and part file) are collected; :meth:`take_fds` hands them over.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.fds: list[int] = []

    def _fill(self, size: int) -> bool:
        """Read until the buffer holds ``size`` bytes; False at end of stream."""
        buffer = self.buffer
        while len(buffer) < size:
            data, ancillary, _, _ = self.sock.recvmsg(1 << 16, _FD_SPACE)
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                    self.fds.extend(fds)
            if not data:
                return False
            buffer += data
        return True

    def read(self) -> tuple[int, int, bytes] | None:
        """(op, request id, body), or None when the router closed the socket."""
        size = HEADER.size
        if not self._fill(size):
            return None
        length, request_id, op = HEADER.unpack_from(self.buffer)
        if not self._fill(size + length):
            return None
        body = bytes(self.buffer[size : size + length])
        del self.buffer[: size + length]
        return op, request_id, body

    def take_fds(self) -> list[int]:
        """The file descriptors received since the last call (the caller closes them)."""
        fds, self.fds = self.fds, []
        return fds

    def write(self, data: bytes) -> None:
        """Send bytes (a whole frame)."""
        self.sock.sendall(data)
