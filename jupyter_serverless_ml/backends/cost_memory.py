"""What a cloud backend's resources cost, remembered after the cloud forgets them.

A cloud lists only the endpoints that exist now, so an undeployed endpoint would drop
out of ``cost()``. Each cloud backend's ledger keeps the last priced use of every
resource it saw in ``$JSML_HOME/ledgers/<backend>.json``; a resource no longer
listed stays with its last use, ended when it was last seen. Only this tool writes
the file (0600, replaced atomically); a damaged one is set aside and started again.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from .. import config

_LOCK = threading.Lock()


def path_of(backend: str) -> Path:
    """The ledger file of ``backend``."""
    return config.home() / "ledgers" / f"{backend}.json"


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        path.replace(path.with_suffix(".damaged"))
        return {}
    return {str(k): dict(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ledger-")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def remember(backend: str, items: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """``items`` (what the cloud lists now, unpriced) with the remembered use of resources
    it no longer lists; the file is brought up to date."""
    path = path_of(backend)
    with _LOCK:
        known = _read(path)
        seen = set()
        for item in items:
            key = f"{item['kind']}/{item['resource']}"
            seen.add(key)
            known[key] = dict(item, last_seen=now)
        for key, item in known.items():
            if key not in seen and not item.get("ended_at"):
                item["ended_at"] = item.get("last_seen") or now
        _write(path, known)
    return [
        {k: v for k, v in item.items() if k != "last_seen"}
        for key, item in known.items()
        if key not in seen
    ] + items


__all__ = ["path_of", "remember"]
