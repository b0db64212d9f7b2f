"""What ``%deploy NAME`` and ``%batch_predict NAME`` mean when NAME is also a kernel variable.

A kernel variable holding a model, a :class:`Job` or a :class:`ModelVersion` is
used as it is; ``NAME:VERSION`` and ``NAME@STAGE`` (``cancer@production``, resolved by
:func:`jupyter_serverless_ml.registry.resolve_ref`) always name the registry. When NAME is both a
model in the kernel and a registered model, the magic refuses to guess and says
how to choose; a variable that is not a model (a dataset, say) never shadows a
registered model, and is refused when nothing is registered under its name. The
magic says which one it took.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import registry
from ..errors import UsageError
from ..registry import ModelVersion, looks_like_model
from ..training import Job


def _registered(ref: str, backend: str | None) -> tuple[str, list[ModelVersion]]:
    """The registered model a variable name may mean (``line_model`` registers as
    ``line-model``) and its versions."""
    for name in dict.fromkeys([ref, ref.replace("_", "-")]):
        try:
            found = list(registry.models(name, backend=backend))
        except UsageError:  # a backend without a registry, or not a valid model name
            continue
        if found:
            return name, found
    return ref, []


def resolve_model_arg(
    ref: str,
    namespace: Mapping[str, Any],
    backend: str | None,
    *,
    from_variable: bool = False,
    magic: str = "deploy",
    say: Callable[[str], Any] = print,
) -> Any:
    """The model ``%deploy REF`` means: a kernel object, or the registry reference ``REF``."""
    value = namespace.get(ref) if ref.isidentifier() else None
    kind = type(value).__name__
    if from_variable:
        if value is None:
            raise UsageError(f"%{magic} {ref} --from-variable: no kernel variable {ref!r}")
        if not isinstance(value, Job | ModelVersion) and not looks_like_model(value):
            raise UsageError(
                f"%{magic} {ref} --from-variable: {ref} is a {kind}, not a model "
                "(a model has a predict() method, or is a Job or a ModelVersion)"
            )
        return value
    if value is None or isinstance(value, str):
        return ref
    if isinstance(value, Job | ModelVersion):
        return value
    name, versions = _registered(ref, backend)
    latest = f"{name}:{max(v.version for v in versions)}" if versions else ""
    if looks_like_model(value):
        if versions:
            raise UsageError(
                f"%{magic} {ref}: {ref} is both a {kind} in this kernel and the registered model "
                f"{latest}; say which: `%{magic} {latest}` (or `{name}:VERSION`) for the "
                f"registered one, `%{magic} {ref} --from-variable` for the kernel's"
            )
        say(f"%{magic}: {ref} is the kernel's {kind}; registering it as a new model version")
        return value
    if versions:
        say(f"%{magic}: the kernel variable {ref} is a {kind}, not a model; using {latest}")
        return latest
    raise UsageError(
        f"%{magic} {ref}: {ref} is a {kind} in this kernel, not a model (it has no predict() "
        f"method), and no model {ref!r} is registered; pass a fitted model, a job, or "
        "NAME:VERSION (%models lists them)"
    )
