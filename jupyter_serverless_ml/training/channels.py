"""Cloud URIs as data channels: ``--data train=s3://bucket/prefix`` or ``gs://...``.

A job's sandbox has no network (and no credentials), so a channel that names a
cloud URI is downloaded here, before the job is submitted, into a cache
(``$JSML_CHANNEL_CACHE``, else ``$XDG_CACHE_HOME/jupyter-serverless-ml/channels``,
else ``~/.cache/jupyter-serverless-ml/channels``: not under ``$JSML_HOME``, whose
files jobs may not see) keyed by the URI and what the store says about
it (ETag, size, modification time): an unchanged object is not fetched again.
Without credentials the channel is refused at once with what to configure,
never a job that retries DNS inside a sandbox for minutes. Other fsspec URIs
(``memory://``, ``https://``) download the same way, without a credential check.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import artifacts
from ..errors import ConfigError, UsageError

CLOUD_SCHEMES = ("s3", "gs", "gcs")
# fail fast: a store that does not answer is an error in seconds, not a ten-minute retry loop
_S3_OPTIONS = {
    "config_kwargs": {"connect_timeout": 10, "read_timeout": 60, "retries": {"max_attempts": 2}}
}


def _aws_credentials() -> None:
    try:
        import botocore.session
    except ImportError:
        raise ConfigError(
            "s3:// channels need boto3 and s3fs: pip install 'jupyter-serverless-ml[sagemaker]'"
        ) from None
    if botocore.session.Session().get_credentials() is None:
        raise UsageError(
            "no AWS credentials here, so s3:// channels cannot be downloaded: run `aws configure` "
            "(or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE), or pass a "
            "local copy with --data NAME=PATH"
        )


def _google_credentials() -> None:
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        raise ConfigError(
            "gs:// channels need gcsfs: pip install 'jupyter-serverless-ml[vertex]'"
        ) from None
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        return
    try:
        google.auth.default()
    except google.auth.exceptions.DefaultCredentialsError:
        raise UsageError(
            "no Google Cloud credentials here, so gs:// channels cannot be downloaded: run "
            "`gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service account key file), or pass a local copy with --data NAME=PATH"
        ) from None


def check_credentials(uri: str) -> None:
    """Refuse a cloud URI at once when this machine has no credentials for it."""
    name = artifacts.scheme(uri)
    if name == "s3":
        _aws_credentials()
    elif name in ("gs", "gcs"):
        _google_credentials()


def _filesystem(uri: str) -> Any:
    if artifacts.scheme(uri) == "s3":
        try:
            import fsspec

            return fsspec.filesystem("s3", **_S3_OPTIONS)
        except ImportError as exc:
            raise ConfigError(
                f"reading {uri} needs s3fs: pip install 'jupyter-serverless-ml[sagemaker]'"
            ) from exc
    return artifacts.filesystem(uri)


def _fingerprint(info: Mapping[str, Any]) -> str:
    keys = ("ETag", "etag", "md5Hash", "size", "LastModified", "updated", "mtime", "created")
    return json.dumps(
        {k: str(info.get(k)) for k in keys if info.get(k) is not None}, sort_keys=True
    )


def download(uri: str, cache: Path, log: Callable[[str], None]) -> Path:
    """The local copy of ``uri`` (a file or a prefix), downloaded into ``cache`` if needed."""
    check_credentials(uri)
    fs = _filesystem(uri)
    started = time.monotonic()
    try:
        if not fs.exists(uri):
            raise UsageError(f"data channel {uri} does not exist; check the bucket and the key")
        is_dir = bool(fs.isdir(uri))
        files = {f: fs.info(f) for f in fs.find(uri)} if is_dir else {uri: fs.info(uri)}
    except (UsageError, ConfigError):
        raise
    except Exception as exc:  # the store's own errors: credentials refused, no network
        raise UsageError(
            f"cannot read data channel {uri}: {type(exc).__name__}: {exc}; check the credentials "
            "and the network, or pass a local copy with --data NAME=PATH"
        ) from None
    digest = hashlib.sha256(uri.encode() + b"\0")
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + _fingerprint(files[name]).encode() + b"\0")
    target = cache / digest.hexdigest()[:24]
    leaf = uri.rstrip("/").rsplit("/", 1)[-1] or "data"
    result = target if is_dir else target / leaf
    if (target / ".complete").exists():
        log(f"[jsml] data channel {uri}: cached copy ({len(files)} file(s))")
        return result
    partial = target.with_name(target.name + f".partial{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    total = sum(int(i.get("size") or 0) for i in files.values())
    done = 0
    prefix = str(fs._strip_protocol(uri)).rstrip("/")
    for index, (name, info) in enumerate(sorted(files.items()), 1):
        stripped = str(fs._strip_protocol(name))
        relative = stripped[len(prefix) :].lstrip("/") if is_dir else leaf
        local = partial / relative
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get_file(name, str(local))
        except Exception as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise UsageError(
                f"downloading {name} failed: {type(exc).__name__}: {exc}; check the credentials "
                "and the network"
            ) from None
        done += int(info.get("size") or 0)
        log(
            f"[jsml] data channel {uri}: {index}/{len(files)} files, "
            f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        )
    (partial / ".complete").write_text(uri)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    log(f"[jsml] data channel {uri} downloaded in {time.monotonic() - started:.1f}s")
    return result


def cache_dir() -> Path:
    """Where downloaded channels are kept (see the module docstring)."""
    if os.environ.get("JSML_CHANNEL_CACHE"):
        return Path(os.environ["JSML_CHANNEL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jupyter-serverless-ml" / "channels"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def download_channels(
    data: Mapping[str, str | Path], log: Callable[[str], None] = _stderr
) -> dict[str, str | Path]:
    """``data`` with every remote URI replaced by its local copy (local paths unchanged)."""
    out: dict[str, str | Path] = {}
    cache = cache_dir()
    for name, value in data.items():
        text = str(value)
        if "://" in text and artifacts.scheme(text) != "file":
            out[name] = download(text, cache, log)
        else:
            out[name] = value
    return out
