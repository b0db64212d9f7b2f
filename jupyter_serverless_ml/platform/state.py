"""Files under ``$JSML_HOME`` that clients, the daemon and supervisors share.

- ``token``: the platform's bearer token (0600, created once).
- ``platform.json``: the running daemon's pid, port and URL (0600, removed on clean exit).
- ``daemon.log``: the daemon's log.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

STATE_FILE = "platform.json"
TOKEN_FILE = "token"
DAEMON_LOG = "daemon.log"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically and durably, with mode 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())  # the rename must never expose an empty file after a crash
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (mode 0600)."""
    write_private(path, json.dumps(data, indent=2, default=str))


def read_json(path: Path) -> dict[str, Any] | None:
    """Read a JSON file written by :func:`write_json`; None when missing or torn."""
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def token(home: Path) -> str:
    """The platform token, created on first use."""
    path = home / TOKEN_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        return value


def read_state(home: Path) -> dict[str, Any] | None:
    """The running daemon's state (pid, port, url), or None."""
    return read_json(home / STATE_FILE)


def nudge(home: Path, path: str, timeout: float = 1.0) -> bool:
    """POST ``path`` to the running daemon (a hint; False when no daemon answers)."""
    import http.client

    state = read_state(home)
    if not state:
        return False
    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(state["port"]), timeout=timeout)
        conn.request(
            "POST",
            path,
            body=b"{}",
            headers={"Authorization": f"Bearer {token(home)}", "Content-Type": "application/json"},
        )
        ok = conn.getresponse().status < 300
        conn.close()
        return ok
    except (OSError, KeyError, ValueError, http.client.HTTPException):
        return False
