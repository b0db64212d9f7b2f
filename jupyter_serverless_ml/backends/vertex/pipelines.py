"""Export a pipeline to a Vertex AI Pipelines (KFP v2) ``PipelineSpec``.

The spec is built as a dict and validated by parsing it into the ``kfp-pipeline-spec``
protobuf (``pipeline_spec_pb2.PipelineSpec``, unknown fields refused); :func:`submit`
runs it as an ``aiplatform.PipelineJob``. The mapping:

- function, train, evaluate: a container task running the step's bundle in the
  prebuilt training container (the command a ``%%train`` CustomJob runs, see
  :mod:`.bootstrap`); an upstream output is an input artifact whose URI becomes the
  channel, the step's output is the artifact ``output`` (``system.Model`` for train)
  and each metric a condition tests is an output parameter;
- condition: a sub-DAG task with ``triggerPolicy.condition`` (and one negated for
  the ``otherwise`` branch) holding the steps of that branch;
- register: the ``ModelUploadOp`` pattern (google-cloud-pipeline-components' upload
  launcher), a ``google.VertexModel``; deploy: ``EndpointCreateOp`` + ``ModelDeployOp``;
  batch: ``ModelBatchPredictOp`` (deploy and batch need a register step's model).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...packaging import Bundle
from ...platform.pipelines.spec import JOB_KINDS, PipelineSpec, StepSpec
from ..sagemaker.pipelines import branches
from . import images
from .backend import VertexBackend
from .batch import FORMATS
from .training import BOOTSTRAP

SCHEMA_VERSION = "2.1.0"
GCPC_IMAGE = "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.17.0"
_LAUNCHER = "google_cloud_pipeline_components.container.v1.{}.launcher"


def _type(title: str) -> dict[str, Any]:
    return {"artifactType": {"schemaTitle": title, "schemaVersion": "0.0.1"}}


#: writes the run's metric values to the task's output parameters, then runs the
#: bootstrap with its settings from the first argument (placeholders resolved by KFP)
_PRELUDE = """import atexit as _jsml_atexit
import json as _jsml_json
import os as _jsml_os
import sys as _jsml_sys

_jsml_config = _jsml_json.loads(_jsml_sys.argv[1])
_jsml_os.environ.update(_jsml_config["env"])
_jsml_os.environ["JSML_CHANNELS"] = _jsml_json.dumps(_jsml_config["channels"])


def _jsml_parameters():
    mount = _jsml_os.environ.get("JSML_GCS_MOUNT") or "/gcs"
    logs = _jsml_os.environ["JSML_OUTPUT_URI"][len("gs://"):].rstrip("/")
    values = {}
    try:
        with open(f"{mount}/{logs}/metrics.jsonl") as fh:
            for line in fh:
                record = _jsml_json.loads(line)
                values[record["name"]] = float(record["value"])
    except (OSError, ValueError, KeyError):
        return
    for name, target in _jsml_config["parameters"].items():
        if name in values:
            _jsml_os.makedirs(_jsml_os.path.dirname(target), exist_ok=True)
            with open(target, "w") as fh:
                fh.write(_jsml_json.dumps(values[name]))


_jsml_atexit.register(_jsml_parameters)
"""
RUNNER = _PRELUDE + BOOTSTRAP


def _output(kind: str) -> tuple[str, str]:
    """(output key, artifact schema) of a step kind's output."""
    return {
        "train": ("output", "system.Model"),
        "register": ("model", "google.VertexModel"),
        "batch": ("batchpredictionjob", "google.VertexBatchPredictionJob"),
    }.get(kind, ("output", "system.Artifact"))


