"""The model registry: the Python API.

>>> models("cancer"); model("cancer:3").load(); load_model("cancer@production")

A reference is ``name`` (the newest version), ``name:3`` or ``name@stage`` (the
version in that stage: ``staging`` or ``production``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from ..backends import Registry, get_backend, require
from ..errors import NotFound, UsageError
from ..options import validate_name
from ..records import ModelRecord
from ..statuses import ModelStage
from ..training import Job
from .handles import ModelList, ModelVersion


def parse_model_ref(ref: str) -> tuple[str, int | None]:
    """``name`` or ``name:version`` (``name:latest`` is the newest); ``name@stage`` needs the
    registry (:func:`resolve_ref`)."""
    if "@" in ref:
        raise UsageError(f"model reference {ref!r} names a stage; resolve it with resolve_ref()")
    name, colon, version = ref.partition(":")
    if not name:
        raise UsageError(f"model reference {ref!r}: give the model's name, e.g. cancer{ref}")
    if colon and not version:
        raise UsageError(
            f"model reference {ref!r}: give a version after ':' (e.g. {name}:3), or just {name} "
            "for the newest"
        )
    if not version or version == "latest":
        return name, None
    try:
        return name, int(version.lstrip("v"))
    except ValueError:
        raise UsageError(
            f"model reference {ref!r}: the version must be a number, e.g. {name}:3"
        ) from None


def stage_version(registry: Registry, name: str, stage: str) -> ModelRecord:
    """The version of ``name`` in ``stage`` (the newest one there); NotFound says how to get one."""
    try:
        wanted = ModelStage(stage.lower())
    except ValueError:
        known = ", ".join(s.value for s in ModelStage)
        raise UsageError(f"{name}@{stage}: {stage!r} is not a stage ({known})") from None
    if not name:
        raise UsageError(f"model reference '@{stage}': give the model's name, e.g. cancer@{stage}")
    versions = registry.models(name)
    if not versions:
        names = sorted({m.name for m in registry.models()})
        raise NotFound(f"no model {name!r}; registered models: {', '.join(names) or 'none'}")
    held = [m for m in versions if m.stage == wanted]
    if not held:
        raise NotFound(
            f"no version of {name} is in {wanted}; promote one first "
            f"(%promote {name}:VERSION {wanted})"
        )
    return held[-1]


def resolve_ref(ref: str, backend: str | None = None) -> tuple[str, int | None]:
    """(name, version) of ``name``, ``name:3`` or ``name@production`` (``None``: the newest)."""
    if "@" not in ref:
        return parse_model_ref(ref)
    name, _, stage = ref.partition("@")
    record = stage_version(require(get_backend(backend), Registry), name, stage)
    return record.name, record.version


def models(name: str | None = None, backend: str | None = None) -> ModelList:
    """Registered model versions (all names, or the versions of ``name``)."""
    chosen = get_backend(backend)
    return ModelList(ModelVersion(chosen, r) for r in require(chosen, Registry).models(name))


def model(ref: str, backend: str | None = None) -> ModelVersion:
    """One model version: ``"cancer"`` (latest), ``"cancer:3"`` or ``"cancer@production"``."""
    chosen = get_backend(backend)
    name, version = resolve_ref(ref, backend)
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
        return resolve_ref(model, backend_name)
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
