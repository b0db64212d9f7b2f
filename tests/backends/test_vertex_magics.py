"""The Vertex backend through the magics and the CLI, against the local fake of Vertex AI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from backends.vertex_fake import FakeVertex, fake_vertex

from jupyter_serverless_ml import backends
from jupyter_serverless_ml.frontends import cli


@pytest.fixture()
def fake(tmp_path: Path) -> Iterator[FakeVertex]:
    backends.reset()
    with fake_vertex(tmp_path / "cloud") as running:
        yield running
    backends.use_backend(None)
    backends.reset()


def cell(shell: Any, source: str) -> Any:
    result = shell.run_cell(source)
    if result.error_before_exec:
        raise result.error_before_exec
    if result.error_in_exec:
        raise result.error_in_exec
    return result.result


def test_the_quickstart_on_vertex_through_the_magics(
    ipython: Any, fake: FakeVertex, cancer_csv: Path, tmp_path: Path, capsys: Any
) -> None:
    options = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in fake.settings().items())
    cell(ipython, f"%backend vertex {options}")
    cell(ipython, "import pandas as pd\nFEATURES = ['mean radius', 'mean texture']\n")
    job = cell(
        ipython,
        f"%%train --name vx-cancer --data train={cancer_csv} --hp C=0.5\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "df = pd.read_csv(channel('train'))\n"
        "model = LogisticRegression(C=hp.C, max_iter=500).fit(df[FEATURES], df.target)\n"
        "log_metric('accuracy', model.score(df[FEATURES], df.target))\n",
    )
    assert job.status == "Completed" and job.metrics["accuracy"] > 0.8
    printed = capsys.readouterr()
    assert "[metric] accuracy=" in printed.out
    assert "cost estimate for job vx-cancer" in printed.err
    created = [m for route, m in fake.store.requests if route == "customJobs.create"][-1]
    pool = created.job_spec.worker_pool_specs[0]
    assert pool.container_spec.image_uri.endswith(".py311:latest")
    assert dict(created.labels)["jsml"] == "true"
    env = {e.name: e.value for e in pool.container_spec.env}
    assert json.loads(env["JSML_HYPERPARAMETERS"]) == {"C": 0.5}
    assert json.loads(env["JSML_CHANNELS"])["train"].startswith("gs://jsml-test-bucket/jsml/data/")

    assert "vx-cancer" in str(cell(ipython, "%jobs"))
    assert "vx-cancer" in str(cell(ipython, f"%job {job.id}"))
    cell(ipython, f"%logs {job.id}")
    assert "saved model" in capsys.readouterr().out
    assert "vx-cancer" in str(cell(ipython, "%models"))

    ep = cell(ipython, "%deploy vx-cancer --name vx-ep --max-replicas 2")
    rows = pd_rows(cancer_csv)
    predictions = ep.predict(rows)
    assert np.asarray(predictions).shape == (5,)
    assert set(np.asarray(predictions).tolist()) <= {0, 1}
    deployed = [m for route, m in fake.store.requests if route == "endpoints.deployModel"][-1]
    assert deployed.deployed_model.dedicated_resources.max_replica_count == 2

    second = cell(
        ipython,
        f"%%train --name vx-cancer --data train={cancer_csv} --hp C=0.1\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "df = pd.read_csv(channel('train'))\n"
        "model = LogisticRegression(C=hp.C, max_iter=500).fit(df[FEATURES], df.target)\n",
    )
    assert second.model_version == 2
    upload = [m for route, m in fake.store.requests if route == "models.upload"][-1]
    assert upload.parent_model and list(upload.model.version_aliases) == ["default", "v2"]
    two = cell(ipython, "%deploy vx-cancer:2 --endpoint vx-ep --traffic 20")
    assert dict(two.traffic) == {"v1": 80.0, "v2": 20.0}
    shifted = cell(ipython, "%traffic vx-ep v2=100")
    assert dict(shifted.traffic) == {"v1": 0.0, "v2": 100.0}
    back = cell(ipython, "%rollback vx-ep")
    assert dict(back.traffic) == {"v1": 80.0, "v2": 20.0}

    features = tmp_path / "features.csv"
    pd_all(cancer_csv)[["mean radius", "mean texture"]].to_csv(features, index=False)
    batch = cell(
        ipython,
        f"%batch_predict vx-cancer {features} --output {tmp_path / 'scores'} --workers 1"
        " --format jsonl",
    )
    assert batch.status == "Completed", batch
    manifest = json.loads((tmp_path / "scores" / "_manifest.json").read_text())
    assert manifest["rows_out"] == len(pd_all(cancer_csv)) == batch.record.rows_done
    assert manifest["shards"][0]["file"] == "part-00000.jsonl"  # --format, as locally
    scored = (tmp_path / "scores" / manifest["shards"][0]["file"]).read_text().splitlines()
    assert json.loads(scored[0]) in ({"prediction": 0}, {"prediction": 1})
    created = [m for route, m in fake.store.requests if route == "batchPredictionJobs.create"][-1]
    assert created.input_config.instances_format == "csv" and dict(created.labels)["jsml"] == "true"

    cell(ipython, "%undeploy vx-ep")
    assert fake.store.endpoints == {}
    assert cli.main(["cleanup", "--backend", "vertex", "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert "would clean up model" in listed and fake.store.models
    assert cli.main(["cleanup", "--backend", "vertex"]) == 0
    assert fake.store.models == {} and fake.store.batches == {}
    assert not list((fake.gcs.root / "jsml-test-bucket" / "jsml").rglob("*.*"))


def pd_all(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path)


def pd_rows(path: Path) -> Any:
    return pd_all(path)[["mean radius", "mean texture"]].head()


def test_jobs_lists_cloud_jobs_beside_local_ones(ipython: Any, fake: FakeVertex) -> None:
    import jupyter_serverless_ml as jsml

    local = jsml.train("model = {'w': 1}\n", name="side-local", namespace={}, backend="local")
    options = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in fake.settings().items())
    cell(ipython, f"%backend vertex {options}")
    cloud = cell(ipython, "%%train --name side-cloud\nmodel = {'w': 2}\n")
    cell(ipython, "%backend local")  # the default changes; vertex stays in this session's view
    listed = cell(ipython, "%jobs --limit 200")
    by_id = {j.id: j.record.backend for j in listed}
    assert by_id[local.id] == "local" and by_id[cloud.id] == "vertex"
    created = [j.record.created_at for j in listed]
    assert created == sorted(created, reverse=True)  # one list, newest first
    only_local = cell(ipython, "%jobs --backend local --limit 200")
    assert {j.record.backend for j in only_local} == {"local"}
    assert "vertex" in repr(listed)  # the table's backend column
