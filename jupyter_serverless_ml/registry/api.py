"""The model registry: the Python API.

>>> models("cancer"); model("cancer:3").load(); load_model("cancer")
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from ..backends import Registry, get_backend, require
from ..errors import UsageError
from ..options import validate_name
from ..training import Job
from .handles import ModelList, ModelVersion


def parse_model_ref(ref: str) -> tuple[str, int | None]:
    """``name`` or ``name:version`` (``name:latest`` is the newest)."""
    name, _, version = ref.partition(":")
    if not version or version == "latest":
        return name, None
    try:
        return name, int(version.lstrip("v"))
    except ValueError:
        raise UsageError(
            f"model reference {ref!r}: the version must be a number, e.g. {name}:3"
        ) from None


def models(name: str | None = None, backend: str | None = None) -> ModelList:
    """Registered model versions (all names, or the versions of ``name``)."""
    chosen = get_backend(backend)
    return ModelList(ModelVersion(chosen, r) for r in require(chosen, Registry).models(name))


def model(ref: str, backend: str | None = None) -> ModelVersion:
    """One model version: ``"cancer"`` (latest) or ``"cancer:3"``."""
    chosen = get_backend(backend)
    name, version = parse_model_ref(ref)
    return ModelVersion(chosen, require(chosen, Registry).model(name, version))


def load_model(ref: str, backend: str | None = None) -> Any:
    """Load a registered model version into this process."""
    return model(ref, backend).load()


def looks_like_model(obj: Any) -> bool:
    """True for what can be registered and served: an object with ``predict`` (estimators,
    pipelines, boosters) or a PyTorch module (its ``forward`` serves)."""
    from ..runtime import flavors

    return callable(getattr(obj, "predict", None)) or flavors.detect(obj) == "pytorch"


def model_ref(model: Any, name: str | None, backend_name: str | None) -> tuple[str, int | None]:
    """(model name, version) for a reference, a job, a model version, or a model object
    (registered first as the next version of ``name``)."""
    if isinstance(model, str):
        return parse_model_ref(model)
    if isinstance(model, ModelVersion):
        return model.name, model.version
    if isinstance(model, Job):
        version = model.model_version
        if version is None:
            raise UsageError(
                f"job {model.id} is {model.status} and registered no model; deploy a job that "
                "completed (job.wait() first) and left a model"
            )
        return model.name, version
    if model is None:
        raise UsageError("deploy needs a model: NAME, NAME:VERSION, a job, or a model object")
    from ..runtime import flavors

    if not looks_like_model(model):
        raise UsageError(
            f"a {type(model).__name__} is not a model (it has no predict() method); deploy a "
            "fitted model, a Job, a ModelVersion, or NAME:VERSION"
        )
    if not name:
        raise UsageError("deploying a model object needs a name: deploy(model, name='my-model')")
    registry = require(get_backend(backend_name), Registry)
    with tempfile.TemporaryDirectory(prefix="jsml-model-") as directory:
        flavors.save(model, directory, flavors.infer_signature(model, {}))
        record = registry.register_model(validate_name(name), Path(directory), sys.executable)
    return record.name, record.version
