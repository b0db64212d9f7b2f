"""A small keep-alive HTTP load generator (asyncio + uvloop) for the serving benchmarks.

Each of ``concurrency`` connections sends one prebuilt request after another
for ``seconds``; the result is throughput and latency percentiles. Written to
cost little per request so it measures the server, not itself.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any


def request_bytes(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _worker(
    host: str, port: int, payload: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    while time.perf_counter() < until:
        started = time.perf_counter()
        writer.write(payload)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            errors.append(status)
    writer.close()


async def _run(
    host: str, port: int, payload: bytes, concurrency: int, seconds: float, warmup: float
) -> dict[str, Any]:
    if warmup:
        await _run(host, port, payload, concurrency, warmup, 0)
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_worker(host, port, payload, until, latencies, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
    }


def run(
    host: str,
    port: int,
    payload: bytes,
    concurrency: int,
    seconds: float = 3.0,
    warmup: float = 0.5,
) -> dict[str, Any]:
    """Drive ``payload`` at ``concurrency`` for ``seconds``; throughput and latency."""
    try:
        import uvloop

        return uvloop.run(_run(host, port, payload, concurrency, seconds, warmup))
    except ImportError:
        return asyncio.run(_run(host, port, payload, concurrency, seconds, warmup))
