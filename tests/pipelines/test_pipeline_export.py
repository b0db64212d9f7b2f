"""Export to SageMaker Pipelines (built by the SageMaker SDK's workflow classes, created in
moto and read back) and to Vertex AI Pipelines (a KFP PipelineSpec parsed by the
kfp-pipeline-spec protobuf, submitted as a PipelineJob to the Vertex REST fake).

The clouds are fakes (moto, our Vertex fake) driven by the real SDKs over HTTP.
"""

from __future__ import annotations

import json
import linecache
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_serverless_ml import backends
from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.pipelines import Pipeline

NOTEBOOK = '''
import pandas as pd
from sklearn.linear_model import LogisticRegression

FEATURES = ["mean radius", "mean texture"]

def prepare(rows):
    return pd.read_csv(channel("raw")).head(rows)

def fit(df, C):
    return LogisticRegression(C=C, max_iter=500).fit(df[FEATURES], df.target)

def score(model, df):
    return {"accuracy": float(model.score(df[FEATURES], df.target))}
'''


@pytest.fixture(scope="module")
def notebook() -> dict[str, Any]:
    filename = "<ipython-input-export>"
    linecache.cache[filename] = (len(NOTEBOOK), None, NOTEBOOK.splitlines(True), filename)
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(NOTEBOOK, filename, "exec"), ns)
    return ns


def declare(nb: dict[str, Any], tmp: Path, csv: Path, *, deploy: bool = False) -> Pipeline:
    """prep -> fit -> score -> good? -> register (+ batch); otherwise: a retrain."""
    p = Pipeline("churn", output=tmp / "out")
    prep = p.function(nb["prepare"], name="prep", data={"raw": csv}, params={"rows": 300})
    fit = p.train(nb["fit"], inputs={"df": prep}, params={"C": 0.5}, retries=2)
    ev = p.evaluate(nb["score"], model=fit, inputs={"df": prep})
    good = p.condition(ev, "accuracy", ">=", 0.8, name="good")
    reg = p.register(fit, model_name="churn-model", when=good, name="reg")
    p.batch(reg, input=csv, name="scores")  # needs reg: inherits the true branch
    p.train(nb["fit"], name="refit", inputs={"df": prep}, params={"C": 2.0},
            when=good.otherwise)  # fmt: skip
    if deploy:
        p.deploy(reg, endpoint="churn", when=good)
    return p


@pytest.fixture
def sagemaker(home: Path) -> Iterator[dict[str, Any]]:
    from backends.env_sagemaker import current, sagemaker_environment

    with sagemaker_environment(home) as settings:
        yield {**settings, "quiet": True, "emulator": current()}
    backends.reset()


