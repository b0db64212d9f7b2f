"""S3 for the SageMaker backend: the bucket setting, uploads with progress, downloads.

Layout under the ``bucket`` setting (``s3://bucket/prefix``)::

    bundles/<hash>/bundle.tar.gz       the bundle as built (manifest, Dockerfile, code)
    bundles/<hash>/sourcedir.tar.gz    what the training container runs (code + entry scripts)
    channels/<name>/<digest>/...       local --data files, uploaded once per content
    channels/<name>/<digest>.jsml-complete   written when that upload is whole
    jobs/<job>/output/model.tar.gz     SageMaker's model artifact of a job
    models/<name>/<id>/model.tar.gz    models registered from the kernel
    batch/<id>/input|output/           batch transform inputs and outputs

Uploads are content-addressed (a second job with the same bundle or data uploads
nothing) and print their size first and their progress while they run.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ...errors import UsageError
from ...options import format_size
from .aws import Aws, aws_errors

CONTAINER_DIR = Path(__file__).with_name("container")
TRAIN_SCRIPT = "jsml_sagemaker_train.py"
INFERENCE_SCRIPT = "jsml_sagemaker_inference.py"
DONE_MARKER = ".jsml-complete"
Notice = Callable[[str], None]


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; anything else is a UsageError."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UsageError(f"{uri!r} is not an s3:// URI; write s3://bucket/prefix")
    return parsed.netloc, parsed.path.lstrip("/")


def check_bucket(value: str) -> str:
    """The ``bucket`` setting normalised to ``s3://bucket/prefix`` (no trailing slash)."""
    text = value.strip()
    if not text.startswith("s3://"):
        text = "s3://" + text
    bucket, key = split_uri(text)
    return f"s3://{bucket}/{key.strip('/')}".rstrip("/")


def _digest(paths: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:20]


class _Progress:
    """A boto3 transfer callback that prints every quarter of a large upload."""

    def __init__(self, label: str, total: int, notice: Notice) -> None:
        self.label, self.total, self.notice = label, total, notice
        self.done = 0
        self.shown = 0
        self.lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self.lock:
            self.done += amount
            quarter = int(4 * self.done / self.total) if self.total else 4
            if quarter > self.shown and self.total >= 8 << 20:
                self.shown = quarter
                self.notice(
                    f"  {self.label}: {format_size(self.done)} of {format_size(self.total)} "
                    f"({100 * self.done // self.total}%)"
                )


