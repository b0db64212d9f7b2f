"""Export a declared pipeline to SageMaker Pipelines or Vertex AI Pipelines (KFP).

``to_sagemaker`` builds the definition with the SageMaker SDK's workflow classes and
can create it in SageMaker; ``to_vertex`` builds a KFP ``PipelineSpec``, parsed by the
``kfp-pipeline-spec`` protobuf (unknown fields refused), and can submit it as a Vertex
``PipelineJob``. Which step kinds export where (the rest are refused, naming the step
and what to do):

=========  ==========================================  ===================================
kind       SageMaker                                   Vertex (KFP)
=========  ==========================================  ===================================
function   TrainingStep (the bundle, return value in   container task (the bundle in a
train      the model artifact)                         training container, as a CustomJob)
evaluate   TrainingStep (metrics: FinalMetricDataList) same, metrics as output parameters
condition  ConditionStep (IfSteps / ElseSteps)         a sub-DAG with triggerPolicy.condition
register   RegisterModel (model package group)         ModelUploadOp (google-cloud-pipeline-
                                                       components)
deploy     refused: no deploy step                     EndpointCreateOp + ModelDeployOp
batch      Model + TransformStep                       ModelBatchPredictOp
=========  ==========================================  ===================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends import get_backend
from ..errors import UsageError
from ..platform.pipelines.spec import PipelineSpec

if TYPE_CHECKING:
    from .builder import Pipeline

TARGETS = ("sagemaker", "vertex")


def _write(out: str | Path | None, data: dict[str, Any]) -> None:
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")


def to_sagemaker(
    pipeline: Pipeline,
    *,
    name: str | None = None,
    out: str | Path | None = None,
    submit: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    """The SageMaker Pipeline definition of ``pipeline`` (a dict; ``out``: also written
    there as JSON). The step bundles and local data are uploaded to the backend's bucket;
    ``submit`` also creates (or updates) the pipeline in SageMaker (``%backend sagemaker``
    settings, or ``settings`` here). A deploy step is refused: SageMaker Pipelines have
    none."""
    from ..backends.sagemaker import pipelines as sm
    from ..backends.sagemaker.backend import SageMakerBackend

    backend = get_backend("sagemaker", **settings)
    if not isinstance(backend, SageMakerBackend):
        raise UsageError(f"the sagemaker backend is {type(backend).__name__}, not SageMaker's")
    spec = pipeline.spec(backend.bundle_root())
    sm.refuse_unexportable(spec, "sagemaker")
    text = sm.definition(backend, spec, name)
    data = dict(sm.check_definition(text, spec))
    if submit:
        sm.submit(backend, name or spec.name, text)
    _write(out, data)
    return data


def to_vertex(
    pipeline: Pipeline,
    *,
    name: str | None = None,
    out: str | Path | None = None,
    submit: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    """The Vertex AI (KFP) ``PipelineSpec`` of ``pipeline`` as a dict, validated by the
    ``kfp-pipeline-spec`` protobuf (``out``: also written as JSON); ``submit`` runs it as
    a Vertex ``PipelineJob`` (``%backend vertex`` settings, or ``settings`` here)."""
    from ..backends.vertex import pipelines as vx
    from ..backends.vertex.backend import VertexBackend

    backend = get_backend("vertex", **settings)
    if not isinstance(backend, VertexBackend):
        raise UsageError(f"the vertex backend is {type(backend).__name__}, not Vertex's")
    spec = pipeline.spec(backend.bundle_root())
    data = vx.pipeline_spec(backend, spec, name)
    vx.validate(data)
    _write(out, data)
    if submit:
        vx.submit(backend, data, out)
    return data


class StoredPipeline:
    """A pipeline as the backend stored it when it last ran (its steps' bundles as they
    were built then): what ``jsml pipeline export`` exports, with no kernel to declare it."""

    def __init__(self, name: str, backend: str | None = None) -> None:
        from ..backends.pipelines_part import Pipelines
        from ..backends.protocol import require

        self.name = name
        self._spec = require(get_backend(backend), Pipelines).pipeline_spec(name)
        for step in self._spec.steps:
            if step.bundle and not (Path(step.bundle) / "manifest.json").is_file():
                raise UsageError(
                    f"pipeline {name}, step {step.name!r}: its bundle {step.bundle} is gone; "
                    f"run the pipeline's %%pipeline cell (or p.run()) again, then export"
                )

    def spec(self, bundle_root: Path | None = None) -> PipelineSpec:
        """The stored definition (already built; ``bundle_root`` is not used)."""
        return self._spec


def export_stored(
    name: str, to: str, *, backend: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Export the pipeline ``name`` as the (local) ``backend`` stored it, to ``to``
    (``sagemaker`` or ``vertex``); ``kwargs`` as :func:`to_sagemaker` takes them."""
    if to not in TARGETS:
        raise UsageError(f"export --to {to!r}: choose one of {', '.join(TARGETS)}")
    return export(StoredPipeline(name, backend), to, **kwargs)  # type: ignore[arg-type]


def export(pipeline: Pipeline, to: str, **kwargs: Any) -> dict[str, Any]:
    """``to_sagemaker`` or ``to_vertex`` by name (what ``%pipeline export`` and the CLI call)."""
    if to == "sagemaker":
        return to_sagemaker(pipeline, **kwargs)
    if to == "vertex":
        return to_vertex(pipeline, **kwargs)
    raise UsageError(f"export --to {to!r}: choose one of {', '.join(TARGETS)}")


__all__ = ["TARGETS", "StoredPipeline", "export", "export_stored", "to_sagemaker", "to_vertex"]
