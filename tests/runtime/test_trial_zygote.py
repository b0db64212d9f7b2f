"""The trial zygote's protocol, driven over its socket as a trial host does (no daemon).

A real zygote process runs a real cell bundle: a forked trial waits for ``go``; a trial
handed to the parked spare is that very process and starts at once with ``go``; a spare
that died is replaced by a fork; asking for a spare again replaces the parked one; closing
the socket ends the zygote and what it parked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_serverless_ml.packaging import build_cell_bundle
from jupyter_serverless_ml.platform.jobs import cgroups
from jupyter_serverless_ml.platform.jobs.trial_support import group_files
from jupyter_serverless_ml.runtime import contract

pytestmark = pytest.mark.timeout(120)
CELL = (
    "import os, time\ntime.sleep(hp.v / 20)\nlog_metric('v', hp.v)\n"
    "model = {'v': hp.v, 'pid': os.getpid()}\n"
)


def _pid(fds: list[int]) -> int:
    pid = 0
    for fd in fds:
        for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
        os.close(fd)
    return pid


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


class Host:
    """The host's side of the socket."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        bundle = build_cell_bundle(CELL, {}, tmp / "bundle")
        self.code = bundle.path / "code"
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(60)
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(self.code)}
        env["JSML_CODE_DIR"] = str(self.code)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jsml_runtime.trial_zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,
            cwd=self.code,
        )
        theirs.close()
        assert self.recv()[0]["op"] == "ready"

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        socket.send_fds(self.sock, [json.dumps(message).encode()], fds or [])

    def recv(self) -> tuple[dict[str, Any], list[int]]:
        data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 2)
        return json.loads(data), fds

    def run(
        self, trial: str, v: int, joins: list[int] | None = None, **flags: bool
    ) -> tuple[dict[str, Any], int]:
        root = self.tmp / trial
        for sub in ("model", "output"):
            (root / sub).mkdir(parents=True)
        env = contract.job_environment(str(root), [], {"v": v})
        env.update(PATH=os.environ["PATH"], PYTHONPATH=str(self.code))
        env["JSML_CODE_DIR"] = str(self.code)
        log = os.open(root / "job.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        command = {"op": "run", "id": trial, "env": env, "cwd": str(self.code), "memory": None}
        self.send({**command, **flags}, [log, *(joins or [])])
        os.close(log)
        for fd in joins or []:
            os.close(fd)
        started, fds = self.recv()
        assert started["op"] == "started" and started["id"] == trial
        return started, _pid(fds)

    def exited(self, trial: str) -> int:
        message, fds = self.recv()
        for fd in fds:
            os.close(fd)
        assert message == {"op": "exited", "id": trial, "status": message["status"]}
        return os.waitstatus_to_exitcode(int(message["status"]))

    def model(self, trial: str) -> dict[str, Any]:
        import pickle

        return dict(pickle.loads((self.tmp / trial / "model" / "model.pkl").read_bytes()))

    def park(self) -> int:
        self.send({"op": "spare"})
        message, fds = self.recv()
        assert message["op"] == "spare"
        return _pid(fds)


def test_forks_wait_for_go_and_the_parked_spare_takes_a_trial_at_once(tmp_path: Path) -> None:
    host = Host(tmp_path)
    try:
        started, pid = host.run("forked", 1)
        assert "spare" not in started and pid > 0
        time.sleep(0.3)
        assert _alive(pid)  # it waits for go
        host.send({"op": "go", "id": "forked"})
        assert host.exited("forked") == 0
        assert host.model("forked") == {"v": 1, "pid": started["pid"]}

        spare = host.park()
        assert _alive(spare)
        started, pid = host.run("spared", 2, spare=True, go=True)
        assert started["spare"] is True and pid == spare  # the parked process took it
        assert host.exited("spared") == 0  # with no go sent
        assert host.model("spared")["v"] == 2
        assert "[jsml] saved model" in (tmp_path / "spared" / "job.log").read_text()

        dead = host.park()
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(dead) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the zygote reaps it
        started, pid = host.run("replaced", 3, spare=True, go=True)
        assert "spare" not in started and pid != dead  # forked instead
        assert started["joined"] is True  # no groups to join: it starts at once
        assert host.exited("replaced") == 0 and host.model("replaced")["v"] == 3

        # a group file it cannot write: not joined, so it waits for go even with go
        unwritable = os.open(os.devnull, os.O_RDONLY)
        started, pid = host.run("unjoined", 4, joins=[unwritable], go=True)
        assert started["joined"] is False
        time.sleep(0.5)
        assert _alive(pid)
        host.send({"op": "go", "id": "unjoined"})
        assert host.exited("unjoined") == 0

        first = host.park()
        second = host.park()  # the host asks only when it has none: the first is given up
        assert second != first
        deadline = time.monotonic() + 10
        while _alive(first) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(first) and _alive(second)
    finally:
        host.sock.close()  # the zygote ends, killing what it parked
        host.proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _alive(second) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(second)


def test_a_trial_moves_itself_into_its_control_groups(tmp_path: Path) -> None:
    groups = cgroups.create(tmp_path / "home", "joining-trial", 1 << 30, 64)
    if groups is None:
        pytest.skip("no control groups can be made here")
    host = Host(tmp_path)
    try:
        for spare in (False, True):
            if spare:
                host.park()
            trial = f"joined-{spare}"
            started, pid = host.run(trial, 5, joins=group_files(groups), spare=spare, go=True)
            assert started["joined"] is True and started.get("spare", False) is spare
            mine = Path(f"/proc/{pid}/cgroup").read_text()
            assert all(f"/{d.name}\n" in mine for d in groups.dirs.values()), mine
            assert host.exited(trial) == 0  # started at once, in the groups
    finally:
        host.sock.close()
        host.proc.wait(timeout=30)
        groups.kill_all()
        time.sleep(0.1)
        groups.remove()