class Storage:
    """The backend's S3 prefix and what it puts there."""

    def __init__(self, aws: Aws, bucket: str, notice: Notice) -> None:
        self.aws = aws
        self.base = check_bucket(bucket)
        self.bucket, self.prefix = split_uri(self.base)
        self.notice = notice

    def uri(self, *parts: str) -> str:
        """``s3://bucket/prefix/<parts>``."""
        return "/".join([self.base, *parts])

    @property
    def s3(self) -> Any:
        """The S3 client."""
        return self.aws.client("s3")

    def exists(self, uri: str) -> bool:
        """True when the object exists."""
        import botocore.exceptions

        bucket, key = split_uri(uri)
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            with aws_errors(f"reading {uri}"):
                raise
        return True

    def put_bytes(self, uri: str, data: bytes) -> None:
        """Write one small object."""
        bucket, key = split_uri(uri)
        with aws_errors(f"writing {uri}"):
            self.s3.put_object(Bucket=bucket, Key=key, Body=data)

    def get_bytes(self, uri: str) -> bytes:
        """Read one object."""
        bucket, key = split_uri(uri)
        with aws_errors(f"reading {uri}"):
            return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def upload_file(self, path: Path, uri: str, label: str) -> None:
        """Upload one file with progress."""
        bucket, key = split_uri(uri)
        size = path.stat().st_size
        with aws_errors(f"uploading {path} to {uri}"):
            self.s3.upload_file(
                str(path), bucket, key, Callback=_Progress(label, size, self.notice)
            )

    def keys(self, uri: str) -> list[str]:
        """Every object key under ``uri`` (a prefix)."""
        bucket, key = split_uri(uri)
        out: list[str] = []
        with aws_errors(f"listing {uri}"):
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=key
            ):
                out += [item["Key"] for item in page.get("Contents", [])]
        return out

    def delete_prefix(self, uri: str) -> int:
        """Delete every object under ``uri``; returns how many."""
        bucket, _ = split_uri(uri)
        found = self.keys(uri)
        with aws_errors(f"deleting {uri}"):
            for start in range(0, len(found), 1000):
                chunk = [{"Key": k} for k in found[start : start + 1000]]
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk})
        return len(found)

    def download_prefix(self, uri: str, target: Path) -> list[Path]:
        """Download every object under ``uri`` into ``target`` (keys relative to ``uri``)."""
        bucket, key = split_uri(uri)
        files = []
        for name in self.keys(uri):
            relative = name[len(key) :].lstrip("/") or Path(name).name
            local = target / relative
            if ".." in Path(relative).parts:
                continue
            local.parent.mkdir(parents=True, exist_ok=True)
            with aws_errors(f"downloading s3://{bucket}/{name}"):
                self.s3.download_file(bucket, name, str(local))
            files.append(local)
        return files

    # -- bundles, channels, models ----------------------------------------------

    def upload_bundle(self, bundle_path: Path, bundle_hash: str) -> tuple[str, str]:
        """Upload a bundle (once per hash): ``(bundle_uri, sourcedir_uri)``."""
        bundle_uri = self.uri("bundles", bundle_hash, "bundle.tar.gz")
        source_uri = self.uri("bundles", bundle_hash, "sourcedir.tar.gz")
        if self.exists(source_uri) and self.exists(bundle_uri):
            self.notice(f"bundle {bundle_hash[:12]} is already in {self.base}")
            return bundle_uri, source_uri
        whole = _tar([(bundle_path, "")])
        code = bundle_path / "code"
        extras = [(CONTAINER_DIR / TRAIN_SCRIPT, TRAIN_SCRIPT)]
        extras.append((CONTAINER_DIR / INFERENCE_SCRIPT, INFERENCE_SCRIPT))
        if (bundle_path / "requirements.txt").is_file():
            extras.append((bundle_path / "requirements.txt", "requirements.txt"))
        source = _tar([(code, ""), *extras])
        self.notice(
            f"uploading bundle {bundle_hash[:12]} ({format_size(len(whole) + len(source))}) "
            f"to {self.uri('bundles', bundle_hash)}/"
        )
        self.put_bytes(bundle_uri, whole)
        self.put_bytes(source_uri, source)
        return bundle_uri, source_uri

    def upload_channel(self, name: str, source: str) -> str:
        """The S3 URI of a data channel: ``s3://`` as it is, a local file or directory uploaded
        once per content (its size printed first, its progress while it uploads)."""
        if source.startswith("s3://"):
            return source
        if "://" in source and not source.startswith("file://"):
            raise UsageError(
                f"data channel {name!r}: {source} cannot be read by SageMaker; give a local "
                "path or an s3:// URI"
            )
        root = Path(source.removeprefix("file://")).expanduser()
        if not root.exists():
            raise UsageError(f"data channel {name!r}: {root} does not exist")
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        base = root.parent if root.is_file() else root
        target = self.uri("channels", name, _digest(files, base))
        marker = f"{target}{DONE_MARKER}"  # beside the prefix: SageMaker copies all under it
        if self.exists(marker):
            self.notice(f"data channel {name}: already uploaded to {target}/")
            return target + "/"
        total = sum(p.stat().st_size for p in files)
        self.notice(
            f"uploading data channel {name} ({len(files)} file{'s' * (len(files) != 1)}, "
            f"{format_size(total)}) to {target}/"
        )
        for path in files:
            self.upload_file(path, f"{target}/{path.relative_to(base)}", f"{name}/{path.name}")
        self.put_bytes(marker, b"")
        return target + "/"

    def upload_model_dir(self, directory: Path, uri: str) -> None:
        """A model directory as SageMaker's ``model.tar.gz`` with the inference handler in
        ``code/`` (what a training job's entry script ships the same way)."""
        runtime = Path(__file__).resolve().parents[2] / "runtime"
        members = [(directory, ""), (CONTAINER_DIR / INFERENCE_SCRIPT, "code/inference.py")]
        members += [(p, f"code/jsml_runtime/{p.name}") for p in sorted(runtime.glob("*.py"))]
        self.put_bytes(uri, _tar(members))


def _tar(members: list[tuple[Path, str]]) -> bytes:
    """A gzipped tar of ``(path, name in the archive)``; a directory's files go under name."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, name in members:
            if path.is_dir():
                for item in sorted(path.rglob("*")):
                    if "__pycache__" in item.parts or not item.is_file():
                        continue
                    arcname = os.path.join(name, str(item.relative_to(path)))
                    archive.add(str(item), arcname=arcname, recursive=False)
            else:
                archive.add(str(path), arcname=name or path.name, recursive=False)
    return buffer.getvalue()


def extract(data: bytes, target: Path) -> Path:
    """Unpack a gzipped tar into ``target`` (no member may leave it)."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        if hasattr(tarfile, "data_filter"):
            try:
                archive.extractall(target, filter="data")
            except tarfile.FilterError as exc:
                raise UsageError(f"the archive holds a member that leaves it: {exc}") from None
        else:  # Python 3.10 before 3.10.12: check each member by hand
            root = target.resolve()
            for member in archive.getmembers():
                where = (target / member.name).resolve()
                if not (member.isfile() or member.isdir()) or root not in (where, *where.parents):
                    raise UsageError(
                        f"the archive holds {member.name!r}, which is not a plain file or leaves it"
                    )
            archive.extractall(target)
    return target


__all__ = ["Storage", "check_bucket", "extract", "split_uri"]
