"""The client of the local platform, used by the local backend, the CLI and the server extension.

:func:`connect` finds the running daemon through ``$JSML_HOME/platform.json`` and
starts one when none answers (under a file lock, so two kernels starting at once
get one daemon). It uses only the standard library so that importing it is cheap.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .. import config
from ..errors import JsmlError, PlatformUnavailable, from_wire
from . import state
from .jobs import procs

START_TIMEOUT = 30.0


class NotReached(PlatformUnavailable):
    """The request never reached a daemon (connection refused): safe to resend."""


class PlatformClient:
    """Typed calls to the platform's HTTP API (see ``server.py`` for the routes)."""

    def __init__(self, home: Path, port: int, token: str, pid: int | None = None) -> None:
        self.home = home
        self.port = port
        self.token = token
        self.pid = pid

    @property
    def url(self) -> str:
        """The control plane's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> Any:
        """Send one request; platform errors come back as the matching :class:`JsmlError`."""
        if params:
            query = {k: v for k, v in params.items() if v is not None}
            path += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except ConnectionRefusedError as exc:
            raise NotReached(
                f"the local platform at {self.url} refused the connection; check "
                f"`jsml platform status` and {self.home / state.DAEMON_LOG}"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise PlatformUnavailable(
                f"the local platform at {self.url} did not answer ({exc}); check "
                f"`jsml platform status` and {self.home / state.DAEMON_LOG}"
            ) from exc
        finally:
            conn.close()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"message": raw.decode(errors="replace")[:500]}
        if response.status >= 400:
            if response.status == 401:
                raise NotReached(f"the platform refused the token: {payload.get('message')}")
            raise from_wire(response.status, payload)
        return payload

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` with query ``params``."""
        timeout = float(params.get("timeout") or 0) + 30.0
        return self.request("GET", path, params=params, timeout=timeout)

    def post(self, path: str, body: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        """POST a JSON ``body`` to ``path``."""
        return self.request("POST", path, body=body or {}, timeout=timeout)

    def ping(self) -> bool:
        """True when the daemon answers with this token."""
        try:
            self.request("GET", "/v1/health", timeout=2.0)
            return True
        except JsmlError:
            return False


def _from_state(home: Path) -> PlatformClient | None:
    current = state.read_state(home)
    if not current:
        return None
    return PlatformClient(home, int(current["port"]), state.token(home), current.get("pid"))


def running(home: Path | None = None) -> PlatformClient | None:
    """A client of the daemon running for ``home``, or None when none answers."""
    home = home or config.home()
    client = _from_state(home)
    return client if client is not None and client.ping() else None


def _daemon_log_tail(home: Path, lines: int = 15) -> str:
    try:
        return "\n".join(
            (home / state.DAEMON_LOG).read_text(errors="replace").splitlines()[-lines:]
        )
    except OSError:
        return ""


def ensure_running(home: Path | None = None) -> PlatformClient:
    """A client of the platform daemon for ``home``, starting the daemon when none answers."""
    home = home or config.home()
    client = running(home)
    if client is not None:
        return client
    with open(home / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        client = running(home)
        if client is not None:
            return client
        state.token(home)
        proc = procs.spawn_detached(
            [sys.executable, "-m", "jupyter_serverless_ml.platform.daemon"],
            home / state.DAEMON_LOG,
            home,
            dict(os.environ, JSML_HOME=str(home)),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            current = state.read_state(home)
            if current and current.get("pid") == proc.pid:
                client = running(home)
                if client is not None:
                    return client
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        raise PlatformUnavailable(
            f"the local platform did not start within {START_TIMEOUT:.0f}s; its log "
            f"({home / state.DAEMON_LOG}) ends with:\n{_daemon_log_tail(home)}"
        )


def stop(home: Path | None = None, timeout: float = 15.0) -> bool:
    """Stop the daemon for ``home`` (jobs keep running); False when none was running."""
    home = home or config.home()
    client = running(home)
    if client is None:
        return False
    pid = client.pid
    try:
        client.post("/v1/shutdown")
    except JsmlError:
        if pid:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid or not _pid_alive(pid):
            return True
        time.sleep(0.05)
    if pid:
        os.kill(pid, signal.SIGKILL)
    return True


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
