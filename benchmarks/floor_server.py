"""The physical floor for serving one model over HTTP: a minimal uvicorn server.

``python benchmarks/floor_server.py MODEL_FILE PORT_FILE`` loads a joblib model,
binds 127.0.0.1 on a free port (TCP_NODELAY), writes the port, and answers every
POST by decoding ``{"instances": [...]}`` straight into a numpy array, calling
``predict`` and writing ``{"predictions": [...]}``: no validation, no router, no
second process. What the platform adds over this is its whole cost.
"""

from __future__ import annotations

import json
import socket
import sys
import warnings
from typing import Any

import joblib
import numpy as np
import uvicorn


def make_app(model_file: str) -> Any:
    """An ASGI app: JSON rows in, ``predict``, JSON predictions out."""
    warnings.filterwarnings("ignore")  # sklearn warns per call about numpy rows; no cost here
    model = joblib.load(model_file)
    headers = [(b"content-type", b"application/json")]

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        rows = np.asarray(json.loads(body)["instances"], dtype=float)
        out = json.dumps({"predictions": model.predict(rows).tolist()}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*headers, (b"content-length", str(len(out)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": out})

    return app


def main() -> None:
    model_file, port_file = sys.argv[1], sys.argv[2]
    app = make_app(model_file)
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    with open(port_file, "w") as fh:
        fh.write(str(sock.getsockname()[1]))
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", log_level="warning", access_log=False, lifespan="off"
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
