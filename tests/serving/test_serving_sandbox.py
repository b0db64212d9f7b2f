"""Model loading is code: replicas and batch workers run in the sandbox (issue 9).

A hostile model, deployed from the kernel, tries in ``__setstate__`` (at load)
and in ``predict`` to read the platform token and a credentials file, write to
the host, reach a server on 127.0.0.1 and find secrets in its environment.
Each probe answers "blocked: ..." or "LEAKED: ..."; the predictions carry them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pandas as pd
import pytest

from jupyter_serverless_ml import batch, serving
from jupyter_serverless_ml.platform import state
from jupyter_serverless_ml.platform.jobs import sandbox

cloudpickle.register_pickle_by_value(sys.modules[__name__])
SANDBOXED = sandbox.probe().available
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason="bubblewrap does not work here")
ENV_SECRET = "env-secret-the-daemon-holds"


def probe_everything(targets: dict[str, Any]) -> dict[str, str]:
    """Try what a hostile model would; each entry says "blocked: ..." or "LEAKED: ..."."""
    found: dict[str, str] = {}
    for name in ("token", "aws"):
        try:
            with open(targets[name]) as fh:
                found[name] = f"LEAKED: {fh.read()[:40]}"
        except OSError as exc:
            found[name] = f"blocked: {type(exc).__name__}"
    try:
        with open(targets["host_file"], "w") as fh:
            fh.write("written by the model")
        found["write"] = "written (the test checks the host)"
    except OSError as exc:
        found["write"] = f"blocked: {type(exc).__name__}"
    try:
        with socket.create_connection(("127.0.0.1", targets["port"]), timeout=2) as conn:
            conn.sendall(b"hello from the model")
        found["network"] = "LEAKED: connected"
    except OSError as exc:
        found["network"] = f"blocked: {type(exc).__name__}"
    leaked = [k for k, v in os.environ.items() if targets["token_value"] in v or ENV_SECRET in v]
    leaked += [k for k in os.environ if k.startswith("JSML_") or k.startswith("AWS_")]
    found["environ"] = f"LEAKED: {leaked}" if leaked else "blocked: clean"
    try:
        with open("/proc/self/status") as fh:
            caps = next(line.split()[1] for line in fh if line.startswith("CapEff"))
        found["caps"] = "blocked: none" if int(caps, 16) == 0 else f"LEAKED: CapEff {caps}"
    except (OSError, StopIteration) as exc:
        found["caps"] = f"blocked: {type(exc).__name__}"
    return found


class Snoop:
    """A model whose loading and predicting try every probe."""

    n_features_in_ = 1

    def __init__(self, targets: dict[str, Any]) -> None:
        self.targets = targets
        self.at_load: dict[str, str] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.at_load = probe_everything(dict(self.targets, host_file=self.targets["load_file"]))

    def predict(self, X: Any) -> Any:
        report = json.dumps({"load": self.at_load, "predict": probe_everything(self.targets)})
        return [report] * len(X)


@pytest.fixture()
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server on 127.0.0.1 that records what connects to it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(100) or b"(connected)")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


@pytest.fixture()
def hostile(
    private_home: Callable[..., Path], tmp_path: Path, listener: tuple[int, list[bytes]]
) -> Iterator[dict[str, Any]]:
    """A platform whose daemon holds secrets (token, fake ~/.aws, an env secret) to steal.

    The platform home and the user's home are outside /tmp, so the sandbox's
    private /tmp hides nothing the test relies on."""
    user_home = Path(__import__("tempfile").mkdtemp(dir="/var/tmp", prefix="jsml-user-"))
    (user_home / ".aws").mkdir()
    (user_home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key=FAKE\n")
    home = private_home(
        "sandboxed",
        parent=Path("/var/tmp"),
        HOME=str(user_home),
        AWS_SECRET_ACCESS_KEY=ENV_SECRET,
        JSML_TEST_SECRET=ENV_SECRET,
    )
    host_dir = Path(__import__("tempfile").mkdtemp(dir="/var/tmp", prefix="jsml-host-"))
    targets = {
        "token": str(home / "token"),
        "aws": str(user_home / ".aws" / "credentials"),
        "host_file": str(host_dir / "from-predict"),
        "load_file": str(host_dir / "from-load"),
        "port": listener[0],
        "token_value": "",
    }
    try:
        yield {"home": home, "targets": targets, "host_dir": host_dir, "received": listener[1]}
    finally:
        import shutil

        shutil.rmtree(user_home, ignore_errors=True)
        shutil.rmtree(host_dir, ignore_errors=True)


def assert_nothing_leaked(report: dict[str, dict[str, str]], setup: dict[str, Any]) -> None:
    for moment in ("load", "predict"):
        for probe, outcome in report[moment].items():
            assert not outcome.startswith("LEAKED"), f"{moment}/{probe}: {outcome}"
    assert not any(setup["host_dir"].iterdir()), "the model wrote to the host"
    assert setup["received"] == [], "the model reached a server on 127.0.0.1"


@needs_sandbox
def test_a_hostile_model_reads_no_secret_writes_nothing_and_reaches_no_one(
    hostile: dict[str, Any],
) -> None:
    ep = serving.deploy(Doubling(), name="normal")  # starts the daemon; a normal model serves
    assert ep.predict([[2.0]]).tolist() == [4.0]
    hostile["targets"]["token_value"] = state.token(hostile["home"])
    spy = serving.deploy(Snoop(hostile["targets"]), name="snoop")
    report = json.loads(spy.predict([[1.0]]).tolist()[0])
    assert_nothing_leaked(report, hostile)
    assert report["load"]["token"].startswith("blocked") and report["load"]["caps"] == (
        "blocked: none"
    )
    events = [e["message"] for e in spy.events("sandbox")]
    assert events and "bubblewrap sandbox" in events[-1]
    assert ep.predict([[3.0]]).tolist() == [6.0]


@needs_sandbox
def test_a_hostile_model_in_a_batch_job_is_sandboxed_too(
    hostile: dict[str, Any], tmp_path: Path
) -> None:
    serving.deploy(Doubling(), name="warm").undeploy()  # starts the daemon
    hostile["targets"]["token_value"] = state.token(hostile["home"])
    serving.deploy(Snoop(hostile["targets"]), name="snoopy").undeploy()
    pd.DataFrame({"x": [1.0, 2.0, 3.0]}).to_parquet(tmp_path / "in.parquet")
    job = batch.batch_predict("snoopy", tmp_path / "in.parquet", output=tmp_path / "out")
    assert job.record.status == "Completed", job.record.failure_reason
    out = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "out").glob("part-*")))
    assert len(out) == 3
    assert_nothing_leaked(json.loads(out.prediction.iloc[0]), hostile)


def probe_descriptors(batch_dir: str) -> dict[str, str]:
    """What a batch model could do with the descriptors the platform hands its worker:
    re-open each (through /proc/self/fd) for writing, reach its directory, write beside it."""
    found: dict[str, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if not target.startswith(batch_dir):
            continue
        label = os.path.basename(target)
        try:
            fd = os.open(f"/proc/self/fd/{name}", os.O_WRONLY | os.O_APPEND)
            os.write(fd, b"HACKED")
            os.close(fd)
            found[f"reopen {label}"] = "LEAKED: re-opened for writing"
        except OSError as exc:
            found[f"reopen {label}"] = f"blocked: {type(exc).__name__}"
        for what, path in (
            ("parent", f"/proc/self/fd/{name}/.."),
            ("dir", os.path.dirname(target)),
        ):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
                found[f"{what} of {label}"] = f"LEAKED: opened {os.listdir(fd)}"
                os.close(fd)
            except OSError as exc:
                found[f"{what} of {label}"] = f"blocked: {type(exc).__name__}"
        try:
            with open(os.path.join(os.path.dirname(target), "planted.txt"), "w") as fh:
                fh.write("planted")
            found[f"plant beside {label}"] = "LEAKED: wrote a file"
        except OSError as exc:
            found[f"plant beside {label}"] = f"blocked: {type(exc).__name__}"
    return found


class FdSnoop:
    """A batch model that tries to abuse the file descriptors of its worker."""

    n_features_in_ = 1

    def __init__(self, batch_dir: str) -> None:
        self.batch_dir = batch_dir

    def predict(self, X: Any) -> Any:
        return [json.dumps(probe_descriptors(self.batch_dir))] * len(X)


@needs_sandbox
def test_a_batch_worker_gets_descriptors_it_cannot_reopen_or_escape_through(
    hostile: dict[str, Any], tmp_path: Path
) -> None:
    serving.deploy(Doubling(), name="warm").undeploy()  # starts the daemon and its zygote
    serving.deploy(FdSnoop(str(tmp_path)), name="fds").undeploy()
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    frame.to_parquet(tmp_path / "in.parquet")
    before = (tmp_path / "in.parquet").read_bytes()
    zygotes = set((hostile["home"] / "serving").glob("zygote-*.log"))
    job = batch.batch_predict("fds", tmp_path / "in.parquet", output=tmp_path / "out", chunk_rows=2)
    assert job.record.status == "Completed", job.record.failure_reason
    out = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "out").glob("part-*")))
    reports = [json.loads(r) for r in out.prediction]
    assert any(k.startswith("reopen in.parquet") for r in reports for k in r), reports
    assert any(k.startswith("reopen .part-") for r in reports for k in r), reports
    for report in reports:
        for probe, outcome in report.items():
            assert outcome.startswith("blocked"), f"{probe}: {outcome}"
    assert (tmp_path / "in.parquet").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "_manifest.json",
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert not (tmp_path / "planted.txt").exists()
    # the workers forked from the model's warm zygote: the batch started none of its own
    assert set((hostile["home"] / "serving").glob("zygote-*.log")) == zygotes


@needs_sandbox
def test_without_landlock_a_batch_gets_its_own_zygote_seeing_only_its_input(
    private_home: Callable[..., Path], tmp_path: Path
) -> None:
    home = private_home("nolandlock", parent=Path("/var/tmp"), JSML_SERVING_LANDLOCK="off")
    serving.deploy(Doubling(), name="warm").undeploy()
    serving.deploy(FdSnoop(str(tmp_path)), name="fds").undeploy()
    pd.DataFrame({"x": [1.0, 2.0, 3.0]}).to_parquet(tmp_path / "in.parquet")
    before = (tmp_path / "in.parquet").read_bytes()
    zygotes = set((home / "serving").glob("zygote-*.log"))
    job = batch.batch_predict("fds", tmp_path / "in.parquet", output=tmp_path / "out")
    assert job.record.status == "Completed", job.record.failure_reason
    reports = [json.loads(r) for r in pd.read_parquet(tmp_path / "out").prediction]
    for report in reports:  # its input is a read-only bind; its part file its own to write
        assert report["reopen in.parquet"].startswith("blocked"), report
    assert (tmp_path / "in.parquet").read_bytes() == before
    assert not (tmp_path / "planted.txt").exists()  # what it planted stayed in its own /tmp
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "_manifest.json",
        "part-00000.parquet",
    ]
    assert len(set((home / "serving").glob("zygote-*.log")) - zygotes) == 1


class Doubling:
    """A well-behaved model: twice its one feature."""

    n_features_in_ = 1

    def predict(self, X: Any) -> Any:
        import numpy as np

        return np.asarray(X, dtype=float)[:, 0] * 2


def test_without_bubblewrap_serving_works_and_says_so(
    private_home: Callable[..., Path],
) -> None:
    private_home("plain", JSML_SANDBOX="off")
    ep = serving.deploy(Doubling(), name="plain")
    assert ep.predict([[1.5]]).tolist() == [3.0]
    events = [e["message"] for e in ep.events("sandbox")]
    assert events and "WITHOUT a sandbox (JSML_SANDBOX=off)" in events[-1]
    with contextlib.suppress(Exception):
        ep.undeploy()
