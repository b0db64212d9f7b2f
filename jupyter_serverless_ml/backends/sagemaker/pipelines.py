"""Export a pipeline to a SageMaker Pipeline definition, built with the SageMaker SDK's
own workflow classes (``sagemaker.mlops.workflow``: ``Pipeline``, ``TrainingStep``,
``ConditionStep``...) and its property references (``Steps.fit.ModelArtifacts...``).

The mapping (the bundles run unchanged in SageMaker's training containers, as a
``%%train`` job does, see :mod:`.training`):

- function, train, evaluate: a ``TrainingStep`` running the step's bundle; an
  upstream output is an input channel whose ``S3Uri`` is the upstream step's
  ``ModelArtifacts.S3ModelArtifacts`` (a function or evaluate step writes its return
  value into the model directory, so every output is one ``model.tar.gz``, which the
  step's code unpacks); ``data`` channels are uploaded to the backend's bucket;
- condition: a ``ConditionStep`` on the tested step's
  ``FinalMetricDataList['metric'].Value`` (the metric is a ``MetricDefinitions`` entry
  of that training step); the steps declared ``when=cond`` are its ``IfSteps``, those
  ``when=cond.otherwise`` its ``ElseSteps``, and a step that needs a conditional
  step's output goes into the same branch;
- register: a ``RegisterModel`` step (a model package in the group ``model_name``);
- batch: a ``Model`` step (CreateModel) and a ``Transform`` step; local input files
  are uploaded as JSON Lines, as ``%batch_predict`` does on SageMaker;
- deploy: refused (SageMaker Pipelines have no deploy step).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...packaging import Bundle
from ...platform.pipelines.spec import JOB_KINDS, PipelineSpec, StepSpec
from ...records import BatchRequest
from . import images
from .backend import SageMakerBackend
from .jobs import encode_hyperparameters, metric_definitions, resource_name
from .registry import CONTENT_TYPES, _inference_environment
from .storage import TRAIN_SCRIPT
from .training import DEFAULT_MAX_RUNTIME

DEFAULT_INSTANCE = "ml.m5.large"
#: what the step's code reads to put its return value into the model directory
OUTPUT_ENV = {"JSML_STEP_OUTPUT": "model"}
_CONDITIONS = {
    ">=": "ConditionGreaterThanOrEqualTo",
    ">": "ConditionGreaterThan",
    "<=": "ConditionLessThanOrEqualTo",
    "<": "ConditionLessThan",
    "==": "ConditionEquals",
    "!=": "ConditionEquals",
}


def branches(spec: PipelineSpec) -> dict[str, tuple[str, bool] | None]:
    """The one condition branch each step runs under (its own ``when`` or one it inherits
    from a step whose output it needs); more than one is refused, naming the step."""
    out: dict[str, tuple[str, bool] | None] = {}
    for step in spec.order():
        found = dict(step.when)
        for up in step.upstream():
            inherited = out.get(up)
            if inherited and spec.step(up).kind != "condition":
                found.setdefault(inherited[0], inherited[1])
        if len(found) > 1:
            raise UsageError(
                f"step {step.name!r} runs under {len(found)} conditions "
                f"({', '.join(found)}); the export takes one condition per step: join the "
                "tests into one evaluate step's metric and one condition"
            )
        out[step.name] = next(iter(found.items()), None)
    return out


def refuse_unexportable(spec: PipelineSpec, target: str) -> None:
    """Refuse a step kind ``target`` has no step for, naming the step and what to do."""
    for step in spec.steps:
        if step.kind == "deploy" and target == "sagemaker":
            raise UsageError(
                f"step {step.name!r} is a deploy step: SageMaker Pipelines have no deploy "
                "step. Remove it from the exported pipeline and deploy after the run "
                f"(%deploy {step.config.get('endpoint')} with the registered model), or add "
                "a LambdaStep that calls CreateEndpoint in SageMaker Studio"
            )


def _model_source(spec: PipelineSpec, name: str) -> str:
    """The train step whose artifacts a train or register step's model is."""
    step = spec.step(name)
    while step.kind == "register" and step.model_step:
        step = spec.step(step.model_step)
    return step.name


