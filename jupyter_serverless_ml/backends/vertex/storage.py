"""Cloud Storage through google-cloud-storage: upload a tree, read, list, delete.

Honours ``STORAGE_EMULATOR_HOST`` (a local server in tests) as the client does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import call


def split(uri: str) -> tuple[str, str]:
    """``gs://bucket/name`` -> ``(bucket, name)``."""
    bucket, _, name = uri[len("gs://") :].partition("/")
    return bucket, name


class Storage:
    """One bucket-agnostic client, created on first use."""

    def __init__(self, project: str, credentials: Any, retries: int) -> None:
        self._project = project
        self._credentials = credentials
        self._retries = retries
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import storage

            self._client = storage.Client(project=self._project, credentials=self._credentials)
        return self._client

    def _blob(self, uri: str) -> Any:
        bucket, name = split(uri)
        return self.client.bucket(bucket).blob(name)

    def check_bucket(self, uri: str) -> None:
        """Fail with the bucket's own error when it does not exist or cannot be read."""
        bucket, _ = split(uri)
        call(f"reading bucket gs://{bucket}", self.client.get_bucket, bucket, retries=self._retries)

    def exists(self, uri: str) -> bool:
        return bool(call(f"reading {uri}", self._blob(uri).exists, retries=self._retries))

    def read(self, uri: str) -> bytes | None:
        """The object's bytes, or ``None`` when there is none."""
        from google.api_core import exceptions as gexc

        try:
            return bytes(
                call(f"reading {uri}", self._blob(uri).download_as_bytes, retries=self._retries)
            )
        except Exception as exc:
            if isinstance(exc.__cause__, gexc.NotFound) or isinstance(exc, gexc.NotFound):
                return None
            raise

    def write(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        call(
            f"writing {uri}",
            self._blob(uri).upload_from_string,
            data,
            content_type=content_type,
            retries=self._retries,
        )

    def upload_file(self, path: Path, uri: str) -> None:
        call(
            f"uploading {path} to {uri}",
            self._blob(uri).upload_from_filename,
            str(path),
            retries=self._retries,
        )

    def upload_tree(self, directory: Path, uri: str, notice: bool = False) -> int:
        """Upload every file under ``directory`` to ``uri/<relative path>``; the bytes sent.
        With ``notice``, says how much it sends first (data channels can be large)."""
        files = (
            [p for p in sorted(directory.rglob("*")) if p.is_file()]
            if directory.is_dir()
            else [directory]
        )
        total = sum(p.stat().st_size for p in files)
        if notice:
            print(
                f"[vertex] uploading {directory} ({total / 1e6:.1f} MB, {len(files)} files) to {uri}",
                file=sys.stderr,
            )
        for path in files:
            rel = path.name if path == directory else path.relative_to(directory).as_posix()
            self.upload_file(path, f"{uri.rstrip('/')}/{rel}")
        return total

    def list_objects(self, uri: str) -> list[str]:
        """The URIs of every object under the prefix ``uri``."""
        bucket, prefix = split(uri)
        blobs = call(
            f"listing {uri}",
            lambda: list(self.client.list_blobs(bucket, prefix=prefix)),
            retries=self._retries,
        )
        return [f"gs://{bucket}/{b.name}" for b in blobs]

    def delete_prefix(self, uri: str) -> int:
        """Delete every object under ``uri``; how many."""
        names = self.list_objects(uri)
        for name in names:
            call(f"deleting {name}", self._blob(name).delete, retries=self._retries)
        return len(names)

    def download_tree(self, uri: str, directory: Path) -> list[Path]:
        """Copy every object under ``uri`` into ``directory``; the files written."""
        written = []
        base = uri.rstrip("/") + "/"
        for name in self.list_objects(base):
            target = directory / name[len(base) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            call(
                f"downloading {name}",
                self._blob(name).download_to_filename,
                str(target),
                retries=self._retries,
            )
            written.append(target)
        return written
