"""A model version's lineage: the job, bundle, data (with content hashes), parameters,
who and when, recorded when the version is registered.

Data are hashed when the model is registered (a job's channels are the user's own
paths, never files the job wrote). Data larger than :data:`HASH_LIMIT` bytes get a
fingerprint of names, sizes and modification times instead, marked as such.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import time
from pathlib import Path
from typing import Any

HASH_LIMIT = 2 * 1024**3
_CHUNK = 1 << 20


def user() -> str:
    """Who acts: the platform's user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def data_hash(location: str) -> dict[str, Any]:
    """``{"uri", "sha256"}`` of a local file or directory (``"fingerprint"`` instead of
    ``"sha256"`` above :data:`HASH_LIMIT`; ``"missing": True`` when it is gone)."""
    path = Path(location[7:] if location.startswith("file://") else location)
    uri = path.resolve().as_uri() if path.is_absolute() or path.exists() else location
    if "://" in location and not location.startswith("file://"):
        return {"uri": location}
    if not path.exists():
        return {"uri": uri, "missing": True}
    files = _files(path)
    total = sum(f.stat().st_size for f in files)
    digest = hashlib.sha256()
    if total > HASH_LIMIT:
        for f in files:
            info = f.stat()
            digest.update(f"{f.relative_to(path)}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
        return {"uri": uri, "fingerprint": digest.hexdigest(), "bytes": total}
    for f in files:
        digest.update(str(f.relative_to(path) if f != path else f.name).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return {"uri": uri, "sha256": digest.hexdigest(), "bytes": total}


def of_job(job: dict[str, Any], hash_data: bool = True) -> dict[str, Any]:
    """The lineage of a version a completed job registered."""
    spec = job.get("spec") or {}
    channels = dict(spec.get("channels") or {})
    return {
        "source": "job",
        "job": job["id"],
        "bundle_hash": job.get("bundle_hash"),
        "data": {
            name: data_hash(str(value)) if hash_data else {"uri": str(value)}
            for name, value in channels.items()
        },
        "hyperparameters": dict(spec.get("hyperparameters") or {}),
        "user": user(),
        "registered_at": job.get("ended_at") or time.time(),
    }


def of_kernel() -> dict[str, Any]:
    """The lineage of a version saved from a kernel variable."""
    return {"source": "kernel", "user": user(), "registered_at": time.time()}


__all__ = ["HASH_LIMIT", "data_hash", "of_job", "of_kernel", "user"]