def _tested_metrics(spec: PipelineSpec) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for step in spec.steps:
        if step.kind == "condition":
            found.setdefault(str(step.config["step"]), set()).add(str(step.config["metric"]))
    return found


def _bundle(step: StepSpec) -> Bundle:
    path = Path(str(step.bundle))
    return Bundle(path, json.loads((path / "manifest.json").read_text()))


class _Exporter:
    """Builds the SDK's step objects for one pipeline (see the module docstring)."""

    def __init__(self, backend: SageMakerBackend, spec: PipelineSpec) -> None:
        os.environ.setdefault("AWS_DEFAULT_REGION", backend.region)  # the SDK reads it at import
        from sagemaker.core.workflow import conditions
        from sagemaker.mlops.workflow import steps

        self.sdk_steps = steps
        self.conditions = conditions
        self.backend = backend
        self.spec = spec
        self.built: dict[str, Any] = {}
        self.metrics = _tested_metrics(spec)
        self.role = backend.role_arn()
        self.output = backend.storage.uri("pipelines", spec.name)

    def artifacts(self, name: str) -> Any:
        """``Steps.<train step>.ModelArtifacts.S3ModelArtifacts`` of a step's output."""
        source = self.built[_model_source(self.spec, name)]
        return source.properties.ModelArtifacts.S3ModelArtifacts

    def step(self, step: StepSpec) -> list[Any]:
        """The SDK step(s) for ``step``; a condition is filled in by :func:`definition`."""
        if step.kind in JOB_KINDS:
            return [self._job(step)]
        if step.kind == "condition":
            return [self._condition(step)]
        if step.kind == "register":
            return [self._register(step)]
        if step.kind == "batch":
            return self._batch(step)
        raise UsageError(f"step {step.name!r}: a {step.kind} step does not export to SageMaker")

    def _retry(self, step: StepSpec) -> dict[str, Any]:
        return {"RetryStrategy": {"MaximumRetryAttempts": step.retries}} if step.retries else {}

    def _job(self, step: StepSpec) -> Any:
        backend, config = self.backend, step.config
        bundle = _bundle(step)
        jsml = json.loads((bundle.path / "code" / "jsml.json").read_text())
        image, _ = images.choose(jsml, bundle.requirements, backend.region, backend.image)
        instance = str(config.get("instance_type") or DEFAULT_INSTANCE)
        if not instance.startswith("ml."):
            raise UsageError(
                f"step {step.name!r}: instance_type {instance} is not a SageMaker type; "
                "declare the step with an ml.* type (e.g. instance_type='ml.m5.large')"
            )
        _, source_uri = backend.storage.upload_bundle(bundle.path, bundle.hash)
        definitions = backend._definitions(bundle, jsml)
        tested, _ = metric_definitions(sorted(self.metrics.get(step.name, ())))
        known = {d["Name"] for d in definitions}
        definitions += [d for d in tested if d["Name"] not in known]
        channels: list[dict[str, Any]] = []
        sources: dict[str, Any] = {
            n: backend.storage.upload_channel(n, p) for n, p in step.data.items()
        }
        sources.update({arg: self.artifacts(up) for arg, up in step.inputs.items()})
        if step.model_step:
            sources["model"] = self.artifacts(step.model_step)
        for name, uri in sources.items():
            channels.append(
                {
                    "ChannelName": name,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "InputMode": "File",
                }
            )
        hyperparameters = encode_hyperparameters(dict(step.params))
        hyperparameters.update(
            encode_hyperparameters(
                {
                    "sagemaker_program": TRAIN_SCRIPT,
                    "sagemaker_submit_directory": source_uri,
                    "sagemaker_region": backend.region,
                    "sagemaker_container_log_level": 20,
                }
            )
        )
        environment = {"PYTHONUNBUFFERED": "1"}
        if step.kind != "train":
            environment.update(OUTPUT_ENV)
        request: dict[str, Any] = {
            "AlgorithmSpecification": {
                "TrainingImage": image,
                "TrainingInputMode": "File",
                "MetricDefinitions": definitions,
            },
            "HyperParameters": hyperparameters,
            "RoleArn": self.role,
            "OutputDataConfig": {"S3OutputPath": self.output},
            "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {
                "MaxRuntimeInSeconds": int(config.get("max_runtime") or DEFAULT_MAX_RUNTIME)
            },
            "Environment": environment,
            **self._retry(step),
        }
        if channels:
            request["InputDataConfig"] = channels
        cache = self.sdk_steps.CacheConfig(enable_caching=True, expire_after="P30D")
        return _training_step(self.sdk_steps)(
            step.name, request, cache_config=cache if step.cache else None
        )

    def _condition(self, step: StepSpec) -> Any:
        config = step.config
        tested = self.built[str(config["step"])]
        left = tested.properties.FinalMetricDataList[str(config["metric"])].Value
        made = getattr(self.conditions, _CONDITIONS[str(config["op"])])(
            left=left, right=float(config["value"])
        )
        if config["op"] == "!=":
            made = self.conditions.ConditionNot(expression=made)
        from sagemaker.mlops.workflow.condition_step import ConditionStep

        return ConditionStep(step.name, conditions=[made])

    def _register(self, step: StepSpec) -> Any:
        request = {
            "ModelPackageGroupName": resource_name(str(step.config["model_name"])),
            "ModelPackageDescription": f"jupyter-serverless-ml pipeline {self.spec.name}",
            "InferenceSpecification": {
                "Containers": [self._container(str(step.model_step))],
                "SupportedContentTypes": CONTENT_TYPES,
                "SupportedResponseMIMETypes": CONTENT_TYPES,
            },
            "ModelApprovalStatus": "Approved",
        }
        return _plain_step(self.sdk_steps, "REGISTER_MODEL", "DescribeModelPackageOutput")(
            step.name, request
        )

    def _container(self, model_step: str) -> dict[str, Any]:
        return {
            "Image": self.backend._kernel_image(),
            "ModelDataUrl": self.artifacts(model_step),
            "Environment": _inference_environment(self.backend.region),
        }

    def _batch(self, step: StepSpec) -> list[Any]:
        backend = self.backend
        job = resource_name(f"{self.spec.name}-{step.name}")
        staged = BatchRequest(
            model=str(step.model_step),
            input_uri=str(step.config["input"]),
            output_uri="",
            input_format=step.config.get("input_format"),
        )
        source, content_type, _, _ = backend._stage_input(job, staged)
        model = _plain_step(self.sdk_steps, "CREATE_MODEL", "DescribeModelOutput")(
            f"{step.name}-model",
            {
                "PrimaryContainer": self._container(str(step.model_step)),
                "ExecutionRoleArn": self.role,
            },
        )
        method = str(step.config.get("method") or "predict")
        request = {
            "ModelName": model.properties.ModelName,
            "MaxConcurrentTransforms": max(1, int(step.config.get("workers") or 2)),
            "MaxPayloadInMB": 6,
            "BatchStrategy": "MultiRecord",
            "Environment": {"JSML_METHOD": method},
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                "ContentType": content_type,
                "SplitType": "Line",
                "CompressionType": "None",
            },
            "TransformOutput": {
                "S3OutputPath": backend.storage.uri("pipelines", self.spec.name, step.name),
                "Accept": "application/jsonlines",
                "AssembleWith": "Line",
            },
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        }
        transform = _plain_step(self.sdk_steps, "TRANSFORM", "DescribeTransformJobResponse")(
            step.name, request, **self._retry(step)
        )
        return [model, transform]