def _by_name(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for step in steps:
        out[step["Name"]] = step
        if step["Type"] == "Condition":
            out.update(_by_name(step["Arguments"]["IfSteps"]))
            out.update(_by_name(step["Arguments"]["ElseSteps"]))
    return out


def test_sagemaker_definition_built_by_the_sdk_created_in_moto(
    home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path,
    sagemaker: dict[str, Any],
) -> None:  # fmt: skip
    emulator = sagemaker.pop("emulator")
    p = declare(notebook, tmp_path, cancer_csv)
    out = tmp_path / "sm.json"
    data = p.to_sagemaker(out=out, submit=True, **sagemaker)
    assert json.loads(out.read_text()) == data
    top = {s["Name"]: s for s in data["Steps"]}
    assert set(top) == {"prep", "fit", "score", "good"}
    steps = _by_name(data["Steps"])
    assert {k: v["Type"] for k, v in steps.items()} == {
        "prep": "Training", "fit": "Training", "score": "Training", "good": "Condition",
        "reg": "RegisterModel", "scores-model": "Model", "scores": "Transform",
        "refit": "Training",
    }  # fmt: skip
    cond = top["good"]["Arguments"]
    assert [s["Name"] for s in cond["IfSteps"]] == ["reg", "scores-model", "scores"]
    assert [s["Name"] for s in cond["ElseSteps"]] == ["refit"]
    assert cond["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": {"Get": "Steps.score.FinalMetricDataList['accuracy'].Value"},
            "RightValue": 0.8,
        }
    ]
    # upstream outputs are channels fed by the SDK's property references
    fit = steps["fit"]["Arguments"]
    channel = fit["InputDataConfig"][0]
    assert channel["ChannelName"] == "df"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.prep.ModelArtifacts.S3ModelArtifacts"
    }
    assert fit["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert fit["HyperParameters"]["C"] == "0.5"
    assert "JSML_STEP_OUTPUT" not in fit["Environment"]  # a train step's output is its model
    score = steps["score"]["Arguments"]
    assert {c["ChannelName"] for c in score["InputDataConfig"]} == {"df", "model"}
    assert score["Environment"]["JSML_STEP_OUTPUT"] == "model"
    assert "accuracy" in {d["Name"] for d in score["AlgorithmSpecification"]["MetricDefinitions"]}
    reg = steps["reg"]["Arguments"]
    assert reg["ModelPackageGroupName"] == "churn-model"
    assert reg["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == {
        "Get": "Steps.fit.ModelArtifacts.S3ModelArtifacts"
    }
    assert steps["scores"]["Arguments"]["ModelName"] == {"Get": "Steps.scores-model.ModelName"}

    # the uploads are really there: the bundle each step runs, and the data channel
    s3 = emulator.clients["s3"]
    for name in ("prep", "fit", "score", "refit"):
        args = steps[name]["Arguments"]
        source = json.loads(args["HyperParameters"]["sagemaker_submit_directory"])
        bucket, _, key = source.removeprefix("s3://").partition("/")
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    raw = steps["prep"]["Arguments"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, _, prefix = raw.removeprefix("s3://").partition("/")
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] >= 1

    # created in SageMaker (moto) and read back unchanged; a second export updates it
    import boto3

    sm = boto3.client("sagemaker", endpoint_url=emulator.endpoint_url, region_name=emulator.region)
    stored = sm.describe_pipeline(PipelineName="churn")
    assert json.loads(stored["PipelineDefinition"]) == data
    p.to_sagemaker(submit=True, **sagemaker)
    assert len(sm.list_pipelines()["PipelineSummaries"]) == 1


def test_sagemaker_refuses_deploy_and_two_conditions(
    home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path,
    sagemaker: dict[str, Any],
) -> None:  # fmt: skip
    sagemaker.pop("emulator")
    p = declare(notebook, tmp_path, cancer_csv, deploy=True)
    with pytest.raises(UsageError, match="step 'deploy' is a deploy step: SageMaker Pipelines"):
        p.to_sagemaker(**sagemaker)
    q = Pipeline("two", output=tmp_path / "two")
    prep = q.function(notebook["prepare"], name="prep", data={"raw": cancer_csv},
                      params={"rows": 10})  # fmt: skip
    fit = q.train(notebook["fit"], inputs={"df": prep}, params={"C": 1.0})
    ev = q.evaluate(notebook["score"], model=fit, inputs={"df": prep})
    a = q.condition(ev, "accuracy", ">", 0.5, name="a")
    b = q.condition(ev, "accuracy", "<", 0.99, name="b")
    q.register(fit, model_name="m", when=[a, b])
    with pytest.raises(UsageError, match="step 'register' runs under 2 conditions"):
        q.to_sagemaker(**sagemaker)
    local = Pipeline("local", output=tmp_path / "local")
    local.function(notebook["prepare"], name="prep", data={"raw": cancer_csv},
                   params={"rows": 1}, instance_type="local")  # fmt: skip
    with pytest.raises(UsageError, match="instance_type local is not a SageMaker type"):
        local.to_sagemaker(**sagemaker)


@pytest.fixture
def vertex(home: Path) -> Iterator[Any]:
    from backends.vertex_fake import fake_vertex

    with fake_vertex(home.parent / f"{home.name}-vertex") as fake:
        yield fake
    backends.reset()


def test_vertex_pipeline_spec_parsed_by_kfp_and_submitted(
    home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path, vertex: Any
) -> None:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    settings = vertex.settings()
    p = declare(notebook, tmp_path, cancer_csv, deploy=True)
    out = tmp_path / "vertex.json"
    data = p.to_vertex(out=out, submit=True, **settings)
    assert json.loads(out.read_text()) == data
    parsed = json_format.ParseDict(data, pipeline_spec_pb2.PipelineSpec())
    root = parsed.root.dag.tasks
    assert set(root) == {"prep", "fit", "score", "good-if", "good-else"}
    assert list(root["fit"].dependent_tasks) == ["prep"]
    df = root["fit"].inputs.artifacts["df"].task_output_artifact
    assert (df.producer_task, df.output_artifact_key) == ("prep", "output")
    assert root["fit"].retry_policy.max_retry_count == 2
    assert root["good-if"].trigger_policy.condition == (
        "inputs.parameter_values['pipelinechannel--score-accuracy'] >= 0.8"
    )
    assert root["good-else"].trigger_policy.condition.startswith("!(")
    param = root["good-if"].inputs.parameters["pipelinechannel--score-accuracy"]
    assert param.task_output_parameter.producer_task == "score"
    branch = parsed.components["comp-good-if"].dag.tasks
    assert set(branch) == {"reg", "scores", "deploy-endpoint", "deploy"}
    assert set(parsed.components["comp-good-else"].dag.tasks) == {"refit"}
    model_in = branch["reg"].inputs.artifacts["unmanaged_container_model"]
    assert model_in.component_input_artifact == "pipelinechannel--fit-output"
    assert sorted(branch["deploy"].dependent_tasks) == ["deploy-endpoint", "reg"]
    comps = parsed.components
    score = comps["comp-score"].output_definitions
    assert score.parameters["accuracy"].parameter_type == (
        pipeline_spec_pb2.ParameterType.NUMBER_DOUBLE
    )
    assert comps["comp-fit"].output_definitions.artifacts["output"].artifact_type.schema_title == (
        "system.Model"
    )
    assert comps["comp-reg"].output_definitions.artifacts["model"].artifact_type.schema_title == (
        "google.VertexModel"
    )
    # the job steps' bundles and data are in the bucket the containers read
    executors = data["deploymentSpec"]["executors"]
    config = json.loads(executors["exec-prep"]["container"]["args"][0])
    bundle = config["env"]["JSML_BUNDLE_URI"]
    assert (vertex.gcs.local(bundle) / "manifest.json").is_file()
    assert vertex.gcs.local(config["channels"]["raw"]).read_bytes() == cancer_csv.read_bytes()
    assert "launcher" in " ".join(executors["exec-deploy"]["container"]["command"])

    # submitted as a PipelineJob; the fake parsed the spec with the same protobuf
    created = [m for route, m in vertex.store.requests if route == "pipelineJobs.create"]
    assert len(created) == 1
    sent = type(created[0]).to_dict(created[0])["pipeline_spec"]
    assert set(sent["components"]) == set(data["components"])
    tasks = sent["root"]["dag"]["tasks"]
    assert tasks["good-if"]["triggerPolicy"] == data["root"]["dag"]["tasks"]["good-if"]["triggerPolicy"]
    assert "cachingOptions" not in tasks["good-if"]  # the per-step caching is kept as declared


def test_vertex_refusals_and_a_spec_the_protobuf_refuses(
    home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path, vertex: Any
) -> None:
    from jupyter_serverless_ml.backends.vertex.pipelines import validate

    settings = vertex.settings()
    p = Pipeline("direct", output=tmp_path / "d")
    prep = p.function(notebook["prepare"], name="prep", data={"raw": cancer_csv},
                      params={"rows": 10})  # fmt: skip
    fit = p.train(notebook["fit"], inputs={"df": prep}, params={"C": 1.0})
    p.deploy(fit, endpoint="e")
    with pytest.raises(UsageError, match="step 'deploy': a deploy step exports to Vertex with a"):
        p.to_vertex(**settings)
    with pytest.raises(UsageError, match="not valid"):
        validate({"root": {"dag": {"tasks": {"a": {"componentRef": {"name": "c"}, "bogus": 1}}}}})


def test_pipeline_export_magic(
    ipython: Any, home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path,
    sagemaker: dict[str, Any],
) -> None:  # fmt: skip
    sagemaker.pop("emulator")
    backends.use_backend("sagemaker", **sagemaker)
    try:
        ipython.user_ns["churn"] = declare(notebook, tmp_path, cancer_csv)
        out = tmp_path / "magic.json"
        data = ipython.run_line_magic("pipeline", f"export churn --to sagemaker --out {out}")
        assert json.loads(out.read_text()) == data and data["Steps"][0]["Name"] == "prep"
        with pytest.raises(UsageError, match="no pipeline 'nope' in this kernel"):
            ipython.run_line_magic("pipeline", "export nope --to vertex")
        with pytest.raises(UsageError, match="%pipeline"):
            ipython.run_line_magic("pipeline", "export churn --to azure")
    finally:
        backends.use_backend(None)


def test_jsml_pipeline_export_reads_the_stored_definition(
    home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path,
    sagemaker: dict[str, Any], capsys: pytest.CaptureFixture[str], ipython: Any,
) -> None:  # fmt: skip
    from jupyter_serverless_ml.frontends import cli

    sagemaker.pop("emulator")
    run = declare(notebook, tmp_path, cancer_csv).run(wait=False)  # stores the definition
    run.stop()
    backends.use_backend("sagemaker", **sagemaker)
    try:
        out = tmp_path / "cli.json"
        code = cli.main(["pipeline", "export", "churn", "--to", "sagemaker", "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        assert f"exported pipeline churn to sagemaker: {out}" in capsys.readouterr().out
        data = json.loads(out.read_text())
        assert {s["Name"] for s in data["Steps"]} == {"prep", "fit", "score", "good"}
        steps = _by_name(data["Steps"])
        assert steps["reg"]["Type"] == "RegisterModel" and steps["scores"]["Type"] == "Transform"
        assert cli.main(["pipeline", "export", "nope", "--to", "vertex"]) != 0
        assert "no pipeline 'nope'" in capsys.readouterr().err
        assert cli.main(["pipeline", "export", "churn"]) == 2
        assert "--to sagemaker|vertex" in capsys.readouterr().err
        # %pipeline export in a kernel that never declared it: the stored definition
        ipython.user_ns.pop("churn", None)
        again = ipython.run_line_magic("pipeline", "export churn --to sagemaker")
        assert {s["Name"] for s in again["Steps"]} == {"prep", "fit", "score", "good"}
        with pytest.raises(UsageError, match="no pipeline 'nope' in this kernel or on the"):
            ipython.run_line_magic("pipeline", "export nope --to sagemaker")
    finally:
        backends.use_backend(None)
