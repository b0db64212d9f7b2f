"""The artifact store: local files by path or file:// URI; remote schemes through fsspec."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_serverless_ml import artifacts
from jupyter_serverless_ml.errors import ConfigError, NotFound, UsageError


def test_local_uris_read_and_write(tmp_path: Path) -> None:
    target = tmp_path / "a dir" / "manifest.json"
    uri = artifacts.to_uri(target)
    assert uri.startswith("file://") and "%20" in uri
    assert artifacts.local_path(uri) == target and artifacts.scheme(uri) == "file"
    artifacts.write_json(uri, {"rows": 3})
    assert artifacts.read_json(uri) == {"rows": 3} and artifacts.exists(uri)
    assert artifacts.read_json(str(target)) == {"rows": 3}  # a plain path works too
    assert not list(target.parent.glob(".*tmp*"))  # written atomically, nothing left over
    assert artifacts.local_dir(artifacts.to_uri(target.parent), tmp_path / "cache") == target.parent


def test_missing_and_malformed_artifacts_are_clear(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no artifact at"):
        artifacts.read_bytes(artifacts.to_uri(tmp_path / "nope"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(UsageError, match="not valid JSON"):
        artifacts.read_json(str(tmp_path / "bad.json"))
    with pytest.raises(NotFound, match="no artifact directory"):
        artifacts.local_dir(str(tmp_path / "nope"), tmp_path / "cache")


def test_remote_uris_go_through_fsspec(tmp_path: Path) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    memory.pipe("/bundle/manifest.json", b'{"hash": "abc"}')
    memory.pipe("/bundle/code/main.py", b"print(1)\n")
    assert artifacts.local_path("memory://bundle/manifest.json") is None
    assert artifacts.read_json("memory://bundle/manifest.json") == {"hash": "abc"}
    local = artifacts.local_dir("memory://bundle", tmp_path / "cache")
    assert (local / "code" / "main.py").read_text() == "print(1)\n"
    assert artifacts.local_dir("memory://bundle", tmp_path / "cache") == local  # cached
    artifacts.write_bytes("memory://out/part-0.csv", b"a\n1\n")
    assert memory.cat("/out/part-0.csv") == b"a\n1\n"


def test_an_unknown_scheme_says_what_is_wrong() -> None:
    with pytest.raises((UsageError, ConfigError), match="nosuchscheme"):
        artifacts.read_bytes("nosuchscheme://bucket/key")
