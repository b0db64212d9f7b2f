"""Tuning studies on the clouds, through their real SDKs: a SageMaker HyperParameterTuningJob
(boto3 against moto + the emulator, whose trials run the uploaded bundle as training jobs)
and a Vertex HyperparameterTuningJob (google-cloud-aiplatform against the Vertex fake,
whose trials run the bundle as CustomJobs reporting through cloudml-hypertune's file).

The objective is synthetic with a known optimum (1.0 at x = 0.7, lr = 0.01, kind = b), so
what each cloud's search finds is checked, not only that it ran.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_serverless_ml import backends, tuning
from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.statuses import StudyStatus, TrialStatus

SMOOTH = """
import math
score = 1 - (hp.x - 0.7) ** 2 - ((math.log10(hp.lr) + 2) ** 2) / 4 - (0 if hp.kind == "b" else 0.5)
log_metric("score", score)
model = {"x": hp.x, "lr": hp.lr, "kind": hp.kind}
"""
SPACE = {"x": "uniform(0,1)", "lr": "loguniform(1e-4,1)", "kind": "choice(a,b)"}

# intermediate values: a trial reports its x at every step, slowly, so a bad one is stopped
STEPPED = """
import time
for step in range(6):
    log_metric("score", hp.x, step=step)
    time.sleep(0.4)
