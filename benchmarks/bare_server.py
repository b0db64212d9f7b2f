"""The baseline server: one uvicorn (uvloop, httptools) process serving the model directly.

``python benchmarks/bare_server.py MODEL_DIR PORT_FILE`` binds 127.0.0.1 on a
free port (TCP_NODELAY), writes the port, and answers POST with the same codec
and model the platform's replicas use, without the router in between.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn

from jupyter_serverless_ml.runtime import frames
from jupyter_serverless_ml.runtime.replica import Replica


def make_app(model_dir: str) -> Any:
    """An ASGI app answering every POST with the replica codec and model, nothing between."""
    replica = Replica({"model_dir": model_dir, "variant": "bare", "model": "bare:1"})

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, content_type, out = replica.answer(
            frames.ROUTE_NATIVE, "application/json", "application/json", body
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(out)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})

    return app


def serve(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on a bound socket with uvicorn, uvloop and httptools."""
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", log_level="warning", access_log=False, lifespan="off"
    )
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    model_dir, port_file = sys.argv[1], sys.argv[2]
    app = make_app(model_dir)
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    with open(port_file, "w") as fh:
        fh.write(str(sock.getsockname()[1]))
    serve(app, sock)


if __name__ == "__main__":
    main()
