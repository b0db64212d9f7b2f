"""The artifact store: bundles, models, batch outputs and manifests, addressed by URI.

One interface over fsspec: ``file://`` (and plain paths) here, ``s3://`` and
``gs://`` when the ``sagemaker`` / ``vertex`` extras (s3fs, gcsfs) are
installed. Handles and frontends read artifacts only through this module, so a
record's URI works whatever the backend.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from .errors import ConfigError, NotFound, UsageError

#: The package that implements each remote scheme, and the extra that installs it.
SCHEMES = {
    "s3": ("s3fs", "pip install 'jupyter-serverless-ml[sagemaker]'"),
    "gs": ("gcsfs", "pip install 'jupyter-serverless-ml[vertex]'"),
    "gcs": ("gcsfs", "pip install 'jupyter-serverless-ml[vertex]'"),
}
MAX_JSON_BYTES = 64 << 20


def to_uri(path: str | Path) -> str:
    """The ``file://`` URI of a local path (a URI is returned as it is)."""
    text = str(path)
    if "://" in text:
        return text
    local = Path(text)
    return "file://" + quote(str(local if local.is_absolute() else local.resolve()))


def scheme(uri: str) -> str:
    """``file``, ``s3``, ``gs``, ... (a plain path is ``file``)."""
    return urlparse(uri).scheme or "file" if "://" in uri else "file"


def local_path(uri: str) -> Path | None:
    """The local path of a ``file://`` URI or plain path; ``None`` for a remote URI."""
    if "://" not in uri:
        return Path(uri)
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


def filesystem(uri: str) -> Any:
    """The fsspec filesystem for ``uri``; a clear install line when its package is missing."""
    import fsspec

    name = scheme(uri)
    try:
        return fsspec.filesystem(name)
    except ImportError as exc:
        package, install = SCHEMES.get(name, (name, f"pip install fsspec[{name}]"))
        raise ConfigError(
            f"reading {uri} needs the {package!r} package, which is not installed here: {install}"
        ) from exc
    except ValueError as exc:
        raise UsageError(f"{uri}: unsupported storage scheme {name!r} ({exc})") from exc


def exists(uri: str) -> bool:
    """True when ``uri`` names a file or directory."""
    path = local_path(uri)
    if path is not None:
        return path.exists()
    return bool(filesystem(uri).exists(uri))


def read_bytes(uri: str, limit: int | None = None) -> bytes:
    """The bytes of the file at ``uri`` (at most ``limit``); :class:`NotFound` when missing."""
    try:
        path = local_path(uri)
        if path is not None:
            with open(path, "rb") as fh:
                return fh.read(-1 if limit is None else limit)
        with filesystem(uri).open(uri, "rb") as fh:
            return bytes(fh.read(-1 if limit is None else limit))
    except FileNotFoundError:
        raise NotFound(f"no artifact at {uri}") from None


def read_json(uri: str) -> Any:
    """The JSON document at ``uri``."""
    data = read_bytes(uri, MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise UsageError(f"{uri} is larger than {MAX_JSON_BYTES >> 20} MB; not reading it")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise UsageError(f"{uri} is not valid JSON: {exc}") from exc


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` to ``uri`` (atomically for a local file)."""
    path = local_path(uri)
    if path is None:
        with filesystem(uri).open(uri, "wb") as fh:
            fh.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(uri: str, value: Any) -> None:
    """Write ``value`` as JSON to ``uri``."""
    write_bytes(uri, json.dumps(value, indent=1, default=str).encode())


def local_dir(uri: str, cache: Path) -> Path:
    """A local directory holding the tree at ``uri``: the directory itself for ``file://``,
    else a copy under ``cache`` (downloaded once per URI)."""
    path = local_path(uri)
    if path is not None:
        if not path.is_dir():
            raise NotFound(f"no artifact directory at {uri}")
        return path
    target = cache / hashlib.sha256(uri.encode()).hexdigest()[:24]
    if (target / ".complete").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    fs = filesystem(uri)
    if not fs.exists(uri):
        raise NotFound(f"no artifact directory at {uri}")
    fs.get(uri.rstrip("/") + "/", str(partial), recursive=True)
    (partial / ".complete").write_text(uri)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return target


__all__ = [
    "exists",
    "filesystem",
    "local_dir",
    "local_path",
    "read_bytes",
    "read_json",
    "scheme",
    "to_uri",
    "write_bytes",
    "write_json",
]
