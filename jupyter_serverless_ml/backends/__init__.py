"""Backends by name, from the ``jupyter_serverless_ml.backends`` entry-point group.

``local`` is registered in this package's own metadata like any other backend;
another package adds one with an entry point naming a :class:`Backend` subclass::

    [project.entry-points."jupyter_serverless_ml.backends"]
    mycloud = "mypackage.backend:MyCloudBackend"

A backend is built with its settings (its class's keyword arguments) resolved by
:func:`jupyter_serverless_ml.config.backend_settings`. A backend whose SDK is not
installed fails with the exact install line, as papermill's I/O handlers do.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from .. import config
from ..errors import ConfigError, UsageError
from ..statuses import Feature
from .protocol import PARTS, Backend, Batch, Monitoring, Registry, Serving, features, require

ENTRY_POINT_GROUP = "jupyter_serverless_ml.backends"
#: Backends this project plans or ships as extras: the line that installs each one's SDK.
EXTRAS = {
    "sagemaker": "pip install 'jupyter-serverless-ml[sagemaker]'",
    "vertex": "pip install 'jupyter-serverless-ml[vertex]'",
}

_instances: dict[tuple[str, tuple[tuple[str, Any], ...]], Backend] = {}


@functools.cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    """The registered backends (read once: scanning every distribution costs milliseconds;
    :func:`reset` reads them again)."""
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    if "local" not in found:  # running from a source tree without installed metadata
        found["local"] = metadata.EntryPoint(
            "local", "jupyter_serverless_ml.backends.local:LocalBackend", ENTRY_POINT_GROUP
        )
    return found


def available() -> list[str]:
    """Names of the registered backends (whether or not their SDK is installed)."""
    return sorted(_entry_points())


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``; a clear error when it is unknown or its SDK is missing."""
    ep = _entry_points().get(name)
    if ep is None:
        why = (
            f"the {name!r} backend is not part of this version yet"
            if name in EXTRAS
            else f"unknown backend {name!r}"
        )
        raise UsageError(
            f"{why}; available backends: {', '.join(available())} (e.g. --backend local)"
        )
    try:
        cls = ep.load()
    except ModuleNotFoundError as exc:
        install = EXTRAS.get(name, f"pip install {exc.name}")
        raise ConfigError(
            f"the {name} backend needs the {exc.name!r} package, which is not installed "
            f"here: {install}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigError(
            f"entry point {name} = {ep.value} is not a Backend subclass; fix the package that "
            "registers it"
        )
    return cls


def settings_of(cls: type[Backend]) -> dict[str, Any]:
    """The settings a backend class takes (its keyword arguments) and their defaults."""
    out: dict[str, Any] = {}
    for param in inspect.signature(cls.__init__).parameters.values():
        if param.name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        out[param.name] = None if param.default is param.empty else param.default
    return out


def get_backend(
    name: str | None = None,
    host_defaults: Mapping[str, Any] | None = None,
    **settings: Any,
) -> Backend:
    """The backend called ``name`` (default: the configured default), built with its settings.

    ``settings`` override every other source (see :func:`jupyter_serverless_ml.config.backend_settings`);
    the same resolved settings give the same instance.
    """
    name = name or config.default_backend()
    cls = backend_class(name)
    resolved = config.backend_settings(name, settings_of(cls), settings, host_defaults)
    key = (name, tuple(sorted((k, repr(v)) for k, v in resolved.items())))
    if key not in _instances:
        _instances[key] = cls(**resolved)
    return _instances[key]


def use_backend(name: str | None, **settings: Any) -> Backend | None:
    """Make ``name`` the session's default backend with ``settings`` (what ``%backend`` does).

    The backend is built at once, so a bad setting or a missing SDK fails here.
    ``use_backend(None)`` returns to the environment's default.
    """
    if name is not None:
        cls = backend_class(name)
        config.backend_settings(name, settings_of(cls), settings)  # refuse bad settings first
    config.use_backend(name, **settings)
    return get_backend(name) if name is not None else None


def configured() -> list[str]:
    """Registered backends this user configured (see :func:`config.configured_for`)."""
    return [name for name in available() if config.configured_for(name)]


def in_use() -> list[str]:
    """The default backend, then every other backend this session chose with
    :func:`use_backend` / ``%backend`` (what ``%jobs`` lists side by side)."""
    return list(dict.fromkeys([config.default_backend(), *config.session_backends()]))


def features_of(name: str) -> frozenset[Feature]:
    """The features of the backend class registered as ``name`` (empty when it cannot load)."""
    try:
        cls = backend_class(name)
    except (UsageError, ConfigError):
        return frozenset()
    return frozenset(f for f, part in PARTS.items() if issubclass(cls, part))


@dataclass(frozen=True)
class BackendInfo:
    """What a frontend shows about one backend: its features, or why it cannot be used."""

    name: str
    features: tuple[str, ...]
    default: bool
    error: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "features": list(self.features),
            "default": self.default,
            "error": self.error,
        }


def describe(names: list[str] | None = None) -> list[BackendInfo]:
    """Each backend of ``names`` (default: every registered one) with its features."""
    default = config.default_backend()
    out = []
    for name in names or available():
        try:
            cls = backend_class(name)
        except (UsageError, ConfigError) as exc:
            out.append(BackendInfo(name, (), name == default, str(exc)))
            continue
        found = [f.value for f, part in PARTS.items() if issubclass(cls, part)]
        out.append(BackendInfo(name, tuple(found), name == default))
    return out


def reset() -> None:
    """Forget backend instances, registered entry points and this session's backend
    choices (after ``$JSML_HOME``, settings or installed packages change)."""
    _instances.clear()
    _entry_points.cache_clear()
    config.forget_session()


__all__ = [
    "EXTRAS",
    "Backend",
    "BackendInfo",
    "Batch",
    "Monitoring",
    "Registry",
    "Serving",
    "available",
    "backend_class",
    "configured",
    "describe",
    "features",
    "features_of",
    "get_backend",
    "in_use",
    "require",
    "reset",
    "settings_of",
    "use_backend",
]
