"""Data channels a backend reads in place stay URIs; other remote ones are downloaded first."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_serverless_ml.backends import backend_class
from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.training.api import _channels


def test_native_uris_pass_through_and_local_paths_are_checked(tmp_path: Path) -> None:
    local = tmp_path / "train.csv"
    local.write_text("a\n1\n")
    got = _channels({"train": "s3://bucket/data/", "extra": str(local)}, frozenset({"s3"}))
    assert got == {"train": "s3://bucket/data/", "extra": str(local)}


def test_a_uri_the_backend_cannot_read_is_downloaded_or_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws
    with pytest.raises(UsageError, match="no AWS credentials here, so s3:// channels cannot be"):
        _channels({"train": "s3://bucket/data/"}, frozenset({"gs"}))


def test_the_clouds_read_their_own_storage_in_place() -> None:
    assert backend_class("sagemaker").native_schemes == {"s3"}
    assert backend_class("vertex").native_schemes == {"gs"}
    assert backend_class("local").native_schemes == frozenset()


def test_images_and_spot_are_refused_by_the_local_backend(home: Path) -> None:
    import jupyter_serverless_ml as jsml

    with pytest.raises(UsageError, match="--image and --spot need --backend sagemaker"):
        jsml.train("model = 1\n", name="img", image="python:3.11", namespace={})
    with pytest.raises(UsageError, match="--image and --spot need"):
        jsml.train("model = 1\n", name="img", spot=True, namespace={})
    assert jsml.jobs(name="img") == []
