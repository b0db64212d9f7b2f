"""The platform daemon: ``python -m jupyter_serverless_ml.platform.daemon``.

Started on first use by any client (see ``client.ensure_running``) or by
``jsml platform start``. One per ``$JSML_HOME``: it holds an exclusive lock on
``daemon.lock`` for its lifetime. On start it opens the store, reconciles jobs
(re-adopting running ones, settling finished or lost ones), binds 127.0.0.1 on a
random port and then publishes ``platform.json``. SIGTERM stops it cleanly; jobs
keep running and are re-adopted by the next daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn

from .. import config
from . import connections, state
from .batch.manager import BatchManager
from .costs.service import service_for
from .drift import service as drift
from .jobs import sandbox
from .jobs.manager import JobManager
from .pipelines.routes import service_of as pipeline_service
from .schedules.manager import run_schedules
from .server import Platform, build_app
from .serving.endpoints import EndpointManager
from .serving.wire import ServingApp
from .store import Store
from .tuning import service as tuning

POLL_SECONDS = 0.25
log = logging.getLogger("jsml.platform")


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", int(os.environ.get("JSML_PORT", "0"))))
    sock.listen(512)
    sock.set_inheritable(False)
    return sock


async def serve(home: Path) -> None:
    """Run the daemon until SIGTERM/SIGINT or POST /v1/shutdown."""
    started = time.time()
    store = Store(home / "platform.db")
    support = sandbox.probe()
    log.info("sandbox: %s (%s)", "bubblewrap" if support.available else "none", support.reason)
    manager = JobManager(home, store, support)
    adopted = manager.reconcile()
    log.info("reconciled %d active job(s)", len(adopted))
    endpoints = EndpointManager(home, store)
    batches = BatchManager(home, store, endpoints)
    token = state.token(home)
    platform_ = Platform(manager, token, started, endpoints, batches)
    sock = _bind()
    port = sock.getsockname()[1]

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        monitor = asyncio.create_task(_monitor(platform_))
        pipelines = asyncio.create_task(pipeline_service(platform_).loop())
        scheduler = asyncio.create_task(run_schedules(home, store))
        drift_checks = drift.start(platform_)
        accrual = asyncio.create_task(service_for(platform_).run())
        tuner = asyncio.create_task(tuning.service_for(platform_).run())
        restored = await endpoints.restore()
        if restored:
            log.info("restoring endpoint(s): %s", ", ".join(restored))
        await batches.restore()
        state.write_json(
            home / state.STATE_FILE,
            {
                "pid": os.getpid(),
                "port": port,
                "url": f"http://127.0.0.1:{port}",
                "started_at": started,
                "python": sys.executable,
            },
        )
        log.info("listening on http://127.0.0.1:%d (pid %d)", port, os.getpid())
        try:
            yield
        finally:
            monitor.cancel()
            pipelines.cancel()
            scheduler.cancel()
            drift_checks.cancel()
            accrual.cancel()
            tuner.cancel()
            await batches.close()
            await endpoints.close()
            current = state.read_state(home)
            if current and current.get("pid") == os.getpid():
                (home / state.STATE_FILE).unlink(missing_ok=True)
            log.info("stopped")

    control = build_app(platform_)
    control.router.lifespan_context = lifespan
    app = ServingApp(control, endpoints, token)
    limits = connections.Limits.from_environment(connections.raise_descriptor_limit())
    log.info(
        "connections: at most %d, header timeout %gs, keep-alive %gs",
        limits.max_connections,
        limits.header_timeout,
        limits.keep_alive,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            http=connections.protocol(limits),
            loop="none",
            backlog=2048,
            timeout_keep_alive=max(1, round(limits.keep_alive)),
            limit_concurrency=limits.max_connections + 1,
        )
    )

    def shutdown() -> None:
        server.should_exit = True

    platform_.shutdown = shutdown
    await server.serve(sockets=[sock])
    store.close()


async def _monitor(platform_: Platform) -> None:
    while True:
        try:
            platform_.poll()
        except Exception:  # keep monitoring; the next round retries
            log.exception("monitor round failed")
        await asyncio.sleep(POLL_SECONDS)


def tighten(home: Path) -> None:
    """Make the home private (0700) and what it holds owner-only: the store, its WAL and
    shared-memory files, logs, state and lock files, and captured requests (older
    platforms left them 0644). Files created from here on are 0600 (umask 077)."""
    os.umask(0o077)
    targets = [home, *home.iterdir()]
    capture = home / "capture"
    if capture.is_dir() and not capture.is_symlink():
        targets += list(capture.rglob("*"))
    for path in targets:
        with contextlib.suppress(OSError):
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or not stat.S_IMODE(info.st_mode) & 0o077:
                continue
            path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def main() -> int:
    """Entry point; exits 0 at once when another daemon already owns this home."""
    home = config.home()
    tighten(home)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    lock = open(home / "daemon.lock", "w")  # noqa: SIM115 - held for the daemon's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.info("another daemon already serves %s; exiting", home)
        return 0
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(home))
    else:
        uvloop.run(serve(home))
    return 0


if __name__ == "__main__":
    sys.exit(main())