def _training_step(steps: Any) -> Any:
    class JsmlTrainingStep(steps.TrainingStep):
        """A TrainingStep whose CreateTrainingJob request is built here (from a bundle)."""

        def __init__(self, name: str, request: dict[str, Any], **kwargs: Any) -> None:
            super().__init__(name, **kwargs)
            self._request = request

        @property
        def arguments(self) -> dict[str, Any]:
            return self._request

    return JsmlTrainingStep


def _plain_step(steps: Any, kind: str, shape: str) -> Any:
    from sagemaker.core.workflow.properties import Properties

    class JsmlStep(steps.ConfigurableRetryStep):
        """A step whose request (CreateModelPackage, CreateModel, CreateTransformJob) is
        built here; its properties are the SDK's for the matching Describe call."""

        def __init__(self, name: str, request: dict[str, Any], **extra: Any) -> None:
            super().__init__(name, getattr(steps.StepTypeEnum, kind))
            self._request = {**request, **extra}
            self._properties = Properties(step_name=name, step=self, shape_name=shape)

        @property
        def arguments(self) -> dict[str, Any]:
            return self._request

        @property
        def properties(self) -> Any:
            return self._properties

    return JsmlStep


def definition(backend: SageMakerBackend, spec: PipelineSpec, name: str | None = None) -> str:
    """The SageMaker Pipeline definition (JSON text) of ``spec``, built by the SDK's
    ``Pipeline.definition()``; uploads the bundles and data it needs to the bucket."""
    refuse_unexportable(spec, "sagemaker")
    under = branches(spec)
    exporter = _Exporter(backend, spec)
    made: dict[str, list[Any]] = {}
    for step in spec.order():
        made[step.name] = exporter.step(step)
        exporter.built[step.name] = made[step.name][-1]
    top: list[Any] = []
    for step in spec.steps:
        parts = made[step.name]
        for each in parts:
            after = [exporter.built[a] for a in step.after]
            if after:
                each.add_depends_on(after)
        branch = under[step.name]
        if branch is None:
            top.extend(parts)
            continue
        condition = exporter.built[branch[0]]
        (condition.if_steps if branch[1] else condition.else_steps).extend(parts)
    from sagemaker.mlops.workflow.pipeline import Pipeline

    pipeline = Pipeline(
        name=resource_name(name or spec.name), steps=top, pipeline_experiment_config=None
    )
    return str(pipeline.definition())


