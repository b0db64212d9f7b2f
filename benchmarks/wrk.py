"""Driving a server with ``wrk`` (a C load generator, Debian package ``wrk``) for POST bodies.

A Python load generator on the same two cores costs about four times what the
server does per request and hides the difference between two servers; wrk
does not. :func:`run` writes a Lua script that sets the method, headers and
body, runs wrk with ``--latency`` and parses its throughput and percentiles.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def available() -> bool:
    """Whether ``wrk`` is installed."""
    return shutil.which("wrk") is not None


def lua_script(body: bytes, headers: dict[str, str]) -> str:
    """A wrk script sending ``body`` as a POST with ``headers``."""
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body.decode())}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def parse(output: str) -> dict[str, Any]:
    """Throughput, p50/p90/p99 (ms), requests and errors from wrk's ``--latency`` output."""

    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
        return float(number) * _UNITS[unit]

    result: dict[str, Any] = {}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise RuntimeError(f"wrk printed no throughput:\n{output}")
    result["rps"] = float(rps.group(1))
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", output, re.M)
        if match:
            result[f"p{pct}_ms"] = ms(match.group(1))
    total = re.search(r"(\d+) requests in", output)
    result["requests"] = int(total.group(1)) if total else 0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["errors"] = int(errors.group(1)) if errors else 0
    return result


def run(
    url: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
) -> dict[str, Any]:
    """wrk with ``concurrency`` connections on one thread for ``seconds``; parsed."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(lua_script(body, headers))
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        )
    result = parse(done.stdout)
    result["concurrency"] = concurrency
    return result
