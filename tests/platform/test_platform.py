"""The daemon: start on first use, one per home, token auth, shared state, bad homes."""

import http.client
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_serverless_ml import config
from jupyter_serverless_ml.errors import ConfigError
from jupyter_serverless_ml.platform import client, state

PY = sys.executable


def test_first_use_starts_a_daemon_with_private_state(home: Path) -> None:
    assert client.running(home) is None
    running = client.ensure_running(home)
    assert running.ping()
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    for name in (state.TOKEN_FILE, state.STATE_FILE):
        assert stat.S_IMODE(os.stat(home / name).st_mode) == 0o600
    info = running.get("/v1/info")
    assert info["home"] == str(home) and info["pid"] == running.pid


def test_requests_without_the_token_get_401(home: Path) -> None:
    running = client.ensure_running(home)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=5)
        conn.request("GET", "/v1/jobs", headers=headers)
        reply = conn.getresponse()
        body = json.loads(reply.read())
        assert reply.status == 401
        assert "Authorization: Bearer" in body["message"]


def test_concurrent_first_use_gives_one_daemon(tmp_path: Path) -> None:
    from conftest import stop_everything

    home = tmp_path / "h"
    code = "from jupyter_serverless_ml.platform import client; print(client.ensure_running().pid)"
    env = dict(os.environ, JSML_HOME=str(home))
    try:
        procs = [
            subprocess.Popen([PY, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        pids = {p.communicate(timeout=60)[0].strip() for p in procs}
        assert len(pids) == 1 and pids != {""}
    finally:
        stop_everything(home)


def test_two_processes_see_the_same_jobs(home: Path) -> None:
    env = dict(os.environ, JSML_HOME=str(home))
    submit = (
        "import jupyter_serverless_ml as j; "
        "print(j.train('x = 1\\n', name='shared', wait=False, namespace={}).id)"
    )
    job_id = subprocess.run(
        [PY, "-c", submit], env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    listing = subprocess.run(
        [PY, "-m", "jupyter_serverless_ml.frontends.cli", "jobs", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert job_id in [j["id"] for j in json.loads(listing)]


def test_stop_and_restart(home: Path) -> None:
    first = client.ensure_running(home)
    assert client.stop(home)
    assert client.running(home) is None
    assert not (home / state.STATE_FILE).exists()
    second = client.ensure_running(home)
    assert second.pid != first.pid and second.ping()


def test_unusable_homes_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JSML_HOME", "/proc/jsml-cannot-exist")
    with pytest.raises(
        ConfigError, match=r"cannot create JSML_HOME /proc/jsml-cannot-exist.*set JSML_HOME"
    ):
        config.home()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    if os.geteuid() != 0:
        pytest.skip("only root can make a directory owned by another user")
    os.chown(theirs, 4242, 4242)
    monkeypatch.setenv("JSML_HOME", str(theirs))
    with pytest.raises(ConfigError, match="owned by uid 4242, not by you"):
        config.home()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    monkeypatch.setenv("JSML_HOME", str(a_file))
    with pytest.raises(ConfigError, match=r"cannot create JSML_HOME|not a directory"):
        config.home()


def test_cli_reports_a_bad_home_in_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, JSML_HOME="/proc/jsml-nope")
    done = subprocess.run(
        [PY, "-m", "jupyter_serverless_ml.frontends.cli", "jobs"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot create JSML_HOME /proc/jsml-nope")
    assert len(done.stderr.strip().splitlines()) == 1


def test_malformed_requests_get_clear_4xx(home: Path) -> None:
    running = client.ensure_running(home)
    auth = {"Authorization": f"Bearer {running.token}", "Content-Type": "application/json"}

    def call(method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=5)
        conn.request(method, path, body=body, headers=auth)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())

    status, body = call("GET", "/v1/jobs?limit=lots")
    assert status == 400 and body["message"] == "query parameter limit='lots' must be a number"
    status, body = call("POST", "/v1/jobs", b"{not json")
    assert status == 400 and body["message"].startswith("request body is not JSON")
    status, body = call("POST", "/v1/jobs", b"[1, 2]")
    assert status == 400 and body["message"] == "request body must be a JSON object"
    status, body = call("POST", "/v1/jobs", b'{"name": "x"}')
    assert status == 400 and body["message"] == "job request lacks bundle, python"
    status, body = call("GET", "/v1/jobs/nope/watch?timeout=soon")
    assert status == 404 and body["error"] == "NotFound"
    status, body = call("GET", "/v1/models/nope/2")
    assert status == 404 and "no model nope:2" in body["message"]
