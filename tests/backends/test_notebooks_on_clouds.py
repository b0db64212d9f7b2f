"""The example notebooks on SageMaker (moto + the emulator) and Vertex AI (the fake), under
papermill: the kernel is another process, the clouds' local servers run in this one.

``quickstart.ipynb`` gets its backend's settings from ``JSML_<BACKEND>_*`` as a user's
kernel would; ``clouds.ipynb`` gets them as ``%backend`` options and passes them on to
the quickstart it runs on every backend.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from backends.env_sagemaker import IMAGE, sagemaker_environment
from backends.env_sagemaker import current as current_emulator
from backends.sagemaker_emulator import Emulator
from backends.vertex_fake import FakeVertex, fake_vertex
from notebook_runs import NOTEBOOKS, run_notebook

from jupyter_serverless_ml import backends


@pytest.fixture()
def aws(home: Path) -> Iterator[tuple[Emulator, dict[str, Any]]]:
    """moto + the emulator (``AWS_*`` point at it) and the SageMaker settings that reach it."""
    with sagemaker_environment(home) as settings:
        yield current_emulator(), settings
    backends.reset()


@pytest.fixture()
def gcp(tmp_path: Path) -> Iterator[FakeVertex]:
    """The Vertex fake (``STORAGE_EMULATOR_HOST`` points at it)."""
    with fake_vertex(tmp_path / "gcp") as fake:
        yield fake
    backends.reset()


def _export(monkeypatch: pytest.MonkeyPatch, backend: str, settings: dict[str, Any]) -> None:
    for key, value in settings.items():
        monkeypatch.setenv(f"JSML_{backend.upper()}_{key.upper()}", str(value))


def _options(settings: dict[str, Any]) -> str:
    return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in settings.items())


def _assert_quickstart(text: str, workdir: Path, job_name: str, backend: str) -> None:
    """What the local run asserts (tests/test_notebooks.py), where it applies to a cloud."""
    assert f"backend: {backend}" in text
    assert f"job {job_name}-" in text and ": Completed" in text
    assert f"model {job_name}:1" in text and "'accuracy':" in text
    assert f"[{backend}] cost estimate" in text
    assert "batch " in text and ": 569 rows scored" in text
    assert f"undeployed {job_name}-prod" in text
    assert len(pd.read_parquet(workdir / "out" / "scores" / f"{job_name}-v1")) == 569


def test_quickstart_runs_on_sagemaker_under_papermill(
    aws: tuple[Emulator, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, settings = aws
    _export(monkeypatch, "sagemaker", settings)
    work = tmp_path / "nb"
    text = run_notebook("quickstart.ipynb", work, job_name="qs-sm", C=0.3, backend="sagemaker")
    _assert_quickstart(text, work, "qs-sm", "sagemaker")
    assert "/endpoints/qs-sm-prod/invocations" in text

    sm = emulator.sagemaker  # what moto recorded, from requests of the kernel's process
    [job] = sm.training_jobs.values()
    assert job.training_job_status == "Completed"
    assert job.algorithm_specification["TrainingImage"] == IMAGE
    assert json.loads(job.hyper_parameters["C"]) == 0.3
    assert job.resource_config["InstanceType"] == "ml.m5.large"
    assert [d["Name"] for d in job.algorithm_specification["MetricDefinitions"]] == ["accuracy"]
    [package] = [p for p in sm.model_packages.values() if p.model_package_group_name == "qs-sm"]
    assert package.model_package_version == 1
    assert emulator.invocations == [("qs-sm-prod", "v1", 200)]  # ep.predict, SigV4 through moto
    [transform] = sm.transform_jobs.values()
    assert transform.transform_job_status == "Completed"
    assert sm.endpoints == {}  # undeployed


def test_quickstart_runs_on_vertex_under_papermill(
    gcp: FakeVertex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _export(monkeypatch, "vertex", gcp.settings())
    work = tmp_path / "nb"
    text = run_notebook("quickstart.ipynb", work, job_name="qs-vx", C=0.3, backend="vertex")
    _assert_quickstart(text, work, "qs-vx", "vertex")

    def sent(route: str) -> list[Any]:
        return [m for r, m in gcp.store.requests if r == route]

    [created] = sent("customJobs.create")
    assert dict(created.labels)["jsml"] == "true"
    pool = created.job_spec.worker_pool_specs[0]
    env = {e.name: e.value for e in pool.container_spec.env}
    assert json.loads(env["JSML_HYPERPARAMETERS"]) == {"C": 0.3}
    assert pool.machine_spec.machine_type == "e2-standard-2"  # ml.m5.large's Vertex twin
    [upload] = sent("models.upload")
    assert list(upload.model.version_aliases) == ["default", "v1"]
    [deployed] = sent("endpoints.deployModel")
    resources = deployed.deployed_model.dedicated_resources
    assert (resources.min_replica_count, resources.max_replica_count) == (1, 2)
    [predicted] = sent("endpoints.predict")
    assert len(predicted["instances"]) == 5 and len(predicted["instances"][0]) == 3
    [batch] = sent("batchPredictionJobs.create")
    assert batch.input_config.instances_format == "jsonl"  # Parquet goes up as JSON Lines
    assert batch.dedicated_resources.starting_replica_count == 2  # --workers 2
    assert gcp.store.endpoints == {}  # undeployed


def test_clouds_notebook_runs_the_quickstart_on_every_backend(
    aws: tuple[Emulator, dict[str, Any]],
    gcp: FakeVertex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator, settings = aws
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    work = tmp_path / "clouds"
    text = run_notebook(
        "clouds.ipynb",
        work,
        run_on=["local", "sagemaker", "vertex"],
        sagemaker_settings=_options(settings),
        vertex_settings=_options(gcp.settings()),
        quickstart=str(NOTEBOOKS / "quickstart.ipynb"),
        job_name="cl",
        cleanup=True,
    )
    for backend in ("local", "sagemaker", "vertex"):
        ran = work / "out" / backend
        nested = (ran / "quickstart.ipynb").read_text()
        assert f"backend: {backend}" in nested and "undeployed cl-" in nested
        assert len(pd.read_parquet(ran / "out" / "scores" / f"cl-{backend}-v1")) == 569
        assert f"{backend}: job cl-{backend}-" in text
    assert "[sagemaker] cost estimate: ml.m5.large" in text
    assert "[vertex] cost estimate for job cl-vertex" in text
    billed = {line.split(":")[0]: line for line in text.splitlines() if ": job cl-" in line}
    assert billed["local"].endswith("Completed, not billed"), billed
    for cloud in ("sagemaker", "vertex"):  # the finished job's billed seconds and their cost
        assert re.search(r"Completed, billed [\d.]+ s = \$\d+\.\d{4}$", billed[cloud]), billed
    table = [line.split() for line in text.splitlines() if line.startswith("cl-")]
    assert {row[2] for row in table if row[1] == "Completed"} == {"local", "sagemaker", "vertex"}
    assert "model package group cl-sagemaker" in text  # the dry run's listing
    assert "would clean up model projects/jsml-test-project" in text
    # then the cleanup, from the CLI the notebook ran, with the settings it exported
    assert not [p for p in emulator.sagemaker.model_package_groups if p.startswith("cl-")]
    assert gcp.store.models == {} and gcp.store.endpoints == {}
