"""Backends by name: ``local`` built in; more through the ``jupyter_serverless_ml.backends``
entry-point group (each entry point names a :class:`Backend` subclass)."""

from __future__ import annotations

from importlib import metadata

from ..config import default_backend
from ..errors import UsageError
from .base import Backend, TrainingRequest

_instances: dict[str, Backend] = {}
ENTRY_POINT_GROUP = "jupyter_serverless_ml.backends"


def available() -> list[str]:
    """Names of the backends that can be used here."""
    names = {"local"}
    names.update(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def get_backend(name: str | None = None) -> Backend:
    """The backend called ``name`` (default: the configured default backend)."""
    name = name or default_backend()
    if name in _instances:
        return _instances[name]
    if name == "local":
        from .local import LocalBackend

        backend: Backend = LocalBackend()
    else:
        found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            planned = {"sagemaker", "vertex"}
            why = (
                f"the {name!r} backend is not part of this version yet"
                if name in planned
                else f"unknown backend {name!r}"
            )
            raise UsageError(
                f"{why}; available backends: {', '.join(available())} (e.g. --backend local)"
            )
        backend = found[0].load()()
    _instances[name] = backend
    return backend


def reset() -> None:
    """Forget backend instances (after ``$JSML_HOME`` changes)."""
    _instances.clear()


__all__ = ["Backend", "TrainingRequest", "available", "get_backend", "reset"]
