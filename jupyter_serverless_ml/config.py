"""Where state lives and which defaults apply.

``$JSML_HOME`` (default ``~/.jupyter_serverless_ml``) holds the platform's state
file, SQLite database, artifacts, job directories and environments.
``$JSML_BACKEND`` sets the default backend (``local``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ConfigError

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
    owner = path.stat().st_uid
    if owner != os.getuid():
        raise ConfigError(
            f"JSML_HOME {path} is owned by uid {owner}, not by you (uid {os.getuid()}); "
            f"another user's platform state must not be shared; {fix}"
        )
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"JSML_HOME {path} is not writable: {exc.strerror or exc}; {fix}"
        ) from exc
    return path


def default_backend() -> str:
    """The backend used when none is named: set_default_backend(), else $JSML_BACKEND, else local."""
    return _default_backend or os.environ.get("JSML_BACKEND") or DEFAULT_BACKEND


def set_default_backend(name: str | None) -> None:
    """Set the session's default backend (``None`` restores the environment's default)."""
    global _default_backend
    _default_backend = name
