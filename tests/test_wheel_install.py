"""The wheel installs what it runs: a fresh virtualenv with only the README's user
install line runs the quickstart (train, deploy, predict, batch-predict) under papermill.

The wheel is built from this tree (the prebuilt sidebar included); papermill is the
harness, installed beside it, not part of what a user installs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import stop_everything

ROOT = Path(__file__).resolve().parent.parent
UV = [sys.executable, "-m", "uv"]
USER_INSTALL = "jupyter-serverless-ml[lab]"  # README: pip install 'jupyter-serverless-ml[lab]'


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / "jupyter_serverless_ml" / "labextension" / "static" / "style.js").exists():
        pytest.skip("the sidebar is not built here (make setup builds it)")
    out = tmp_path_factory.mktemp("dist")
    _run([*UV, "build", "--wheel", "--out-dir", str(out), str(ROOT)])
    (built,) = out.glob("jupyter_serverless_ml-*.whl")
    return built


def test_the_wheel_holds_the_package_the_sidebar_and_the_license(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "jupyter_serverless_ml/py.typed" in names
    assert any(n.endswith("labextensions/jupyter-serverless-ml/package.json") for n in names)
    assert any(n.endswith("jupyter_server_config.d/jupyter_serverless_ml.json") for n in names)
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Framework :: Jupyter :: JupyterLab :: Extensions :: Prebuilt" in text
    entry_points = zipfile.ZipFile(wheel).read(metadata.replace("METADATA", "entry_points.txt"))
    assert b"local = jupyter_serverless_ml.backends.local:LocalBackend" in entry_points


def test_a_fresh_user_install_runs_the_quickstart(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    _run([*UV, "venv", "--quiet", "--python", sys.executable, str(venv)])
    requirement = f"{USER_INSTALL} @ {wheel.as_uri()}"
    _run([*UV, "pip", "install", "--quiet", "-p", str(python), requirement, "scikit-learn"])
    probe = _run(
        [str(python), "-c", "import importlib.util as u; print(bool(u.find_spec('pytest')))"]
    )
    assert probe.stdout.strip() == "False"  # no dev extra slipped in
    _run([*UV, "pip", "install", "--quiet", "-p", str(python), "papermill"])  # the harness

    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(JSML_HOME=str(home), PATH=f"{venv / 'bin'}:{env['PATH']}")
    try:
        _run(
            [
                str(venv / "bin" / "papermill"),
                str(ROOT / "notebooks" / "quickstart.ipynb"),
                str(work / "out.ipynb"),
                "--cwd",
                str(work),
                "-p",
                "job_name",
                "wheel",
                "--no-progress-bar",
            ],
            env=env,
        )
    finally:
        stop_everything(home)
    text = (work / "out.ipynb").read_text()
    assert "rows scored" in text and "undeployed wheel-prod" in text
