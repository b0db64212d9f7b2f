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
