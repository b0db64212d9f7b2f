"""A job's memory, process and disk limits: counted right, and a clear reason when hit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.errors import JobFailed, UsageError
from jupyter_serverless_ml.platform import client
from jupyter_serverless_ml.platform.jobs import cgroups, sandbox

SANDBOXED = sandbox.probe().available
needs_sandbox = pytest.mark.skipif(  # CI sets JSML_REQUIRE_SANDBOX=1: there they must run
    not SANDBOXED and not os.environ.get("JSML_REQUIRE_SANDBOX"),
    reason=f"sandbox-only: {sandbox.probe().reason}",
)
pytestmark = pytest.mark.timeout(240)


def run(source: str, **kwargs: Any) -> jsml.Job:
    kwargs.setdefault("name", "limited")
    return jsml.train(source, namespace={}, **kwargs)


def test_a_fork_pool_sharing_its_pages_stays_under_the_memory_limit(home: Path) -> None:
    # 8 forked workers each map the parent's 60 MB: the RSS sum is ~9x that, the memory ~1x
    cell = (
        "import multiprocessing as mp\n"
        "big = bytearray(60 * 1024 * 1024)\n"
        "def touch(i):\n    return sum(big[::4096]) + i\n"
        "with mp.get_context('fork').Pool(8) as pool:\n"
        "    model = sorted(pool.map(touch, range(8)))\n"
    )
    job = run(cell, name="pool", memory="400M")
    assert job.status == "Completed" and job.model() == list(range(8))


@needs_sandbox
def test_files_in_the_sandbox_tmp_and_shm_count_as_memory(home: Path) -> None:
    cell = (
        "chunk = b'x' * (16 * 1024 * 1024)\n"
        "for target in ('/dev/shm/fill', '/tmp/fill'):\n"
        "    with open(target, 'wb') as fh:\n"
        "        for _ in range(12):\n            fh.write(chunk); fh.flush()\n"
        "import time\ntime.sleep(30)\n"
    )
    with pytest.raises(JobFailed, match=r"exceeded --memory 200M per instance.*/dev/shm"):
        run(cell, name="tmpfs-hog", memory="200M", max_runtime="120s")


def test_a_fork_bomb_is_stopped_with_a_clear_reason(home: Path) -> None:
    cell = (
        "import os, time\n"
        "for _ in range(400):\n"
        "    try:\n        os.fork()\n"
        "    except OSError:\n        time.sleep(0.05)\n"
        "time.sleep(30)\n"
    )
    with pytest.raises(JobFailed, match=r"exceeded --max-processes 64.*raise --max-processes"):
        run(cell, name="forkbomb", max_processes=64, max_runtime="120s")


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("os.environ['SM_OUTPUT_DATA_DIR']", id="opt-ml"),
        pytest.param("'/tmp'", id="tmp", marks=needs_sandbox),  # the job's own /tmp
    ],
)
def test_a_disk_filler_is_stopped_with_a_clear_reason(home: Path, where: str) -> None:
    cell = (
        "import os, time\n"
        "chunk = os.urandom(1024 * 1024)\n"
        f"with open(os.path.join({where}, 'fill'), 'wb') as fh:\n"
        "    for _ in range(400):\n"
        "        fh.write(chunk); fh.flush(); time.sleep(0.002)\n"
        "time.sleep(30)\n"
    )
    with pytest.raises(JobFailed, match=r"--max-disk 40M") as failed:
        run(cell, name="filler", max_disk="40M", max_runtime="120s")
    assert "raise --max-disk" in failed.value.reason


def test_limits_are_checked_before_submitting(home: Path) -> None:
    with pytest.raises(UsageError, match="--max-processes must be 1 or more"):
        run("x = 1\n", max_processes=0)
    with pytest.raises(UsageError, match="--max-disk must be at least 1M"):
        run("x = 1\n", max_disk="10K")


def test_the_job_log_names_the_limits_and_groups_are_removed(
    private_home: Callable[..., Path],
) -> None:
    home = private_home("groups")
    job = run("model = 1\n", name="tidy", memory="1G", max_processes=100, max_disk="1G")
    log = job.logs()
    assert "limits: memory 1G, 100 processes, disk 1G (/opt/ml and /tmp)" in log
    probe = cgroups.create(home, "probe", 1 << 30, 10)
    if probe is None:
        assert "enforced by polling" in log
        return
    probe.remove()
    assert "enforced by control groups" in log
    parents = cgroups._parents(home)
    assert all(not (parent / job.id).exists() for parent in parents.values())
    # a group left by a supervisor that was killed is removed when the daemon starts
    stale = cgroups.create(home, "stale-job", None, 10)
    assert stale is not None and all(d.exists() for d in stale.dirs.values())
    client.stop(home, timeout=10)
    client.ensure_running(home)
    deadline = time.monotonic() + 30
    while any(d.exists() for d in stale.dirs.values()):
        assert time.monotonic() < deadline, "the stale group was not removed"
        time.sleep(0.1)
