"""The cost ledger and the budget guard on a real platform (daemon, jobs, SQLite)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.catalog.prices import lookup
from jupyter_serverless_ml.errors import JobFailed, UsageError


@pytest.fixture(scope="module")
def home(platform_home: Path) -> Iterator[Path]:
    os.environ["JSML_COST_INTERVAL"] = "0.2"  # the daemon, started below, inherits it
    try:
        yield platform_home
    finally:
        os.environ.pop("JSML_COST_INTERVAL", None)


def _item(job_id: str) -> dict[str, Any] | None:
    return next((i for i in jsml.cost()["items"] if i["resource"] == job_id), None)


def test_the_ledger_accrues_while_a_job_runs_and_sums_to_catalog_prices(home: Path) -> None:
    job = jsml.train(
        "import time\ntime.sleep(2.5)\nmodel = 1\n",
        namespace={},
        name="ledgered",
        instance_type="ml.p3.2xlarge",
        instance_count=2,
        wait=False,
    )
    deadline = time.monotonic() + 30
    running = None
    while time.monotonic() < deadline:
        running = _item(job.id)
        if running and running["seconds"] > 0.5 and not running.get("ended_at"):
            break
        time.sleep(0.1)
    assert running and running["seconds"] > 0.5 and not running.get("ended_at"), running
    job.wait()
    time.sleep(0.6)
    item = _item(job.id)
    assert item is not None and item["ended_at"]
    record = jsml.job(job.id).record
    assert item["seconds"] == pytest.approx(record["ended_at"] - record["started_at"], abs=1e-3)
    sm = lookup("sagemaker", "training", "ml.p3.2xlarge")
    n1 = lookup("vertex", "training", "n1-standard-8")
    v100 = lookup("vertex", "training", "NVIDIA_TESLA_V100")
    assert sm and n1 and v100
    hours = item["seconds"] * 2 / 3600
    assert item["sagemaker"] == pytest.approx(hours * sm.usd)
    assert item["vertex"] == pytest.approx(hours * (n1.usd + v100.usd))
    assert item["billed"] == 0.0 and item["local"] == 0.0
    report = jsml.cost(by="name")
    row = next(g for g in report["groups"] if g["key"] == "ledgered")
    assert row["sagemaker"] == pytest.approx(item["sagemaker"], abs=1e-6)  # totals: 6 places
    assert jsml.cost(since="1h")["total"]["sagemaker"] >= round(item["sagemaker"], 6) - 1e-6


def test_max_cost_refuses_a_job_whose_estimate_exceeds_it(home: Path) -> None:
    with pytest.raises(
        UsageError, match=r"estimated cost \$3\.8250 .*exceeds --max-cost \$1\.0000"
    ):
        jsml.train(
            "model = 1\n",
            namespace={},
            name="dear",
            instance_type="ml.p3.2xlarge",
            max_runtime="1h",
            max_cost=1.0,
        )
    assert not jsml.jobs(name="dear")
    with pytest.raises(UsageError, match="--max-cost must be a positive amount"):
        jsml.train("model = 1\n", namespace={}, name="dear", max_cost=-1)


def test_max_cost_stops_a_running_job_and_says_why(home: Path) -> None:
    # ml.p3.2xlarge at list price: about $0.00106 a second, so $0.002 lasts ~2 s
    started = time.monotonic()
    with pytest.raises(JobFailed, match="stopped"):
        jsml.train(
            "import time\ntime.sleep(60)\n",
            namespace={},
            name="capped",
            instance_type="ml.p3.2xlarge",
            max_cost=0.002,
        )
    assert time.monotonic() - started < 30
    job = jsml.jobs(name="capped")[0]
    deadline = time.monotonic() + 10
    while "budget" not in str(jsml.job(job.id).record.get("failure_reason")):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert "stopped: budget of $0.0020 reached" in jsml.job(job.id).record["failure_reason"]
    hit = [i for i in jsml.cost()["budgets_hit"] if i["resource"] == job.id]
    assert hit and hit[0]["sagemaker"] >= 0.002
