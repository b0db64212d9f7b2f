"""The server extension's traitlets configuration: which backends it serves, with what settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient


@pytest.fixture
def jp_server_config(platform_home: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_serverless_ml": True}},
        "ServerlessML": {
            "backends": ["local", "nosuchcloud"],
            "backend_settings": {"local": {"home": str(platform_home)}},
        },
    }


async def test_configured_backends_are_listed_with_their_errors(
    jp_fetch: Any, platform_home: Path
) -> None:
    served = json.loads((await jp_fetch("serverless-ml", "api", "backends")).body)
    by_name = {b["name"]: b for b in served["backends"]}
    assert list(by_name) == ["local", "nosuchcloud"]
    assert by_name["local"]["features"][0] == "training" and by_name["local"]["error"] is None
    assert by_name["nosuchcloud"]["features"] == []
    assert "unknown backend 'nosuchcloud'" in by_name["nosuchcloud"]["error"]
    assert served["features"] == sorted(by_name["local"]["features"])
    platform = json.loads((await jp_fetch("serverless-ml", "api", "platform")).body)
    assert platform["home"] == str(platform_home)
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch("serverless-ml", "api", "jobs", params={"backend": "local"})
    assert caught.value.code == 503  # the platform is not running and the server never starts it


def test_backends_configured_for_the_user_are_served_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_serverless_ml.server.config import ServerlessML

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("JSML_HOME", str(home))
    monkeypatch.delenv("JSML_BACKEND", raising=False)
    for key in [
        k for k in __import__("os").environ if k.startswith(("JSML_SAGEMAKER_", "JSML_VERTEX_"))
    ]:
        monkeypatch.delenv(key)
    assert ServerlessML().backends == ["local"]
    monkeypatch.setenv("JSML_VERTEX_PROJECT", "p")
    (home / "config.toml").write_text('[backends.sagemaker]\nregion = "eu-west-1"\n')
    assert ServerlessML().backends == ["local", "sagemaker", "vertex"]
    assert ServerlessML(backends=["local"]).backends == ["local"]  # configuration wins
