"""A model's template: a fork of the zygote that loaded one model and forks its replicas.

The platform keeps one per model an endpoint serves (``--keep-warm``, the
default) for as long as the endpoint exists, even at zero replicas. It lives in
the zygote's sandbox; its replicas are forks of it, so scaling from zero costs a
fork rather than a model load, and every replica shares the model's pages with
the template copy-on-write (``gc.freeze()`` keeps the collector from touching
them). The template answers its hello (``{"ok", "pid", "load_seconds"}``, or
``{"ok": false, "error"}``) as a datagram on its SEQPACKET socket, then serves
the zygote's command loop (``spawn``) on that socket until the platform closes
it; its replicas die with it.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import time
from typing import Any


def serve(spec: dict[str, Any], sock: socket.socket) -> None:
    """Load ``spec``'s model (and probe it), say so, then fork replicas on command."""
    from . import replica
    from .zygote import Zygote

    started = time.perf_counter()
    try:
        loaded = replica.Replica(spec)
        replica.load_probe(loaded, spec)
    except Exception as exc:
        sock.send(
            json.dumps({"ok": False, "pid": os.getpid(), "error": replica.load_error(exc)}).encode()
        )
        return
    gc.collect()
    gc.freeze()  # the model's objects stay on pages the replicas share
    hello = {"ok": True, "pid": os.getpid(), "load_seconds": time.perf_counter() - started}
    sock.send(json.dumps(hello).encode())
    Zygote(sock, loaded=loaded).run()


__all__ = ["serve"]
