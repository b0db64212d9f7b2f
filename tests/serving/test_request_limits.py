"""Endpoints and the daemon against hostile requests and connections.

Bodies that crashed replicas (deep nesting, NaN, huge numbers, odd shapes) must be
4xx with no replica lost; connections that never finish a request must be closed;
an unauthenticated request is refused before its body is read.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
import serving_models
from serving_models import Doubler

from jupyter_serverless_ml import serving
from jupyter_serverless_ml.platform import client, state
from jupyter_serverless_ml.serving import Endpoint

cloudpickle.register_pickle_by_value(serving_models)


@pytest.fixture(scope="module")
def doubler(platform_home: Path) -> Endpoint:
    return serving.deploy(Doubler(), name="limits", min_replicas=2, max_replicas=2)


@pytest.fixture(scope="module")
def named(platform_home: Path) -> Endpoint:
    """A model with feature names (the frame path of the decoder)."""
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LinearRegression().fit(frame, [0.0, 2.0, 4.0, 6.0])
    return serving.deploy(model, name="limits-named")


def _post(ep: Endpoint, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    url = ep.invocation_url.split("/", 3)
    host, port = url[2].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    token = state.token(Path(os.environ["JSML_HOME"]))
    try:
        conn.request(
            "POST",
            "/" + url[3],
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _pids(ep: Endpoint) -> set[int]:
    return {r["pid"] for r in ep.refresh().record["replica_list"]}


HOSTILE = [
    ("application/json", b"[" * 100_000, "brackets do not balance"),
    ("application/json", b"[" * 100_000 + b"]" * 100_000, "nests more than 64 levels"),
    ("application/json", b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, "nests more than"),
    ("application/json", b'{"instances": [[NaN, 0]]}', "not a finite number"),
    ("application/json", b'{"instances": [[Infinity, 0]]}', "not a finite number"),
    ("application/json", b'{"instances": [[-Infinity, 0]]}', "not a finite number"),
    ("application/json", b'{"instances": [[1e999, 0]]}', "not a finite number"),
    ("application/json", b'{"instances": [[1' + b"0" * 400 + b", 0]]}", "must be numbers"),
    ("application/json", b'{"instances": [[1' + b"0" * 5000 + b", 0]]}", "not valid JSON"),
    ("application/json", b'{"dataframe_split": {"data": [[1, 2]], "columns": 5}}', "rows"),
    ("application/json", b'[{"a": 1}, 5]', "rows"),
    ("application/json", b'{"instances": [[1, [2, [3]]]]}', ""),
    ("application/json", b'{"instances": {"a": 1}}', "expected a list"),
    ("text/csv", b"nan,0\n", "not a finite number"),
    ("text/csv", b"inf,0\n", "not a finite number"),
    ("text/csv", b"1e999,0\n", "not a finite number"),
    ("text/csv", b"1" * 200_000 + b",0\n", "CSV body cannot be read"),
    ("text/csv", b'"unterminated,0\n' + b"x" * 200_000, ""),
]


@pytest.mark.parametrize(("content_type", "body", "message"), HOSTILE)
def test_hostile_bodies_are_4xx_and_no_replica_dies(
    doubler: Endpoint, content_type: str, body: bytes, message: str
) -> None:
    pids = _pids(doubler)
    assert len(pids) == 2
    status, reply = _post(doubler, body, content_type)
    assert 400 <= status < 500, (status, reply)
    assert message in reply["message"]
    status, reply = _post(doubler, b'{"instances": [[3, 0]]}', "application/json")
    assert (status, reply) == (200, {"predictions": [6.0]})
    assert _pids(doubler) == pids
    assert not doubler.events("replica_exit")


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [{"a": NaN, "b": 1}]}',
        b'{"instances": [{"a": 1e400, "b": 1}]}',
        b'{"dataframe_split": {"columns": ["b", "a"], "data": [[1, Infinity]]}}',
        b'{"instances": [[1, "inf"]]}',
    ],
)
def test_non_finite_values_are_400_on_the_frame_path_too(named: Endpoint, body: bytes) -> None:
    status, reply = _post(named, body, "application/json")
    assert status == 400 and "not a finite number" in reply["message"], reply
    assert re.search(r"feature '(a|b)' in row 1", reply["message"])


def test_null_is_a_missing_value_not_a_bad_one(doubler: Endpoint) -> None:
    status, reply = _post(doubler, b'{"instances": [[null, 0], [2, 0]]}', "application/json")
    assert (status, reply) == (200, {"predictions": [None, 4.0]})


def test_a_csv_body_with_a_byte_order_mark_reads_its_first_value(
    doubler: Endpoint, named: Endpoint
) -> None:
    assert _post(doubler, b"\xef\xbb\xbf3,0\n4,0\n", "text/csv") == (
        200,
        {"predictions": [6.0, 8.0]},
    )
    status, reply = _post(named, "\ufeffa,b\n1,0\n".encode(), "text/csv")
    assert status == 200 and reply["predictions"] == [pytest.approx(2.0)]


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


def _read_all(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """What the server sends until it closes the connection (raises on timeout)."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:  # closed with our unread bytes in its buffer: closed too
        pass
    return b"".join(chunks)


@pytest.mark.parametrize("path", ["/endpoints/limits/invocations", "/v1/jobs"])
def test_an_unauthenticated_request_is_refused_before_its_body(
    doubler: Endpoint, path: str
) -> None:
    port = client.ensure_running().port
    with _connect(port) as sock:
        # six megabytes announced, none sent: the answer must not wait for them
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 6000000\r\n\r\n".encode()
        )
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 401 "), reply[:200]
    assert b"connection: close" in reply.lower()


def test_slow_idle_and_excess_connections_are_closed(private_home: Any) -> None:
    home = private_home(
        "conns",
        JSML_HTTP_HEADER_TIMEOUT="3",
        JSML_HTTP_KEEP_ALIVE="1",
        JSML_HTTP_MAX_CONNECTIONS="100",
    )
    running = client.ensure_running(home)
    with open(f"/proc/{running.pid}/limits") as fh:
        line = next(x for x in fh if x.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard, line
    held: list[socket.socket] = []
    try:
        for i in range(300):  # idle (never send) and slow-header connections, alternating
            sock = _connect(running.port)
            if i % 2:
                sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nAuthoriz")
            held.append(sock)
        replies = [_read_all(sock, timeout=30.0) for sock in held]  # the server closes each
        refused = [r for r in replies if r.startswith(b"HTTP/1.1 503 ")]
        assert refused and b"JSML_HTTP_MAX_CONNECTIONS" in refused[0]
        # a keep-alive connection that goes idle after a response is closed too
        with _connect(running.port) as sock:
            sock.sendall(
                f"GET /v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {running.token}"
                "\r\n\r\n".encode()
            )
            assert _read_all(sock).startswith(b"HTTP/1.1 200 ")
        assert running.ping()
    finally:
        for sock in held:
            sock.close()
