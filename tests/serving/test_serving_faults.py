"""Serving faults that used to hide or lose things (issue 9): why a replica died, request
counters across a daemon kill, and a job that forges the serving interpreter."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import cloudpickle
import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import serving
from jupyter_serverless_ml.platform import client, state
from jupyter_serverless_ml.platform.jobs import procs
from jupyter_serverless_ml.platform.serving import endpoints
from jupyter_serverless_ml.serving import Endpoint

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class ExitsWhileLoading:
    """A model whose unpickling prints a reason and exits the process."""

    n_features_in_ = 1

    def __init__(self) -> None:
        self.weights = [1.0]  # a state to restore, so unpickling calls __setstate__

    def __setstate__(self, state: dict[str, Any]) -> None:
        print("loading failed: the weights are corrupt", file=sys.stderr, flush=True)
        os._exit(4)

    def predict(self, X: Any) -> Any:
        return [0.0] * len(X)


class RaisesWhileLoading(ExitsWhileLoading):
    """A model whose unpickling raises."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        raise ValueError("the weights are corrupt")


class ExitsInPredict:
    """A model that loads, then exits its process in predict (but for the deploy's probe
    row of zeros, so that it deploys)."""

    n_features_in_ = 1

    def predict(self, X: Any) -> Any:
        if not any(float(row[0]) for row in getattr(X, "values", X)):
            return [0.0] * len(X)
        print("predict gave up: out of luck", file=sys.stderr, flush=True)
        os._exit(3)


class Echo:
    """A well-behaved model: its one feature."""

    n_features_in_ = 1

    def predict(self, X: Any) -> Any:
        return [float(row[0]) for row in X.to_numpy()] if hasattr(X, "to_numpy") else X


def post(ep: Endpoint, body: bytes) -> tuple[int, dict[str, Any]]:
    url = urlparse(ep.invocation_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    token = state.token(Path(client.config.home()))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request("POST", url.path, body=body, headers=headers)
    response = conn.getresponse()
    reply = response.status, json.loads(response.read())
    conn.close()
    return reply


def test_a_model_that_cannot_load_says_why(platform_home: Path) -> None:
    with pytest.raises(Exception, match=r"status 4.*loading failed: the weights are corrupt"):
        serving.deploy(ExitsWhileLoading(), name="exits-loading")
    with pytest.raises(Exception, match="ValueError: the weights are corrupt"):
        serving.deploy(RaisesWhileLoading(), name="raises-loading")


def test_a_replica_that_exits_in_predict_says_why(platform_home: Path) -> None:
    ep = serving.deploy(ExitsInPredict(), name="exits-predict")
    status, reply = post(ep, b'{"instances": [[1.0]]}')
    assert status == 503
    assert "two replicas of v1 exited while serving this request" in reply["message"]
    assert "exited with status 3" in reply["message"]
    assert "predict gave up: out of luck" in reply["message"]
    exits = ep.events("replica_exit")
    assert exits and "exited with status 3" in exits[-1]["message"]
    assert "out of luck" in exits[-1]["message"]  # %endpoint and the sidebar show events


def test_a_daemon_kill_loses_at_most_one_flush_of_request_counts(platform_home: Path) -> None:
    assert endpoints.FLUSH_SECONDS <= 1.0
    ep = serving.deploy(Echo(), name="counted")
    for _ in range(150):
        assert post(ep, b'{"instances": [[1.0]]}')[0] == 200
    import time

    time.sleep(endpoints.FLUSH_SECONDS * 1.5 + 0.2)  # one flush interval has passed
    daemon = state.read_state(platform_home)["pid"]
    os.kill(daemon, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while procs.is_alive(daemon) and time.monotonic() < deadline:
        time.sleep(0.05)
    client.ensure_running(platform_home)
    assert serving.endpoint("counted").record["stats"]["requests"] == 150


def test_a_job_cannot_choose_the_serving_interpreter(platform_home: Path) -> None:
    work = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="jsml-forged-"))
    marker = work / "the-forged-interpreter-ran"
    script = work / "python"
    script.write_text(f'#!/bin/sh\ntouch {marker}\nexec {sys.executable} "$@"\n')
    script.chmod(0o755)
    cell = (
        "import atexit, json, os\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "model = LogisticRegression().fit([[0.0], [1.0], [0.1], [0.9]], [0, 1, 0, 1])\n"
        "def forge():\n"
        "    path = os.path.join(os.environ['SM_MODEL_DIR'], 'jsml_model.json')\n"
        "    meta = json.load(open(path))\n"
        f"    meta['serving_python'] = {str(script)!r}\n"
        "    json.dump(meta, open(path, 'w'))\n"
        "atexit.register(forge)\n"
    )
    try:
        job = jsml.train(cell, namespace={}, name="forged")
        assert job.status == "Completed"
        assert "serving_python" not in (jsml.model("forged").record.metadata or {})
        ep = serving.deploy("forged", name="forged")
        assert ep.predict([[1.0]]).tolist() == [1]
        assert not marker.exists(), "the platform ran the interpreter the job named"
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