log_metric("score", hp.x)
model = {"x": hp.x}
"""

SLOW = """
import time
time.sleep(60)
log_metric("score", hp.x)
"""

GRID = """
log_metric("loss", (hp.depth - 3) ** 2 + (0 if hp.act == "relu" else 1))
model = {"depth": hp.depth}
"""


def _score(params: dict[str, Any]) -> float:
    x, lr, kind = params["x"], params["lr"], params["kind"]
    return 1 - (x - 0.7) ** 2 - ((math.log10(lr) + 2) ** 2) / 4 - (0 if kind == "b" else 0.5)


# -- SageMaker ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sm(platform_home: Path) -> Iterator[tuple[Any, Any]]:
    from backends import env_sagemaker
    from backends.env_sagemaker import sagemaker_environment

    with sagemaker_environment(platform_home) as settings:
        built = backends.use_backend("sagemaker", quiet=True, **settings)
        try:
            yield env_sagemaker.current(), built
        finally:
            backends.use_backend(None)
            backends.reset()


def _sm_client(emulator: Any) -> Any:
    import boto3

    return boto3.client("sagemaker", endpoint_url=emulator.endpoint_url, region_name="us-east-1")


@pytest.fixture(scope="module")
def sm_study(sm: tuple[Any, Any]) -> tuning.Study:
    return tuning.tune(
        SMOOTH,
        name="smooth",
        params=SPACE,
        objective="score",
        trials=20,
        parallel=4,
        seed=3,
        instance_type="ml.m5.large",
        namespace={},
        backend="sagemaker",
    )


def test_sagemaker_study_finds_the_optimum(sm_study: tuning.Study) -> None:
    assert sm_study.status == StudyStatus.COMPLETED
    trials = sm_study.trials
    assert len(trials) == 20 and all(t.status == TrialStatus.COMPLETED for t in trials)
    for trial in trials:  # each objective is what the cell computed from its sampled params
        assert trial.value == pytest.approx(_score(dict(trial.params)), abs=1e-9)
        assert 0 <= trial.params["x"] <= 1 and 1e-4 <= trial.params["lr"] <= 1
        assert trial.params["kind"] in ("a", "b")
    best = max(t.value for t in trials if t.value is not None)
    assert sm_study.best_value == pytest.approx(best)
    assert best > 0.85, sm_study.best_params
    assert sm_study.best_params["kind"] == "b"
    assert [t.best_so_far for t in trials][-1] == pytest.approx(best)


def test_sagemaker_tuning_job_as_sagemaker_recorded_it(
    sm: tuple[Any, Any], sm_study: tuning.Study
) -> None:
    emulator, _ = sm
    client = _sm_client(emulator)
    name = sm_study.record.details["tuning_job"]
    assert len(name) <= 32 and name.startswith("smooth-")
    desc = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    config = desc["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian" and config["RandomSeed"] == 3
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "score"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 4}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    ranges = config["ParameterRanges"]
    assert {(r["Name"], r["ScalingType"]) for r in ranges["ContinuousParameterRanges"]} == {
        ("x", "Linear"),
        ("lr", "Logarithmic"),
    }
    assert ranges["CategoricalParameterRanges"] == [{"Name": "kind", "Values": ['"a"', '"b"']}]
    definition = desc["TrainingJobDefinition"]
    rules = {
        d["Name"]: d["Regex"] for d in definition["AlgorithmSpecification"]["MetricDefinitions"]
    }
    line = '#jsml-metric {"name": "score", "value": 0.5, "step": null}'
    assert re.search(rules["score"], line).group(1) == "0.5"  # type: ignore[union-attr]
    assert "sagemaker_program" in definition["StaticHyperParameters"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed"
    assert desc["BestTrainingJob"]["TrainingJobName"] == sm_study.best_trial.job_id  # type: ignore[union-attr]
    listed = client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )
    jobs = listed["TrainingJobSummaries"]
    assert len(jobs) == 20
    # each trial really ran as a training job: its log holds the objective the regex parsed
    one = client.describe_training_job(TrainingJobName=jobs[0]["TrainingJobName"])
    assert one["TrainingJobStatus"] == "Completed"
    final = {m["MetricName"]: m["Value"] for m in one["FinalMetricDataList"]}
    assert final["score"] == pytest.approx(
        jobs[0]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )


def test_sagemaker_best_model_is_registered(sm: tuple[Any, Any], sm_study: tuning.Study) -> None:
    record = sm_study.refresh().record
    assert record.model_name == "smooth" and record.model_version == 1
    model = sm_study.model()
    assert model == {k: sm_study.best_params[k] for k in ("x", "lr", "kind")}
    registry = sm[1]
    version = registry.model("smooth", 1)
    meta = json.loads(version.metadata["tuning"])
    assert meta["study"] == "smooth" and meta["value"] == pytest.approx(sm_study.best_value)
    assert version.job_id == sm_study.best_trial.job_id  # type: ignore[union-attr]
    again = sm_study.refresh().record  # registered once
    assert again.model_version == 1 and len(registry.models("smooth")) == 1
    listed = {s.name: s for s in tuning.studies(backend="sagemaker")}
    assert listed["smooth"].record.status == StudyStatus.COMPLETED


def test_sagemaker_early_stop_stops_bad_trials(sm: tuple[Any, Any]) -> None:
    study = tuning.tune(
        STEPPED,
        name="stepped",
        params={"x": "uniform(0,1)"},
        objective="score",
        strategy="random",
        early_stop=True,
        trials=9,
        parallel=1,
        seed=1,
        instance_type="ml.m5.large",
        namespace={},
        backend="sagemaker",
    )
    desc = _sm_client(sm[0]).describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=study.record.details["tuning_job"]
    )
    config = desc["HyperParameterTuningJobConfig"]
    assert config["TrainingJobEarlyStoppingType"] == "Auto" and config["Strategy"] == "Random"
    trials = study.trials
    pruned = [t for t in trials if t.status == TrialStatus.PRUNED]
    completed = [t for t in trials if t.status == TrialStatus.COMPLETED]
    assert pruned, [(t.status, t.params) for t in trials]
    assert max(t.params["x"] for t in pruned) < max(t.params["x"] for t in completed)
    assert study.status == StudyStatus.COMPLETED


def test_sagemaker_grid_runs_every_combination_once(sm: tuple[Any, Any]) -> None:
    study = tuning.tune(
        GRID,
        name="grid",
        params={"depth": "int(1,4)", "act": "choice(relu,tanh)"},
        objective="loss",
        direction="minimize",
        strategy="grid",
        trials=100,
        parallel=3,
        instance_type="ml.m5.large",
        namespace={},
        backend="sagemaker",
    )
    assert study.record.trials_budget == 8
    seen = sorted((t.params["depth"], t.params["act"]) for t in study.trials)
    assert seen == sorted((d, a) for d in range(1, 5) for a in ("relu", "tanh"))
    assert study.best_params == {"depth": 3, "act": "relu"} and study.best_value == 0
    desc = _sm_client(sm[0]).describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=study.record.details["tuning_job"]
    )
    config = desc["HyperParameterTuningJobConfig"]
    assert (
        config["Strategy"] == "Grid" and "MaxNumberOfTrainingJobs" not in config["ResourceLimits"]
    )
    assert {r["Name"] for r in config["ParameterRanges"]["CategoricalParameterRanges"]} == {
        "depth",
        "act",
    }


def test_sagemaker_stop_study_stops_its_trials(sm: tuple[Any, Any]) -> None:
    study = tuning.tune(
        SLOW,
        name="slow",
        params={"x": "uniform(0,1)"},
        objective="score",
        trials=4,
        parallel=2,
        instance_type="ml.m5.large",
        namespace={},
        backend="sagemaker",
        wait=False,
    )
    with pytest.raises(Exception, match="stop it first"):
        tuning.tune(
            SLOW,
            name="slow",
            params={"x": "uniform(0,1)"},
            objective="score",
            instance_type="ml.m5.large",
            namespace={},
            backend="sagemaker",
            wait=False,
        )
    stopped = tuning.stop_study("slow", backend="sagemaker")
    assert stopped.record.status in (StudyStatus.STOPPING, StudyStatus.STOPPED)
    study.wait()
    assert study.status == StudyStatus.STOPPED
    assert all(t.status == TrialStatus.STOPPED for t in study.trials)
    with pytest.raises(UsageError, match="cannot continue"):
        tuning.resume("slow", backend="sagemaker", wait=False)


def test_sagemaker_refuses_what_it_cannot_search(sm: tuple[Any, Any]) -> None:
    with pytest.raises(UsageError, match="at most 30"):
        tuning.tune(
            SMOOTH,
            name="wide",
            params={"n": "int(1,100,2)"},
            objective="score",
            instance_type="ml.m5.large",
            namespace={},
            backend="sagemaker",
        )
    with pytest.raises(UsageError, match="grid"):
        tuning.tune(
            SMOOTH,
            name="wide",
            params={"x": "uniform(0,1)"},
            objective="score",
            strategy="grid",
            instance_type="ml.m5.large",
            namespace={},
            backend="sagemaker",
        )


def test_sagemaker_ranges_round_trip() -> None:
    from jupyter_serverless_ml.backends.sagemaker.tuning import parameter_ranges, space_of
    from jupyter_serverless_ml.platform.tuning.space import parse_space

    space = parse_space(
        {
            "C": "loguniform(1e-3,10)",
            "r": "uniform(0,1)",
            "d": "int(2,10)",
            "p": "choice(l1,l2,3,true)",
        }
    )
    ranges = parameter_ranges(space, "tpe")
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "d", "MinValue": "2", "MaxValue": "10", "ScalingType": "Linear"}
    ]
    assert space_of(ranges) == space
    stepped = parameter_ranges(parse_space({"d": "int(2,10,4)"}), "tpe")
    assert stepped == {"CategoricalParameterRanges": [{"Name": "d", "Values": ["2", "6", "10"]}]}


# -- Vertex AI ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vx(tmp_path_factory: pytest.TempPathFactory, platform_home: Path) -> Iterator[Any]:
    from backends.vertex_fake import fake_vertex

    with fake_vertex(tmp_path_factory.mktemp("vertex-tuning")) as fake:
        backends.reset()
        backends.use_backend("vertex", **fake.settings())
        try:
            yield fake
        finally:
            backends.use_backend(None)
            backends.reset()


@pytest.fixture(scope="module")
def vx_study(vx: Any) -> tuning.Study:
    return tuning.tune(
        SMOOTH,
        name="smooth",
        params=SPACE,
        objective="score",
        trials=20,
        parallel=4,
        namespace={},
        backend="vertex",
    )


def _created(fake: Any, name: str) -> Any:
    return [
        body
        for route, body in fake.store.requests
        if route == "hyperparameterTuningJobs.create" and body.display_name == name
    ][-1]


def test_vertex_study_finds_the_optimum(vx_study: tuning.Study) -> None:
    assert vx_study.status == StudyStatus.COMPLETED
    trials = vx_study.trials
    assert len(trials) == 20 and all(t.status == TrialStatus.COMPLETED for t in trials)
    for trial in trials:  # the objective each trial reported through the hypertune file
        assert trial.value == pytest.approx(_score(dict(trial.params)), abs=1e-9)
        assert isinstance(trial.params["kind"], str) and trial.params["kind"] in ("a", "b")
    best = max(t.value for t in trials if t.value is not None)
    assert vx_study.best_value == pytest.approx(best) and best > 0.85, vx_study.best_params
    assert vx_study.best_params["kind"] == "b"


def test_vertex_tuning_job_as_vertex_got_it(vx: Any, vx_study: tuning.Study) -> None:
    from google.cloud import aiplatform_v1 as v1

    job = _created(vx, "smooth")
    assert isinstance(job, v1.HyperparameterTuningJob)
    assert job.max_trial_count == 20 and job.parallel_trial_count == 4
    study = job.study_spec
    assert study.algorithm == v1.StudySpec.Algorithm.ALGORITHM_UNSPECIFIED
    assert study.metrics[0].metric_id == "score"
    assert study.metrics[0].goal == v1.StudySpec.MetricSpec.GoalType.MAXIMIZE
    specs = {p.parameter_id: p for p in study.parameters}
    assert specs["lr"].scale_type == v1.StudySpec.ParameterSpec.ScaleType.UNIT_LOG_SCALE
    assert specs["lr"].double_value_spec.min_value == pytest.approx(1e-4)
    assert list(specs["kind"].categorical_value_spec.values) == ['"a"', '"b"']
    assert "median_automated_stopping_spec" not in study
    # the trials' job is the CustomJob %%train builds: the bundle's bootstrap, its env
    container = job.trial_job_spec.worker_pool_specs[0].container_spec
    env = {e.name: e.value for e in container.env}
    assert container.command[:2] == ["python", "-c"] and "JSML_BUNDLE_URI" in env
    # and each trial ran it with its parameters as arguments and wrote hypertune's lines
    ran = vx.store.tuning_jobs[vx_study.record.details["resource_name"]]
    first = vx.store.jobs[ran.trials[0].custom_job]
    assert any(
        a.startswith("--x=") for a in first.job_spec.worker_pool_specs[0].container_spec.args
    )
    assert first.state == v1.JobState.JOB_STATE_SUCCEEDED


def test_vertex_best_model_is_registered(vx: Any, vx_study: tuning.Study) -> None:
    record = vx_study.refresh().record
    assert record.model_name == "smooth" and record.model_version == 1
    assert vx_study.model() == {k: vx_study.best_params[k] for k in ("x", "lr", "kind")}
    again = vx_study.refresh().record
    assert again.model_version == 1
    registry = backends.get_backend("vertex")
    assert len(registry.models("smooth")) == 1  # type: ignore[attr-defined]
    assert [s.name for s in tuning.studies(backend="vertex")] == ["smooth"]


def test_vertex_grid_and_failed_trials(vx: Any) -> None:
    cell = GRID + "\nif hp.depth == 4:\n    raise ValueError('depth 4 diverges')\n"
    study = tuning.tune(
        cell,
        name="grid",
        params={"depth": "int(1,4)", "act": "choice(relu,tanh)"},
        objective="loss",
        direction="minimize",
        strategy="grid",
        trials=100,
        parallel=4,
        namespace={},
        backend="vertex",
    )
    from google.cloud import aiplatform_v1 as v1

    job = _created(vx, "grid")
    assert job.study_spec.algorithm == v1.StudySpec.Algorithm.GRID_SEARCH
    assert job.max_trial_count == 8
    seen = sorted((t.params["depth"], t.params["act"]) for t in study.trials)
    assert seen == sorted((d, a) for d in range(1, 5) for a in ("relu", "tanh"))
    failed = [t for t in study.trials if t.status == TrialStatus.FAILED]
    assert sorted(t.params["depth"] for t in failed) == [4, 4]
    assert study.status == StudyStatus.COMPLETED
    assert study.best_params == {"depth": 3, "act": "relu"} and study.best_value == 0


def test_vertex_stop_and_early_stop_mapping(vx: Any) -> None:
    study = tuning.tune(
        SLOW,
        name="slow",
        params={"x": "uniform(0,1)"},
        objective="score",
        strategy="random",
        early_stop=True,
        trials=4,
        parallel=2,
        namespace={},
        backend="vertex",
        wait=False,
    )
    job = _created(vx, "slow")
    assert "median_automated_stopping_spec" in job.study_spec
    tuning.stop_study("slow", backend="vertex")
    study.wait()
    assert study.status == StudyStatus.STOPPED
    assert all(t.status == TrialStatus.STOPPED for t in study.trials)
    with pytest.raises(UsageError, match="cannot continue"):
        tuning.resume("slow", backend="vertex", wait=False)


def test_hypertune_file_is_what_cloudml_hypertune_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_serverless_ml.runtime import hypertune

    target = tmp_path / "hypertune" / "output.metrics"
    monkeypatch.delenv("CLOUD_ML_TRIAL_ID", raising=False)
    hypertune.report("score", 0.5, None)
    assert not target.exists()  # not a tuning trial: nothing written
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(target))
    hypertune.report("score", 0.5, 3)
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_TAG", "score")
    hypertune.report("loss", 1.0, None)  # not the study's metric
    hypertune.report("score", 0.75, None)
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["trial"], r["score"], r["global_step"]) for r in rows] == [
        ("7", "0.5", "3"),
        ("7", "0.75", "0"),
    ]
