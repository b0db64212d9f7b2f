"""Content hashes for the pipeline cache.

A step's cache key is the SHA-256 of its kind, code hash (the bundle's content
hash), parameters, settings, the hashes of its upstream steps' outputs and of its
data files' contents. Same key, same result: the step is served from the cache.

Data files are the user's own and are hashed through links; step outputs were
written by a job (or copied from one) and are hashed without following anything:
a link or a special file in one is an error, never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import UsageError
from .spec import StepSpec

_CHUNK = 1 << 20
_file_cache: dict[tuple[str, int, int, int], str] = {}


def _file_digest(path: Path, info: os.stat_result) -> str:
    key = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
    found = _file_cache.get(key)
    if found is not None:
        return found
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    if len(_file_cache) > 10_000:
        _file_cache.clear()
    _file_cache[key] = value
    return value


def tree_hash(path: Path, follow_links: bool = False) -> str:
    """SHA-256 of a file's bytes, or of a directory's relative paths and file contents.

    With ``follow_links`` false a link or special file raises :class:`UsageError`.
    Unchanged files (same size, mtime and inode) are not read again.
    """
    info = os.stat(path) if follow_links else os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        return _file_digest(path, info)
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{path} is not a plain file or directory; it cannot be hashed")
    digest = hashlib.sha256(b"dir\0")
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        child = Path(entry.path)
        digest.update(entry.name.encode() + b"\0" + tree_hash(child, follow_links).encode())
    return digest.hexdigest()


def data_hash(channel: str, location: str) -> str:
    """The content hash of a data channel's file or directory; a missing one is a
    :class:`UsageError` naming the channel."""
    path = Path(location)
    if not path.exists():
        raise UsageError(
            f"data channel {channel!r}: {location} does not exist; create it or change data="
        )
    return tree_hash(path, follow_links=True)


def digest(value: Any) -> str:
    """SHA-256 of a JSON value (keys sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def cache_key(
    step: StepSpec, upstream: Mapping[str, str], data: Mapping[str, str], extra: Any = None
) -> str:
    """The step's cache key from its definition, its upstream steps' output hashes
    (by step name) and its data channels' content hashes (by channel)."""
    config = {k: v for k, v in step.config.items() if k != "python"}
    return digest(
        {
            "kind": step.kind,
            "code": step.code_hash,
            "params": dict(step.params),
            "config": config,
            "inputs": dict(step.inputs),
            "when": dict(step.when),
            "upstream": dict(upstream),
            "data": dict(data),
            "extra": extra,
        }
    )


__all__ = ["cache_key", "data_hash", "digest", "tree_hash"]