def submit(backend: SageMakerBackend, name: str, text: str) -> dict[str, Any]:
    """Create (or update) the pipeline ``name`` in SageMaker and read it back."""
    name = resource_name(name)
    common = {"PipelineName": name, "PipelineDefinition": text, "RoleArn": backend.role_arn()}
    existing = backend.aws.call(
        "sagemaker", "list_pipelines", "listing pipelines", PipelineNamePrefix=name
    ).get("PipelineSummaries", [])
    if any(p.get("PipelineName") == name for p in existing):
        backend.aws.call("sagemaker", "update_pipeline", f"updating pipeline {name}", **common)
    else:
        backend.aws.call(
            "sagemaker",
            "create_pipeline",
            f"creating pipeline {name}",
            PipelineDisplayName=name,
            Tags=backend.tags(name=name),
            **common,
        )
    return dict(
        backend.aws.call(
            "sagemaker", "describe_pipeline", f"reading pipeline {name}", PipelineName=name
        )
    )


def check_definition(text: str, spec: PipelineSpec) -> Mapping[str, Any]:
    """Parse the definition and check every declared step is in it (a sanity check of
    what the SDK built: names, types, and the branch lists of each condition)."""
    data = json.loads(text)
    names: set[str] = set()

    def walk(items: list[Mapping[str, Any]]) -> None:
        for item in items:
            names.add(str(item["Name"]))
            if item["Type"] == "Condition":
                walk(item["Arguments"].get("IfSteps") or [])
                walk(item["Arguments"].get("ElseSteps") or [])

    walk(data["Steps"])
    missing = [s.name for s in spec.steps if s.name not in names]
    if missing:
        raise UsageError(f"the SageMaker definition lacks step(s) {', '.join(missing)}")
    return dict(data)


__all__ = ["branches", "check_definition", "definition", "refuse_unexportable", "submit"]
