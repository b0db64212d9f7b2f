"""Multi-instance launcher: ``python -m jsml_runtime.ranks N`` runs N ranks of the job.

Each rank is a runner process with ``RANK``, ``LOCAL_RANK`` and
``SM_CURRENT_HOST=algo-<rank+1>``; ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` come from the supervisor. Output lines are prefixed with the
host name. When one rank fails the others are stopped; the exit code is the
first failure's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import IO


def _pump(stream: IO[bytes], prefix: bytes, lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        with lock:
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.buffer.flush()


def main(argv: list[str] | None = None) -> int:
    """Start the ranks and wait for them."""
    count = int((argv or sys.argv[1:])[0])
    lock = threading.Lock()
    procs: list[subprocess.Popen[bytes]] = []
    pumps = []
    for rank in range(count):
        env = dict(
            os.environ, RANK=str(rank), LOCAL_RANK=str(rank), SM_CURRENT_HOST=f"algo-{rank + 1}"
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "jsml_runtime.runner"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdout is not None
        pump = threading.Thread(
            target=_pump, args=(proc.stdout, f"[algo-{rank + 1}] ".encode(), lock)
        )
        pump.start()
        procs.append(proc)
        pumps.append(pump)
    failed = 0
    pending = list(procs)
    while pending:
        for proc in list(pending):
            try:
                code = proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            pending.remove(proc)
            if code != 0 and not failed:
                failed = code if code > 0 else 1
                for other in pending:
                    other.terminate()
    for pump in pumps:
        pump.join()
    return failed


if __name__ == "__main__":
    sys.exit(main())
