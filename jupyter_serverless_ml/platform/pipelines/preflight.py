"""What would fail a pipeline run halfway, refused before the run is stored.

:meth:`.spec.PipelineSpec.validate` checks the definition's shape (it also rebuilds
stored runs, so it never looks at the file system); :func:`preflight` checks what
the definition points at, when a run is submitted or rerun: every data file and batch
input exists, register and deploy names are valid names, and a ``max_cost`` is a
positive amount. Without it a typo in a model name failed the register step only
after the training it registers had run (and left a failed run behind).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UsageError
from ...options import validate_name
from ..costs.budget import max_cost_of
from .spec import PipelineSpec


def preflight(spec: PipelineSpec) -> PipelineSpec:
    """Refuse ``spec`` (a :class:`UsageError` naming the step) when a run of it would fail
    on a missing file, an invalid name or a bad budget; returns it otherwise."""
    for step in spec.steps:
        where = f"pipeline {spec.name}, step {step.name!r}"
        files = {f"data channel {k!r}": v for k, v in step.data.items()}
        if step.kind == "batch":
            files["input="] = str(step.config.get("input") or "")
        for what, location in files.items():
            if not Path(location).exists():
                raise UsageError(
                    f"{where}: {what}: {location} does not exist; create it or change the step"
                )
        names = {"model_name=": "model_name"} if step.kind == "register" else {}
        if step.kind == "deploy":
            names = {"endpoint=": "endpoint"}
        for what, key in names.items():
            try:
                validate_name(str(step.config.get(key) or ""))
            except UsageError as exc:
                raise UsageError(f"{where}: {what} {exc}") from None
        try:
            max_cost_of(dict(step.config))
        except UsageError as exc:
            raise UsageError(f"{where}: max_cost: {exc}") from None
    return spec


__all__ = ["preflight"]