class _Builder:
    def __init__(self, backend: VertexBackend, spec: PipelineSpec) -> None:
        self.backend = backend
        self.spec = spec
        self.under = branches(spec)
        self.components: dict[str, Any] = {}
        self.executors: dict[str, Any] = {}
        self.dags: dict[tuple[str, bool] | None, dict[str, Any]] = {None: {}}
        self.key = f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.tested: dict[str, set[str]] = {}
        for step in spec.steps:
            if step.kind == "condition":
                if self.under[step.name] is not None:
                    raise UsageError(
                        f"step {step.name!r}: a condition inside another condition's branch "
                        "does not export to Vertex; join the tests into one condition"
                    )
                self.tested.setdefault(str(step.config["step"]), set()).add(
                    str(step.config["metric"])
                )

    # -- references ----------------------------------------------------------------

    def channel(self, group: tuple[str, bool] | None, up: str, key: str, kind: str) -> Any:
        """How a task in ``group`` reads ``up``'s output ``key`` (a parameter for metrics)."""
        if self.under[up] == group:
            if kind == "parameter":
                return {"taskOutputParameter": {"producerTask": up, "outputParameterKey": key}}
            return {"taskOutputArtifact": {"producerTask": up, "outputArtifactKey": key}}
        assert group is not None and self.under[up] is None
        name = f"pipelinechannel--{up}-{key}"
        sub = self.dags.setdefault(group, {})
        sub.setdefault("_inputs", {})[name] = (up, key, kind)
        if kind == "parameter":
            return {"componentInputParameter": name}
        return {"componentInputArtifact": name}

    def _task(self, step: StepSpec, name: str, component: str, inputs: dict[str, Any],
              ups: list[str]) -> None:  # fmt: skip
        group = self.under[step.name]
        kinds = {s.name: s.kind for s in self.spec.steps}
        same = [u for u in ups if self.under.get(u) == group and kinds.get(u) != "condition"]
        task: dict[str, Any] = {
            "taskInfo": {"name": name},
            "componentRef": {"name": component},
            "inputs": {"artifacts": inputs} if inputs else {},
        }
        if same:
            task["dependentTasks"] = sorted(set(same))
        if step.retries:
            task["retryPolicy"] = {"maxRetryCount": step.retries}
        if step.kind in JOB_KINDS and not step.cache:
            task["cachingOptions"] = {}
        elif step.kind in JOB_KINDS:
            task["cachingOptions"] = {"enableCache": True}
        self.dags.setdefault(group, {})[name] = task

    def _component(self, name: str, inputs: Mapping[str, str], outputs: Mapping[str, str],
                   parameters: Mapping[str, str], container: dict[str, Any]) -> str:  # fmt: skip
        comp: dict[str, Any] = {"executorLabel": f"exec-{name}"}
        if inputs:
            comp["inputDefinitions"] = {"artifacts": {k: _type(v) for k, v in inputs.items()}}
        out: dict[str, Any] = {"artifacts": {k: _type(v) for k, v in outputs.items()}}
        if parameters:
            out["parameters"] = {k: {"parameterType": v} for k, v in parameters.items()}
        comp["outputDefinitions"] = out
        self.components[f"comp-{name}"] = comp
        self.executors[f"exec-{name}"] = {"container": container}
        return f"comp-{name}"

    # -- steps ---------------------------------------------------------------------

    def step(self, step: StepSpec) -> None:
        if step.kind in JOB_KINDS:
            self._job(step)
        elif step.kind in ("register", "deploy", "batch"):
            getattr(self, f"_{step.kind}")(step)

    def _job(self, step: StepSpec) -> None:
        backend, group = self.backend, self.under[step.name]
        path = Path(str(step.bundle))
        bundle = Bundle(path, json.loads((path / "manifest.json").read_text()))
        python = str(bundle.manifest.get("python") or bundle.manifest.get("python_version") or "")
        image = images.training_image(python, False, backend.training_image)
        channels: dict[str, str] = {}
        for channel, source in step.data.items():
            target = backend.uri("data", self.key, channel)
            backend.storage.upload_tree(Path(source), target, notice=True)
            channels[channel] = (
                f"{target}/{Path(source).name}" if Path(source).is_file() else target
            )
        inputs: dict[str, Any] = {}
        types: dict[str, str] = {}
        sources = dict(step.inputs)
        if step.model_step:
            sources["model"] = step.model_step
        for arg, up in sources.items():
            key, schema = _output(self.spec.step(up).kind)
            if schema == "google.VertexModel":  # a register step: read the trained artifact
                up = str(self.spec.step(up).model_step)
                key, schema = _output("train")
            inputs[arg] = self.channel(group, up, key, "artifact")
            types[arg] = schema
            channels[arg] = f"{{{{$.inputs.artifacts['{arg}'].uri}}}}"
        metrics = sorted(self.tested.get(step.name, ()))
        env = {
            "JSML_BUNDLE_URI": backend._upload_bundle(bundle),
            "JSML_BUNDLE_HASH": bundle.hash,
            "JSML_HYPERPARAMETERS": json.dumps(dict(step.params)),
            "JSML_INSTANCE_TYPE": str(step.config.get("instance_type") or "n1-standard-4"),
            "JSML_OUTPUT_URI": "{{$.outputs.artifacts['logs'].uri}}",
            "AIP_MODEL_DIR": "{{$.outputs.artifacts['output'].uri}}",
            "PYTHONUNBUFFERED": "1",
        }
        if step.kind != "train":
            env["JSML_STEP_OUTPUT"] = "model"
        config = {
            "env": env,
            "channels": channels,
            "parameters": {m: f"{{{{$.outputs.parameters['{m}'].output_file}}}}" for m in metrics},
        }
        container = {
            "image": image,
            "command": ["python", "-c", RUNNER],
            "args": [json.dumps(config)],
        }
        outputs = {"output": _output(step.kind)[1], "logs": "system.Artifact"}
        comp = self._component(
            step.name, types, outputs, {m: "NUMBER_DOUBLE" for m in metrics}, container
        )
        self._task(step, step.name, comp, inputs, step.upstream())

    def _gcpc(self, step: StepSpec, name: str, module: str, kind: str, payload: dict[str, Any],
              inputs: dict[str, tuple[str, str, str]], output: tuple[str, str]) -> None:  # fmt: skip
        """A google-cloud-pipeline-components launcher task (``inputs``: argument ->
        (upstream step, its output key, artifact schema))."""
        settings = self.backend.settings
        container = {
            "image": GCPC_IMAGE,
            "command": ["python3", "-u", "-m", _LAUNCHER.format(module)],
            "args": [
                "--type", kind, "--payload", json.dumps(payload),
                "--project", settings.project, "--location", settings.location,
                "--gcp_resources", "{{$.outputs.parameters['gcp_resources'].output_file}}",
                "--executor_input", "{{$}}",
            ],
        }  # fmt: skip
        group = self.under[step.name]
        refs = {
            arg: self.channel(group, up, key, "artifact") for arg, (up, key, _) in inputs.items()
        }
        comp = self._component(
            name, {a: t for a, (_, _, t) in inputs.items()}, dict([output]),
            {"gcp_resources": "STRING"}, container,
        )  # fmt: skip
        self._task(step, name, comp, refs, [up for up, _, _ in inputs.values()] + list(step.after))

    def _registered(self, step: StepSpec) -> str:
        model = str(step.model_step)
        if self.spec.step(model).kind != "register":
            raise UsageError(
                f"step {step.name!r}: a {step.kind} step exports to Vertex with a registered "
                f"model (a Vertex Model): give model= a register step, not {model!r}"
            )
        return model

    def _serving_image(self) -> str:
        from importlib import metadata

        try:
            version = metadata.version("scikit-learn")
        except metadata.PackageNotFoundError:
            version = ""
        return images.prediction_image(
            "sklearn", {"scikit-learn": version}, self.backend.serving_image
        )

    def _register(self, step: StepSpec) -> None:
        payload = {
            "display_name": str(step.config["model_name"]),
            "artifact_uri": "{{$.inputs.artifacts['unmanaged_container_model'].uri}}",
            "container_spec": {"image_uri": self._serving_image()},
            "labels": {"jsml-pipeline": self.spec.name},
        }
        source = str(step.model_step)
        self._gcpc(
            step, step.name, "model.upload_model", "UploadModel", payload,
            {"unmanaged_container_model": (source, "output", "system.Model")},
            ("model", "google.VertexModel"),
        )  # fmt: skip

    def _deploy(self, step: StepSpec) -> None:
        model = self._registered(step)
        endpoint = f"{step.name}-endpoint"
        self.under[endpoint] = self.under[step.name]
        self._gcpc(
            step, endpoint, "endpoint.create_endpoint", "CreateEndpoint",
            {"display_name": str(step.config["endpoint"])}, {}, ("endpoint", "google.VertexEndpoint"),
        )  # fmt: skip
        machine = images.machine_spec(str(step.config.get("instance_type") or "n1-standard-2"))
        payload = {
            "endpoint": "{{$.inputs.artifacts['endpoint'].metadata['resourceName']}}",
            "deployed_model": {
                "model": "{{$.inputs.artifacts['model'].metadata['resourceName']}}",
                "dedicated_resources": {
                    "machine_spec": machine,
                    "min_replica_count": max(1, int(step.config.get("min_replicas") or 1)),
                    "max_replica_count": max(1, int(step.config.get("max_replicas") or 1)),
                },
            },
            "traffic_split": {"0": 100},
        }
        self._gcpc(
            step, step.name, "endpoint.deploy_model", "DeployModel", payload,
            {"model": (model, "model", "google.VertexModel"),
             "endpoint": (endpoint, "endpoint", "google.VertexEndpoint")},
            ("gcp_output", "system.Artifact"),
        )  # fmt: skip

    def _batch(self, step: StepSpec) -> None:
        model = self._registered(step)
        source = str(step.config["input"])
        fmt = str(step.config.get("input_format") or Path(source).suffix.lstrip(".") or "csv")
        if fmt not in FORMATS:
            raise UsageError(
                f"step {step.name!r}: Vertex batch reads csv, jsonl or parquet, not {fmt}"
            )
        staged = self.backend._stage_input(source, f"{self.key}-{step.name}", fmt)
        payload = {
            "display_name": f"{self.spec.name}-{step.name}",
            "model": "{{$.inputs.artifacts['model'].metadata['resourceName']}}",
            "input_config": {"instances_format": FORMATS[fmt], "gcs_source": {"uris": [staged]}},
            "output_config": {
                "predictions_format": "jsonl",
                "gcs_destination": {
                    "output_uri_prefix": self.backend.uri("pipelines", self.key, step.name)
                },
            },
            "dedicated_resources": {
                "machine_spec": images.machine_spec(images.DEFAULT_BATCH_MACHINE),
                "starting_replica_count": 1,
                "max_replica_count": max(1, int(step.config.get("workers") or 1)),
            },
        }
        self._gcpc(
            step, step.name, "batch_prediction_job", "BatchPredictionJob", payload,
            {"model": (model, "model", "google.VertexModel")}, _output("batch"),
        )  # fmt: skip

    # -- conditions ----------------------------------------------------------------

    def condition_tasks(self) -> None:
        """One sub-DAG task per used branch, in the top-level DAG."""
        for group in [g for g in self.dags if g is not None]:
            cond_name, value = group
            cond = self.spec.step(cond_name)
            tested, metric = str(cond.config["step"]), str(cond.config["metric"])
            param = self.channel_parameter(tested, metric, group)
            expression = f"inputs.parameter_values['{param}'] {cond.config['op']} {float(cond.config['value'])!r}"
            if not value:
                expression = f"!({expression})"
            sub = self.dags[group]
            wanted = sub.pop("_inputs", {})
            name = f"{cond_name}-{'if' if value else 'else'}"
            inputs: dict[str, Any] = {"artifacts": {}, "parameters": {}}
            definitions: dict[str, Any] = {"artifacts": {}, "parameters": {}}
            for channel, (up, key, kind) in wanted.items():
                if kind == "parameter":
                    inputs["parameters"][channel] = self.channel(None, up, key, kind)
                    definitions["parameters"][channel] = {"parameterType": "NUMBER_DOUBLE"}
                else:
                    inputs["artifacts"][channel] = self.channel(None, up, key, kind)
                    definitions["artifacts"][channel] = _type(self._schema(up, key))
            self.components[f"comp-{name}"] = {
                "dag": {"tasks": sub},
                "inputDefinitions": {k: v for k, v in definitions.items() if v},
            }
            ups = sorted({up for up, _, _ in wanted.values()})
            self.dags[None][name] = {
                "taskInfo": {"name": name},
                "componentRef": {"name": f"comp-{name}"},
                "dependentTasks": ups,
                "inputs": {k: v for k, v in inputs.items() if v},
                "triggerPolicy": {"condition": expression},
            }

    def channel_parameter(self, tested: str, metric: str, group: tuple[str, bool]) -> str:
        self.channel(group, tested, metric, "parameter")
        return f"pipelinechannel--{tested}-{metric}"

    def _schema(self, up: str, key: str) -> str:
        if key == "endpoint":
            return "google.VertexEndpoint"
        return _output(self.spec.step(up).kind)[1] if key != "logs" else "system.Artifact"


