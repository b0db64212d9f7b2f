"""The platform's home is private: an opened-up home is tightened, and new files are 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import config
from jupyter_serverless_ml.platform import client


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_an_open_home_is_tightened_and_new_files_are_private(private_home: Any) -> None:
    home = private_home("open")
    running = client.ensure_running(home)
    jsml.train("model = 1\n", name="perm", namespace={})
    client.stop(home)
    # an older platform (or a permissive umask) left everything readable by others
    os.chmod(home, 0o755)
    opened = [p for p in home.iterdir() if p.is_file() and not p.is_symlink()]
    assert {p.name for p in opened} >= {"platform.db", "daemon.log", "token"}
    for path in opened:
        os.chmod(path, 0o644)
    capture = home / "capture" / "ep"
    capture.mkdir(parents=True)
    (capture / "old.jsonl").write_text("{}\n")
    os.chmod(capture / "old.jsonl", 0o644)

    running = client.ensure_running(home)
    assert _mode(home) == 0o700
    for path in opened:
        assert _mode(path) & 0o077 == 0, (path.name, oct(_mode(path)))
    assert _mode(capture / "old.jsonl") == 0o600
    for name in ("platform.db", "platform.db-wal", "platform.db-shm", "daemon.log"):
        if (home / name).exists():
            assert _mode(home / name) == 0o600, name
    # files made from now on are owner-only: a new job's directory and log
    job = jsml.train("model = 2\n", name="perm", namespace={})
    job_dir = Path(running.get(f"/v1/jobs/{job.id}")["job_dir"])
    assert _mode(job_dir) == 0o700
    for path in job_dir.iterdir():
        if path.is_file() and not path.is_symlink():
            assert _mode(path) & 0o077 == 0, (path.name, oct(_mode(path)))


def test_config_home_tightens_an_existing_home(private_home: Any) -> None:
    home = private_home("loose")
    os.chmod(home, 0o755)
    assert config.home() == home
    assert _mode(home) == 0o700
