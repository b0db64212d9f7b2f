"""--max-cost on real endpoints and batch jobs: refused over the estimate, stopped at the
budget, and the reason shown at once where the user looks (%job, %endpoint, the batch)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import serving_models
from serving_models import SLOW, Doubler

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import batch, serving
from jupyter_serverless_ml.catalog.prices import hourly
from jupyter_serverless_ml.errors import JobFailed, NotFound, PredictionError, UsageError
from jupyter_serverless_ml.frontends import cost_magics

cloudpickle.register_pickle_by_value(serving_models)


@pytest.fixture(scope="module")
def home(platform_home: Path) -> Iterator[Path]:
    os.environ["JSML_COST_INTERVAL"] = "0.2"  # the daemon, started below, inherits it
    try:
        yield platform_home
    finally:
        os.environ.pop("JSML_COST_INTERVAL", None)


@pytest.fixture(scope="module")
def model(home: Path) -> str:
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(200, 2))
    fitted = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    serving.deploy(fitted, name="budgeted").undeploy()  # registers budgeted:1
    return "budgeted"


def _wait(predicate: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def test_an_endpoint_over_its_estimate_is_refused_before_it_deploys(model: str) -> None:
    one_hour = hourly("ml.p3.2xlarge", "sagemaker", "hosting")
    with pytest.raises(UsageError, match=rf"estimated cost \${one_hour:.4f} .*--max-cost \$1\.0"):
        serving.deploy(
            model, name="dear-ep", instance_type="ml.p3.2xlarge", min_replicas=1, max_cost=1.0
        )
    assert "dear-ep" not in [e.name for e in serving.endpoints()]
    with pytest.raises(UsageError, match="--max-cost must be a positive amount"):
        serving.deploy(model, name="dear-ep", max_cost=0)


def test_max_cost_undeploys_a_serving_endpoint_and_percent_endpoint_says_why(model: str) -> None:
    # ml.p3.2xlarge hosting at list price: about $0.00106 a replica-second; at zero
    # replicas the estimate is nothing, so it deploys, and one request starts a replica
    ep = serving.deploy(
        model,
        name="capped-ep",
        instance_type="ml.p3.2xlarge",
        min_replicas=0,
        idle_timeout="10m",
        max_cost=0.002,
    )
    started = time.monotonic()
    assert ep.predict([[0.5, 0.5]]) is not None
    gone = _wait(lambda: "capped-ep" not in [e.name for e in serving.endpoints()])
    assert gone and time.monotonic() - started < 20
    with pytest.raises(PredictionError, match="404"):
        ep.predict([[0.5, 0.5]])
    record = serving.endpoint("capped-ep").record  # what %endpoint shows
    assert record.status == "Deleted"
    reason = record.details["stopped_reason"]
    assert reason.startswith("stopped: budget of $0.0020 reached (ledger $")
    assert "ml.p3.2xlarge at SageMaker list price" in reason
    assert record.details["cost"] >= 0.002
    assert any(e["kind"] == "budget" and e["message"] == reason for e in record.events)
    assert "budget: stopped: budget of $0.0020" in repr(serving.endpoint("capped-ep"))
    hit = [i for i in jsml.cost()["budgets_hit"] if i["name"] == "capped-ep"]
    assert hit and hit[0]["stopped_reason"] == reason and hit[0]["sagemaker"] >= 0.002
    # a new deployment of the same name is the endpoint again, not the stopped one
    again = serving.deploy(model, name="capped-ep", min_replicas=0)
    assert serving.endpoint("capped-ep").record.status != "Deleted"
    again.undeploy()
    with pytest.raises(NotFound):
        serving.endpoint("capped-ep")


def test_max_cost_stops_a_job_and_the_reason_shows_while_it_stops(home: Path) -> None:
    job = jsml.train(
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(1.5), exit(1)))\n"
        "time.sleep(60)\n",
        namespace={},
        name="capped-job",
        instance_type="ml.p3.2xlarge",
        max_cost=0.002,
        wait=False,
    )
    stopping = _wait(lambda: jsml.job(job.id).record.get("failure_reason"))
    assert stopping.startswith("stopped: budget of $0.0020 reached (ledger $"), stopping
    with pytest.raises(JobFailed, match=r"stopped: budget of \$0\.0020 reached"):
        job.wait()
    record = jsml.job(job.id).record
    assert record["status"] == "Stopped" and record["failure_reason"] == stopping
    assert any(e.message == stopping for e in record.events)


def test_max_cost_stops_a_batch_job(model: str, tmp_path: Path) -> None:
    serving.deploy(Doubler(slow_seconds=0.5), name="sleepy").undeploy()  # registers sleepy:1
    rows = pd.DataFrame({"a": [SLOW] * 40, "b": [0.0] * 40})
    rows.to_parquet(tmp_path / "in.parquet")
    # ml.m5.large batch at list price: $0.115/h, so $0.0001 lasts about 3 s of 20 s of work
    per_second = hourly("ml.m5.large", "sagemaker", "batch") / 3600
    started = time.monotonic()
    with pytest.raises(JobFailed, match=r"stopped: budget of \$0\.0001 reached"):
        batch.batch_predict(
            "sleepy",
            tmp_path / "in.parquet",
            output=tmp_path / "out",
            chunk_rows=1,
            workers=1,
            max_cost=0.0001,
        )
    assert time.monotonic() - started < 15
    done = batch.batch_jobs(limit=1)[0]
    assert done.status == "Stopped"
    hit = next(i for i in jsml.cost()["budgets_hit"] if i["kind"] == "batch")
    assert hit["sagemaker"] >= 0.0001 and hit["seconds"] >= 0.0001 / per_second * 0.99


def test_percent_cost_prints_the_budgets_hit(home: Path) -> None:
    report = cost_magics.run(["--by", "name"])
    text = report.text()
    assert "budget: endpoint capped-ep: stopped: budget of $0.0020" in text
    assert "budget: training capped-job: stopped: budget of $0.0020" in text
