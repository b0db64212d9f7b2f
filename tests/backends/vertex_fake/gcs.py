"""A fake of the Cloud Storage JSON API, backed by a plain directory.

``ROOT/<bucket>/<object name>`` is the object: what google-cloud-storage and gcsfs
upload lands there as a file, and a file a job writes there (through the
directory the job emulator mounts as Vertex's ``/gcs`` Cloud Storage FUSE) is an
object at once. Routes: bucket get/insert, object list (prefix, delimiter,
pages), metadata, media download (``Range``), multipart/media/resumable
upload, delete. Errors come in the API's own JSON shape.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.parser
import email.policy
import hashlib
import itertools
import json
import mimetypes
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import google_crc32c

from .web import ApiError, Request, Response, Router

API = "/storage/v1"


def _gcs_error(code: int, message: str, reason: str) -> ApiError:
    return ApiError(
        code, message, errors=[{"message": message, "domain": "global", "reason": reason}]
    )


class FakeGCS:
    """The storage half of the fake: add its routes to a router with :meth:`install`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._uploads: dict[str, tuple[str, str]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- helpers ------------------------------------------------------------------

    def create_bucket(self, name: str) -> None:
        (self.root / name).mkdir(parents=True, exist_ok=True)

    def bucket_dir(self, bucket: str) -> Path:
        path = self.root / bucket
        if not path.is_dir():
            raise _gcs_error(404, "The specified bucket does not exist.", "notFound")
        return path

    def path(self, bucket: str, name: str) -> Path:
        base = self.bucket_dir(bucket)
        target = (base / name).resolve()
        if not str(target).startswith(str(base.resolve()) + os.sep):
            raise _gcs_error(400, f"Invalid object name: {name!r}", "invalid")
        return target

    def local(self, uri: str) -> Path:
        """The file behind ``gs://bucket/name``."""
        bucket, _, name = uri[len("gs://") :].partition("/")
        return self.root / bucket / name

    def _meta(self, bucket: str, name: str, path: Path) -> dict[str, Any]:
        data = path.read_bytes()
        stat = path.stat()
        when = (
            dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)
            .isoformat()
            .replace("+00:00", "Z")
        )
        crc = google_crc32c.Checksum(data).digest()
        return {
            "kind": "storage#object",
            "id": f"{bucket}/{name}/{stat.st_mtime_ns}",
            "selfLink": f"{API}/b/{bucket}/o/{quote(name, safe='')}",
            "name": name,
            "bucket": bucket,
            "generation": str(stat.st_mtime_ns),
            "metageneration": "1",
            "contentType": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "size": str(len(data)),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "crc32c": base64.b64encode(crc).decode(),
            "timeCreated": when,
            "updated": when,
            "storageClass": "STANDARD",
        }

    def _store(self, bucket: str, name: str, data: bytes) -> dict[str, Any]:
        if not name:
            raise _gcs_error(400, "Required parameter: name", "required")
        target = self.path(bucket, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.upload{next(self._ids)}")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return self._meta(bucket, name, target)

    # -- routes -------------------------------------------------------------------

    def install(self, router: Router) -> None:
        obj = r"/b/(?P<bucket>[^/]+)/o/(?P<name>.+)"
        router.add("GET", API + r"/b/(?P<bucket>[^/]+)", self.get_bucket)
        router.add("POST", API + r"/b", self.insert_bucket)
        router.add("GET", API + r"/b/(?P<bucket>[^/]+)/o", self.list_objects)
        router.add("GET", API + obj, self.get_object)
        router.add("GET", "/download" + API + obj, self.get_object)
        router.add("DELETE", API + obj, self.delete_object)
        router.add("POST", "/upload" + API + r"/b/(?P<bucket>[^/]+)/o", self.upload)
        router.add("PUT", "/upload" + API + r"/b/(?P<bucket>[^/]+)/o", self.upload_session)

    def get_bucket(self, req: Request) -> Response:
        self.bucket_dir(req.params["bucket"])
        name = req.params["bucket"]
        return Response.of_json(
            {"kind": "storage#bucket", "id": name, "name": name, "location": "US"}
        )

    def insert_bucket(self, req: Request) -> Response:
        name = str(req.json().get("name") or "")
        if (self.root / name).exists():
            raise _gcs_error(
                409,
                "Your previous request to create the named bucket succeeded and you already own it.",
                "conflict",
            )
        self.create_bucket(name)
        return Response.of_json({"kind": "storage#bucket", "id": name, "name": name})

    def list_objects(self, req: Request) -> Response:
        bucket = req.params["bucket"]
        base = self.bucket_dir(bucket)
        prefix = req.arg("prefix", "") or ""
        delimiter = req.arg("delimiter", "") or ""
        names = sorted(
            str(p.relative_to(base))
            for p in base.rglob("*")
            if p.is_file()
            and not p.name.startswith(".")
            and str(p.relative_to(base)).startswith(prefix)
        )
        items: list[dict[str, Any]] = []
        prefixes: set[str] = set()
        for name in names:
            rest = name[len(prefix) :]
            if delimiter and delimiter in rest:
                prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
            else:
                items.append(self._meta(bucket, name, base / name))
        start = int(req.arg("pageToken") or 0)
        size = int(req.arg("maxResults") or 1000)
        page = items[start : start + size]
        out: dict[str, Any] = {"kind": "storage#objects", "items": page}
        if prefixes and start == 0:
            out["prefixes"] = sorted(prefixes)
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return Response.of_json(out)

    def get_object(self, req: Request) -> Response:
        bucket, name = req.params["bucket"], req.params["name"]
        path = self.path(bucket, name)
        if not path.is_file():
            raise _gcs_error(404, f"No such object: {bucket}/{name}", "notFound")
        meta = self._meta(bucket, name, path)
        if req.arg("alt") != "media":
            return Response.of_json(meta)
        data = path.read_bytes()
        headers = {
            "Content-Type": meta["contentType"],
            "x-goog-hash": f"crc32c={meta['crc32c']},md5={meta['md5Hash']}",
            "x-goog-generation": meta["generation"],
            "x-goog-stored-content-length": str(len(data)),
        }
        wanted = req.headers.get("range", "")
        if wanted.startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start = int(first or 0)
            end = int(last) if last else len(data) - 1
            if start >= len(data) and data:
                return Response(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            chunk = data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(chunk) - 1}/{len(data)}"
            return Response(206, chunk, headers)
        return Response(200, data, headers)

    def delete_object(self, req: Request) -> Response:
        bucket, name = req.params["bucket"], req.params["name"]
        path = self.path(bucket, name)
        if not path.is_file():
            raise _gcs_error(404, f"No such object: {bucket}/{name}", "notFound")
        path.unlink()
        return Response(204)

    def upload(self, req: Request) -> Response:
        bucket = req.params["bucket"]
        self.bucket_dir(bucket)
        if req.arg("upload_id"):  # gcsfs sends the chunks of a session with POST
            return self.upload_session(req)
        kind = req.arg("uploadType")
        if kind == "media":
            return Response.of_json(self._store(bucket, req.arg("name") or "", req.body))
        if kind == "multipart":
            metadata, data = self._multipart(req)
            return Response.of_json(
                self._store(bucket, str(metadata.get("name") or req.arg("name") or ""), data)
            )
        if kind == "resumable":
            metadata = req.json() if req.body else {}
            name = str(metadata.get("name") or req.arg("name") or "")
            upload_id = f"u{next(self._ids)}"
            with self._lock:
                self._uploads[upload_id] = (bucket, name)
            (self.root / f".upload-{upload_id}").write_bytes(b"")
            host = req.headers.get("host", "")
            location = f"{host}/upload{API}/b/{bucket}/o?uploadType=resumable&upload_id={upload_id}"
            return Response(
                200, b"", {"Location": f"http://{location}", "X-GUploader-UploadID": upload_id}
            )
        raise _gcs_error(400, f"unsupported uploadType {kind!r}", "invalid")

    def upload_session(self, req: Request) -> Response:
        upload_id = req.arg("upload_id") or ""
        with self._lock:
            target = self._uploads.get(upload_id)
        if target is None:
            raise _gcs_error(404, "No such upload session", "notFound")
        part = self.root / f".upload-{upload_id}"
        with open(part, "ab") as fh:
            fh.write(req.body)
        size = part.stat().st_size
        content_range = req.headers.get("content-range", "")
        total = content_range.rsplit("/", 1)[-1] if "/" in content_range else str(size)
        if total == "*" or int(total) > size:
            return Response(308, b"", {"Range": f"bytes=0-{size - 1}"} if size else {})
        bucket, name = target
        meta = self._store(bucket, name, part.read_bytes())
        part.unlink()
        with self._lock:
            self._uploads.pop(upload_id, None)
        return Response.of_json(meta)

    @staticmethod
    def _multipart(req: Request) -> tuple[dict[str, Any], bytes]:
        head = f"Content-Type: {req.headers.get('content-type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
        parts = list(message.iter_parts())  # type: ignore[attr-defined]
        if len(parts) != 2:
            raise _gcs_error(
                400, "multipart upload needs a metadata part and a media part", "invalid"
            )
        metadata = json.loads(parts[0].get_payload(decode=True) or b"{}")
        return metadata, parts[1].get_payload(decode=True) or b""
