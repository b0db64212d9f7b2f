"""The server extension's configuration (traitlets) and the backends it serves.

In ``jupyter_server_config.py``::

    c.ServerlessML.backends = ["local", "sagemaker"]
    c.ServerlessML.backend_settings = {"sagemaker": {"region": "eu-west-1"}}

``backend_settings`` are the lowest-precedence source of each backend's settings
(the config file, environment variables and keyword arguments override them,
see :mod:`jupyter_serverless_ml.config`). ``backend_set_class`` swaps how the
backends are built, as jupyter-scheduler's ``scheduler_class`` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from traitlets import Dict, List, Type, Unicode, default
from traitlets.config import Configurable

from .. import backends as registry
from ..backends import Backend, BackendInfo
from ..errors import ConfigError, NotFound, UsageError

P = TypeVar("P")

#: Settings the server applies unless configured otherwise: it never starts the platform itself.
HOST_DEFAULTS: dict[str, dict[str, Any]] = {"local": {"autostart": False}}


class BackendSet:
    """The backends the sidebar shows, built with the server's settings."""

    def __init__(self, names: list[str], settings: Mapping[str, Mapping[str, Any]]) -> None:
        self.names = list(dict.fromkeys(names)) or ["local"]
        self.settings = {
            name: {**HOST_DEFAULTS.get(name, {}), **dict(settings.get(name) or {})}
            for name in self.names
        }

    def get(self, name: str) -> Backend:
        """One configured backend; :class:`NotFound` for a name the server does not serve."""
        if name not in self.names:
            raise NotFound(
                f"this server does not serve the {name!r} backend; it serves "
                f"{', '.join(self.names)} (c.ServerlessML.backends)"
            )
        return registry.get_backend(name, host_defaults=self.settings[name])

    def having(self, part: type[P], only: list[str] | None = None) -> Iterator[tuple[str, P]]:
        """(name, backend) for each configured backend with the capability ``part``
        (optionally only those named in ``only``), skipping backends that cannot load."""
        for name in self.names:
            if only and name not in only:
                continue
            try:
                backend = self.get(name)
            except (UsageError, ConfigError):
                continue
            if isinstance(backend, part):
                yield name, backend

    def describe(self) -> list[BackendInfo]:
        """Each configured backend with its features, or why it cannot be used."""
        return registry.describe(self.names)


class ServerlessML(Configurable):
    """Configuration of the Serverless ML sidebar API."""

    backends = List(
        Unicode(),
        help="Backends the sidebar lists (registered names, e.g. local, sagemaker, vertex). "
        "Default: local, and every backend configured for this user (a [backends.NAME] "
        "table in $JSML_HOME/config.toml, JSML_<NAME>_* variables, or the default backend).",
    ).tag(config=True)

    @default("backends")
    def _configured_backends(self) -> list[str]:
        return ["local", *(n for n in registry.configured() if n != "local")]

    backend_settings = Dict(
        default_value={},
        help="Settings per backend, e.g. {'sagemaker': {'region': 'eu-west-1'}}: "
        "defaults that the config file, the environment and the call override.",
    ).tag(config=True)

    backend_set_class = Type(
        default_value=BackendSet,
        klass=BackendSet,
        help="The class that builds the served backends (swap it to customise how).",
    ).tag(config=True)

    def backend_set(self) -> BackendSet:
        """The configured backends."""
        return self.backend_set_class(list(self.backends), dict(self.backend_settings))


__all__ = ["HOST_DEFAULTS", "BackendSet", "ServerlessML"]