def pipeline_spec(
    backend: VertexBackend, spec: PipelineSpec, name: str | None = None
) -> dict[str, Any]:
    """The KFP ``PipelineSpec`` (a dict) of ``spec``; uploads bundles and data to the bucket."""
    builder = _Builder(backend, spec)
    for step in spec.order():
        builder.step(step)
    builder.condition_tasks()
    return {
        "pipelineInfo": {"name": (name or spec.name).lower().replace("_", "-")},
        "root": {"dag": {"tasks": builder.dags[None]}},
        "components": builder.components,
        "deploymentSpec": {"executors": builder.executors},
        "schemaVersion": SCHEMA_VERSION,
        "sdkVersion": "jupyter-serverless-ml",
    }


def validate(data: Mapping[str, Any]) -> Any:
    """Parse ``data`` into ``pipeline_spec_pb2.PipelineSpec`` (unknown fields refused)."""
    try:
        from google.protobuf import json_format
        from kfp.pipeline_spec import pipeline_spec_pb2
    except ImportError:
        raise UsageError(
            "exporting to Vertex needs kfp-pipeline-spec: pip install "
            "'jupyter-serverless-ml[vertex]'"
        ) from None
    try:
        return json_format.ParseDict(dict(data), pipeline_spec_pb2.PipelineSpec())
    except json_format.ParseError as exc:
        raise UsageError(f"the exported PipelineSpec is not valid: {exc}") from None


def submit(backend: VertexBackend, data: Mapping[str, Any], path: str | Path | None) -> Any:
    """Run the spec as a Vertex ``PipelineJob`` (``aiplatform.PipelineJob(template_path=...)``);
    returns the submitted job."""
    import tempfile

    from google.cloud import aiplatform

    settings = backend.settings
    aiplatform.init(
        project=settings.project,
        location=settings.location,
        api_endpoint=settings.api_endpoint,
        api_transport="rest",
        credentials=backend.credentials,
    )
    if path is None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(dict(data), handle)
        path = handle.name
    job = aiplatform.PipelineJob(
        display_name=str(data["pipelineInfo"]["name"]),
        template_path=str(path),
        pipeline_root=backend.uri("pipelines", "root"),
        enable_caching=None,  # each task's cachingOptions as the steps declare it
    )
    job.submit()
    return job


__all__ = ["pipeline_spec", "submit", "validate"]
