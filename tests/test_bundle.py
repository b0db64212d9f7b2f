import json
import platform
from pathlib import Path

import pytest
import sklearn

from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.packaging import build_cell_bundle, build_entry_point_bundle, load_bundle
from jupyter_serverless_ml.packaging.requirements import merge, pin

CELL = "from sklearn.linear_model import LogisticRegression\nmodel = LogisticRegression(C=C)\n"


def test_same_inputs_same_hash_and_a_cache_hit(tmp_path: Path) -> None:
    first = build_cell_bundle(CELL, {"C": 0.5}, tmp_path)
    second = build_cell_bundle(CELL, {"C": 0.5}, tmp_path)
    assert not first.cache_hit and second.cache_hit
    assert first.hash == second.hash and first.path == second.path
    other = build_cell_bundle(CELL, {"C": 0.7}, tmp_path)
    assert other.hash != first.hash
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({first.hash, other.hash})


def test_bundle_contents_and_manifest(tmp_path: Path) -> None:
    bundle = build_cell_bundle(CELL, {"C": 0.5}, tmp_path)
    code = bundle.path / "code"
    assert (code / "jsml_cell.py").read_text() == CELL
    assert (code / "jsml_runtime" / "runner.py").is_file()
    assert f"scikit-learn=={sklearn.__version__}" in bundle.requirements
    assert any(r.startswith("cloudpickle==") for r in bundle.requirements)  # C is pickled
    manifest = json.loads((bundle.path / "manifest.json").read_text())
    assert manifest["hash"] == bundle.hash
    assert manifest["python_version"] == platform.python_version()
    assert {"name": "C", "kind": "value", "reason": "used by the cell"}.items() <= manifest[
        "captured"
    ][0].items()
    assert json.loads((code / "jsml.json").read_text())["model_var"] == "model"
    shown = repr(bundle)
    assert "C     value  used by the cell  float, pickled" in shown
    assert f"scikit-learn=={sklearn.__version__}" in shown
    assert "<td style='text-align:left'>C</td>" in bundle._repr_html_()


def test_dockerfile_builds_the_bundle(tmp_path: Path) -> None:
    bundle = build_cell_bundle(CELL, {"C": 0.5}, tmp_path)
    out = bundle.export(tmp_path / "ctx")
    lines = [
        ln for ln in (out / "Dockerfile").read_text().splitlines() if ln and not ln.startswith("#")
    ]
    instructions = [ln.split()[0] for ln in lines if not ln.startswith(" ")]
    assert instructions == ["FROM", "ENV", "WORKDIR", "COPY", "RUN", "COPY", "ENTRYPOINT"]
    assert lines[0] == f"FROM python:{platform.python_version()}-slim"
    assert "RUN pip install --no-cache-dir -r /opt/ml/code/requirements.txt" in lines
    assert lines[-1] == 'ENTRYPOINT ["python", "-m", "jsml_runtime.runner"]'
    pins = (out / "requirements.txt").read_text().split()
    assert pins and all("==" in p for p in pins)
    assert (out / "code" / "jsml_cell.py").is_file()


def test_unknown_channel_is_refused_before_submitting(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match=r"channel\('test'\) but no data channel 'test'.*add --data test=PATH"
    ):
        build_cell_bundle("x = open(channel('test'))\n", {}, tmp_path, channels=["train"])
    assert not any(tmp_path.iterdir()) or all(
        p.name.startswith(".") is False for p in tmp_path.iterdir()
    )
    assert not list(tmp_path.glob(".build-*"))


def test_empty_cell_points_to_entry_point(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--entry-point train\.py"):
        build_cell_bundle("  \n", {}, tmp_path)


def test_entry_point_bundle_copies_source_dir_and_its_requirements(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text("import helpers\nimport numpy\n")
    (src / "helpers.py").write_text("X = 1\n")
    (src / "requirements.txt").write_text("numpy>=1.20\n")
    bundle = build_entry_point_bundle("train.py", tmp_path / "bundles", source_dir=src)
    assert (bundle.path / "code" / "helpers.py").is_file()
    assert bundle.requirements[0] == "numpy>=1.20"
    assert not any(r.startswith("helpers") for r in bundle.requirements)
    assert load_bundle(bundle.path).manifest["entry_point"] == "train.py"
    with pytest.raises(UsageError, match="no such file"):
        build_entry_point_bundle("missing.py", tmp_path / "bundles", source_dir=src)


def test_requirements_pin_installed_versions_and_skip_the_stdlib(tmp_path: Path) -> None:
    import pandas

    pins, local = pin(["os", "json", "sklearn.linear_model", "pandas", "jupyter_serverless_ml"])
    assert pins == sorted([f"pandas=={pandas.__version__}", f"scikit-learn=={sklearn.__version__}"])
    assert local == {}
    assert merge(["pandas<3", "# comment"], pins) == [
        "pandas<3",
        "# comment",
        f"scikit-learn=={sklearn.__version__}",
    ]


def test_local_modules_are_copied_into_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mylib.py").write_text("def f():\n    return 41\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    mylib = importlib.import_module("mylib")
    bundle = build_cell_bundle("import mylib\nx = mylib.f()\n", {"mylib": mylib}, tmp_path / "b")
    assert (bundle.path / "code" / "mylib.py").read_text() == "def f():\n    return 41\n"
    assert bundle.manifest["local_modules"] == ["mylib"]
