"""The framing between the platform's router and its serving processes.

A frame is a 9-byte header ``!IIB`` (body length, request id, op) and a body.
The router writes invocation and batch frames on a replica's socket; the
replica answers with result frames carrying the same request id, in order.
Standard library only: this module is copied into bundles as ``jsml_runtime``.
"""

from __future__ import annotations

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
# replica -> router
OP_READY = 10
OP_RESULT = 11
OP_REPLY = 12  # a JSON answer to a batch op

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


def json_frame(op: int, request_id: int, data: Any) -> bytes:
    """A frame whose body is JSON."""
    return frame(op, request_id, json.dumps(data).encode())


class BlockingChannel:
    """The replica's side of its socket: read one frame, write one frame."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=1 << 16)

    def read(self) -> tuple[int, int, bytes] | None:
        """(op, request id, body), or None when the router closed the socket."""
        header = self.reader.read(HEADER.size)
        if len(header) < HEADER.size:
            return None
        length, request_id, op = HEADER.unpack(header)
        body = self.reader.read(length)
        if len(body) < length:
            return None
        return op, request_id, body

    def write(self, data: bytes) -> None:
        """Send bytes (a whole frame)."""
        self.sock.sendall(data)
