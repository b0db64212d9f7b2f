"""Shared fixtures: an isolated platform home per test module, data files, an IPython shell.

Every fixture that starts processes stops them: the daemon through its API, then
any process whose command line or environment still names the test's home.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jupyter_serverless_ml import backends
from jupyter_serverless_ml.platform import client

pytest_plugins = ["pytest_jupyter.jupyter_server"]


def _processes_of(home: Path) -> list[int]:
    marker = str(home).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            continue
        if marker in cmdline or b"JSML_HOME=" + marker + b"\0" in environ:
            found.append(int(entry))
    return found


def stop_everything(home: Path) -> None:
    """Stop the daemon of ``home`` and kill every process that still belongs to it."""
    with contextlib.suppress(Exception):
        client.stop(home, timeout=5)
    for _ in range(3):
        pids = _processes_of(home)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def platform_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ``$JSML_HOME`` for the module; its daemon and jobs are stopped afterwards."""
    home = tmp_path_factory.mktemp("jsml-home")
    previous = os.environ.get("JSML_HOME")
    os.environ["JSML_HOME"] = str(home)
    backends.reset()
    try:
        yield home
    finally:
        stop_everything(home)
        backends.reset()
        if previous is None:
            os.environ.pop("JSML_HOME", None)
        else:
            os.environ["JSML_HOME"] = previous


@pytest.fixture()
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Make a fresh ``$JSML_HOME`` (with extra environment for its daemon) for one test."""
    homes: list[Path] = []
    created: list[Path] = []

    def make(name: str = "home", parent: Path | None = None, **env: str) -> Path:
        if parent is None:
            home = tmp_path / name
            home.mkdir()
        else:
            home = Path(tempfile.mkdtemp(dir=parent, prefix=f"jsml-{name}-"))
            created.append(home)
        monkeypatch.setenv("JSML_HOME", str(home))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        backends.reset()
        homes.append(home)
        return home

    yield make
    for home in homes:
        stop_everything(home)
    for directory in created:
        shutil.rmtree(directory, ignore_errors=True)
    backends.reset()


@pytest.fixture()
def home(platform_home: Path) -> Path:
    """The module's platform home (function-level alias that makes the dependency explicit)."""
    return platform_home


@pytest.fixture(scope="session")
def cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The breast-cancer data set (bundled with scikit-learn) as a CSV file."""
    from sklearn.datasets import load_breast_cancer

    path = tmp_path_factory.mktemp("data") / "train.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


@pytest.fixture()
def ipython(home: Path) -> Iterator[object]:
    """An IPython shell with the extension loaded and a clean namespace."""
    from IPython.core.getipython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()
    assert shell is not None
    shell.reset(new_session=True)
    shell.run_line_magic("load_ext", "jupyter_serverless_ml")
    yield shell
    shell.reset(new_session=True)
