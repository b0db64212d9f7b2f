"""Where state lives, which backend is the default, and every backend's settings.

``$JSML_HOME`` (default ``~/.jupyter_serverless_ml``) holds the platform's state
file, SQLite database, artifacts, job directories, environments and the
optional ``config.toml``::

    default_backend = "local"

    [backends.local]
    autostart = true

Settings are resolved in one place, :func:`backend_settings` (its comment block
gives the precedence).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, UsageError

DEFAULT_BACKEND = "local"
_default_backend: str | None = None


def home() -> Path:
    """The platform home directory, created (mode 0700) and checked on first use.

    Raises :class:`ConfigError` when it cannot be created, is not writable, or is
    owned by another user.
    """
    raw = os.environ.get("JSML_HOME") or str(Path.home() / ".jupyter_serverless_ml")
    path = Path(raw).expanduser()
    fix = "set JSML_HOME to a directory you own and can write, e.g. export JSML_HOME=~/.jsml"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create JSML_HOME {path}: {exc.strerror or exc}; {fix}") from exc
    if not path.is_dir():
        raise ConfigError(f"JSML_HOME {path} exists but is not a directory; {fix}")
    info = path.stat()
    if info.st_uid != os.getuid():
        raise ConfigError(
            f"JSML_HOME {path} is owned by uid {info.st_uid}, not by you (uid {os.getuid()}); "
            f"another user's platform state must not be shared; {fix}"
        )
    if info.st_mode & 0o077:  # an existing home (or one made under another umask) is opened up
        try:
            path.chmod(0o700)
        except OSError as exc:
            raise ConfigError(f"cannot make JSML_HOME {path} private (0700): {exc}; {fix}") from exc
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"JSML_HOME {path} is not writable: {exc.strerror or exc}; {fix}"
        ) from exc
    return path


def default_backend() -> str:
    """The backend used when none is named: :func:`use_backend` (``%backend``), else
    ``$JSML_BACKEND``, else ``default_backend`` in the config file, else ``local``."""
    return (
        _default_backend
        or os.environ.get("JSML_BACKEND")
        or str(_config_file().get("default_backend") or "")
        or DEFAULT_BACKEND
    )


def set_default_backend(name: str | None) -> None:
    """Set the session's default backend (``None`` restores the environment's default)."""
    global _default_backend
    _default_backend = name


# -- backend settings -----------------------------------------------------------
#
# A backend's settings are the keyword arguments of its class. They are resolved
# here, and only here, from (highest first):
#   1. keyword arguments of the call (``get_backend("sagemaker", region=...)``);
#   2. the session: ``use_backend(name, **settings)`` or the ``%backend`` magic;
#   3. environment variables ``JSML_<BACKEND>_<SETTING>`` (``JSML_SAGEMAKER_REGION``);
#   4. the config file ``$JSML_HOME/config.toml``, table ``[backends.<name>]``;
#   5. defaults given by the host, e.g. the server extension's traitlets configuration.
# The default backend: ``use_backend()`` / ``%backend``, else ``$JSML_BACKEND``, else
# ``default_backend`` in the config file, else ``local``.

CONFIG_FILE = "config.toml"
_session: dict[str, dict[str, Any]] = {}


def _config_file() -> dict[str, Any]:
    """The parsed ``$JSML_HOME/config.toml`` (empty when there is none)."""
    raw_home = os.environ.get("JSML_HOME") or str(Path.home() / ".jupyter_serverless_ml")
    path = Path(raw_home).expanduser() / CONFIG_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}; fix or remove it") from exc
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix or remove it") from exc
    return dict(data)


def use_backend(name: str | None, **settings: Any) -> None:
    """Make ``name`` the session's default backend, with ``settings`` for it.

    ``use_backend("sagemaker", region="eu-west-1", bucket="s3://b/prefix")``;
    ``use_backend(None)`` returns to the environment's default.
    """
    set_default_backend(name)
    if name is not None:
        _session[name] = {k: v for k, v in settings.items() if v is not None}


def configured_for(name: str) -> bool:
    """True when the user configured backend ``name`` outside a session: it is the
    default backend, or has a ``[backends.NAME]`` table in the config file, or
    ``JSML_<NAME>_*`` variables."""
    prefix = f"JSML_{name.upper()}_"
    return (
        name == default_backend()
        or name in (_config_file().get("backends") or {})
        or any(key.startswith(prefix) for key in os.environ)
    )


def forget_session() -> None:
    """Forget the backends and settings chosen in this session (the default too)."""
    _session.clear()
    set_default_backend(None)


def session_backends() -> list[str]:
    """Backends chosen in this session with :func:`use_backend`, in the order chosen."""
    return list(_session)


def backend_settings(
    name: str,
    accepted: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    host_defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The settings of backend ``name`` from every source, highest precedence first.

    ``accepted`` maps each setting the backend takes to its default (for types:
    a string from the environment or a file becomes a bool or number when the
    default is one). An unknown setting from the call or the session is a
    :class:`UsageError`; from the environment or the config file, one naming
    its source.
    """
    merged: dict[str, Any] = {}
    prefix = f"JSML_{name.upper()}_"
    file_settings = dict((_config_file().get("backends") or {}).get(name) or {})
    env_settings = {
        key[len(prefix) :].lower(): value
        for key, value in os.environ.items()
        if key.startswith(prefix)
    }
    sources = [
        ("the server configuration", dict(host_defaults or {})),
        (f"{CONFIG_FILE} [backends.{name}]", file_settings),
        (f"the environment ({prefix}*)", env_settings),
        ("use_backend()/%backend", _session.get(name, {})),
        ("the call", dict(overrides or {})),
    ]
    for source, values in sources:
        for key, value in values.items():
            if key not in accepted:
                raise UsageError(
                    f"the {name} backend has no setting {key!r} (from {source}); "
                    f"its settings: {', '.join(sorted(accepted)) or 'none'}"
                )
            merged[key] = _typed(value, accepted[key], f"{key} (from {source})")
    return merged


def _typed(value: Any, default: Any, what: str) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{what} must be true or false, not {value!r}")
    if isinstance(default, int | float):
        try:
            return type(default)(value)
        except ValueError:
            raise UsageError(f"{what} must be a number, not {value!r}") from None
    return value
