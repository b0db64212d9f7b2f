"""Deploy and batch steps on the real local platform (an endpoint that answers, part files
written), a job step refused by its budget (max_cost, the costs guard), and a run that
survives the daemon being killed mid-run."""

from __future__ import annotations

import linecache
import os
import signal
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jupyter_serverless_ml import serving
from jupyter_serverless_ml.pipelines import Pipeline
from jupyter_serverless_ml.platform import client

NOTEBOOK = '''
import pandas as pd
from sklearn.linear_model import LogisticRegression

FEATURES = ["mean radius", "mean texture"]

def fit(C):
    df = pd.read_csv(channel("raw"))
    return LogisticRegression(C=C, max_iter=500).fit(df[FEATURES], df.target)

def slow(seconds):
    import time
    time.sleep(seconds)
    return seconds

def double(value):
    return value * 2
'''


@pytest.fixture(scope="module")
def notebook() -> dict[str, Any]:
    filename = "<ipython-input-serving>"
    linecache.cache[filename] = (len(NOTEBOOK), None, NOTEBOOK.splitlines(True), filename)
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(NOTEBOOK, filename, "exec"), ns)
    return ns


def test_deploy_and_batch_steps(
    home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path
) -> None:
    features = pd.read_csv(cancer_csv)[["mean radius", "mean texture"]].head(40)
    rows = tmp_path / "rows.csv"
    features.to_csv(rows, index=False)
    p = Pipeline("served", output=tmp_path / "out")
    model = p.train(notebook["fit"], data={"raw": cancer_csv}, params={"C": 1.0})
    reg = p.register(model, model_name="served-model", name="reg")
    p.deploy(reg, endpoint="served-ep", min_replicas=1, max_replicas=1)
    p.batch(reg, input=rows, name="scores")
    run = p.run(wait=False).wait(timeout=240)
    try:
        assert run.status == "Succeeded", run
        deployed = run.step("deploy").outputs
        assert deployed["endpoint"] == "served-ep" and deployed["model"] == "served-model"
        answer = serving.endpoint("served-ep").predict(features.head(5))
        assert len(answer) == 5 and set(map(int, answer)) <= {0, 1}
        out = Path(run.step("scores").outputs["path"])
        parts = sorted(out.glob("part-*"))
        assert parts, list(out.iterdir())
        frame = pd.concat(pd.read_parquet(part) for part in parts)
        assert len(frame) == 40 and run.step("scores").metadata["rows"] == 40
        again = p.run(wait=False).wait(timeout=240)  # unchanged: the endpoint still serves it, all cached
        assert all(s.cache_hit for s in again.steps), again
    finally:
        serving.undeploy("served-ep")


def test_max_cost_goes_through_the_budget_guard(
    home: Path, tmp_path: Path, notebook: dict[str, Any]
) -> None:
    p = Pipeline("budget", output=tmp_path / "budget")
    p.function(notebook["slow"], params={"seconds": 0}, instance_type="ml.p4d.24xlarge",
               max_runtime=3600, max_cost=0.01)  # fmt: skip
    run = p.run(wait=False).wait(raise_on_failure=False, timeout=60)
    assert run.status == "Failed"
    assert "exceeds --max-cost $0.0100" in str(run.step("slow").failure_reason)


def test_a_run_survives_the_daemon_being_killed(
    home: Path, tmp_path: Path, notebook: dict[str, Any]
) -> None:
    p = Pipeline("survivor", output=tmp_path / "survivor")
    first = p.function(notebook["slow"], params={"seconds": 6})
    p.function(notebook["double"], inputs={"value": first})
    run = p.run(wait=False)
    deadline = time.monotonic() + 60
    while run.refresh().step("slow").status != "Executing":
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    daemon = client.running(home)
    assert daemon is not None
    os.kill(daemon.pid, signal.SIGKILL)
    while client._pid_alive(daemon.pid):
        time.sleep(0.05)
    restarted = client.ensure_running(home)
    assert restarted.pid != daemon.pid
    done = run.wait(timeout=120)
    assert done.status == "Succeeded", done
    assert done.output("double") == 12
    assert done.step("slow").attempt == 1  # the job was re-adopted, not run again
