"""The job runtime as a real subprocess, against an /opt/ml-shaped directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_serverless_ml.packaging import build_cell_bundle, build_entry_point_bundle
from jupyter_serverless_ml.runtime import contract, flavors
from jupyter_serverless_ml.runtime.runner import hyperparameter_args


def _run(
    bundle_path: Path,
    root: Path,
    channels: dict[str, Path],
    hps: dict,
    env_from_config: bool = False,
) -> subprocess.CompletedProcess[str]:
    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "output").mkdir(parents=True, exist_ok=True)
    for name, path in channels.items():
        (root / "input" / "data" / name).mkdir(parents=True, exist_ok=True)
        (root / "input" / "data" / name / path.name).symlink_to(path)
    code = bundle_path / "code"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(code), "JSML_CODE_DIR": str(code)}
    if env_from_config:
        contract.write_config(root, list(channels), hps, ["algo-1"], "algo-1")
        env["JSML_ML_ROOT"] = str(root)
    else:
        env.update(
            contract.job_environment(
                str(root),
                list(channels),
                hps,
                channel_files={n: p.name for n, p in channels.items()},
            )
        )
        env["JSML_CODE_DIR"] = str(code)
    return subprocess.run(
        [sys.executable, "-m", "jsml_runtime.runner"],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cell_runs_with_channels_hp_metrics_and_saves_the_model(
    tmp_path: Path, cancer_csv: Path
) -> None:
    cell = (
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        "df = pd.read_csv(channel('train'))\n"
        "model = LogisticRegression(C=hp.C, max_iter=300).fit(df[FEATURES], df.target)\n"
        "log_metric('accuracy', model.score(df[FEATURES], df.target))\n"
        "log_metric('loss', 0.5, step=3)\n"
    )
    bundle = build_cell_bundle(
        cell, {"FEATURES": ["mean radius", "mean texture"]}, tmp_path / "b", channels=["train"]
    )
    root = tmp_path / "ml"
    done = _run(bundle.path, root, {"train": cancer_csv}, {"C": 0.5})
    assert done.returncode == 0, done.stderr
    metrics = [
        json.loads(line) for line in (root / "output" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [m["name"] for m in metrics] == ["accuracy", "loss"]
    assert 0.8 < metrics[0]["value"] <= 1 and metrics[1]["step"] == 3
    meta = flavors.describe(root / "model")
    assert meta["flavor"] == "sklearn" and meta["libraries"]["scikit-learn"]
    assert [i["name"] for i in meta["signature"]["inputs"]] == ["mean radius", "mean texture"]
    assert meta["signature"]["inputs"][0]["dtype"] == "float64"
    assert len(meta["signature"]["example"]) == 3
    model = flavors.load(root / "model")
    assert model.C == 0.5


def test_failure_reason_goes_to_the_failure_file(tmp_path: Path) -> None:
    bundle = build_cell_bundle(
        "x = 1\nraise ValueError('bad column ' + str(x))\n", {}, tmp_path / "b"
    )
    root = tmp_path / "ml"
    done = _run(bundle.path, root, {}, {})
    assert done.returncode == 1
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith("ValueError: bad column 1")
    assert 'jsml_cell.py", line 2' in failure and "jsml_runtime" not in failure


def test_unknown_channel_at_run_time_says_what_to_add(tmp_path: Path) -> None:
    bundle = build_cell_bundle("name = 'te' + 'st'\np = channel(name)\n", {}, tmp_path / "b")
    root = tmp_path / "ml"
    done = _run(bundle.path, root, {}, {})
    assert (
        "no data channel 'test' in this job (channels: none); add --data test=PATH"
        in (root / "output" / "failure").read_text()
    )
    assert done.returncode == 1


def test_python_version_mismatch_is_refused(tmp_path: Path) -> None:
    bundle = build_cell_bundle("y = x + 1\n", {"x": [1, 2]}, tmp_path / "b")  # x is pickled
    config = bundle.path / "code" / "jsml.json"
    data = json.loads(config.read_text())
    data["python"] = "2.7.18"
    config.write_text(json.dumps(data))
    done = _run(bundle.path, tmp_path / "ml", {}, {})
    assert done.returncode == 1
    assert "built with Python 2.7.18" in (tmp_path / "ml" / "output" / "failure").read_text()


def test_a_bundle_without_pickled_values_runs_on_another_python(tmp_path: Path) -> None:
    bundle = build_cell_bundle("model = {'w': 1}\n", {}, tmp_path / "b")
    config = bundle.path / "code" / "jsml.json"
    data = json.loads(config.read_text())
    assert not data.get("values_file")
    data["python"] = "3.9.18"
    config.write_text(json.dumps(data))
    done = _run(bundle.path, tmp_path / "ml", {}, {})
    assert done.returncode == 0, (tmp_path / "ml" / "output").glob("*")


def test_entry_point_gets_sagemaker_arguments_and_environment(
    tmp_path: Path, cancer_csv: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(
        "import argparse, os, json, joblib\n"
        "from sklearn.dummy import DummyClassifier\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('-C', type=float)\np.add_argument('--epochs', type=int)\n"
        "p.add_argument('--model-dir', default=os.environ['SM_MODEL_DIR'])\n"
        "p.add_argument('--train', default=os.environ['SM_CHANNEL_TRAIN'])\n"
        "a = p.parse_args()\n"
        "assert os.listdir(a.train) == ['train.csv'], os.listdir(a.train)\n"
        "assert os.environ['AIP_MODEL_DIR'] == a.model_dir + '/'\n"
        "joblib.dump(DummyClassifier(), os.path.join(a.model_dir, 'model.joblib'))\n"
        "print('args', a.C, a.epochs)\n"
    )
    bundle = build_entry_point_bundle("train.py", tmp_path / "b", source_dir=src)
    root = tmp_path / "ml"
    done = _run(
        bundle.path, root, {"train": cancer_csv}, {"C": 0.5, "epochs": 3}, env_from_config=True
    )
    assert done.returncode == 0, done.stderr
    assert "args 0.5 3" in done.stdout
    assert flavors.describe(root / "model")["flavor"] == "files"
    assert type(flavors.load(root / "model")).__name__ == "DummyClassifier"


def test_hyperparameter_args_match_sagemaker() -> None:
    # the training toolkit's mapping: sorted, "-C" for one letter, str() of the value
    assert hyperparameter_args({"C": 0.5, "name": "x", "flag": True, "layers": [1, 2]}) == [
        "-C",
        "0.5",
        "--flag",
        "True",
        "--layers",
        "[1, 2]",
        "--name",
        "x",
    ]
    assert hyperparameter_args({"flag": True, "d": {"a": 1}}, "json") == [
        "--flag",
        "true",
        "--d",
        '{"a": 1}',
    ]


def test_environment_from_config_rebuilds_the_contract(tmp_path: Path) -> None:
    contract.write_config(
        tmp_path, ["train"], {"C": 0.5, "name": "x"}, ["algo-1", "algo-2"], "algo-2"
    )
    (tmp_path / "input" / "data" / "train").mkdir(parents=True)
    (tmp_path / "input" / "data" / "train" / "a.csv").write_text("x")
    env = contract.environment_from_config(str(tmp_path))
    assert json.loads(env["SM_HPS"]) == {"C": 0.5, "name": "x"}
    assert env["SM_HP_C"] == "0.5"
    assert env["SM_CHANNEL_TRAIN"] == f"{tmp_path}/input/data/train"
    assert (
        json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"] and env["SM_CURRENT_HOST"] == "algo-2"
    )
    assert json.loads(env["JSML_CHANNEL_FILES"]) == {"train": "a.csv"}


def test_flavors_round_trip(tmp_path: Path) -> None:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    X, y = np.random.default_rng(0).random((50, 3)), np.arange(50) % 2
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    assert flavors.save(forest, tmp_path / "rf")["flavor"] == "sklearn"
    assert (flavors.load(tmp_path / "rf").predict(X) == forest.predict(X)).all()
    assert flavors.save({"weights": [1, 2]}, tmp_path / "pk")["flavor"] == "pickle"
    assert flavors.load(tmp_path / "pk") == {"weights": [1, 2]}


def test_lightgbm_booster_uses_its_native_format(tmp_path: Path) -> None:
    lgb = pytest.importorskip("lightgbm")
    import numpy as np

    X, y = np.random.default_rng(0).random((100, 3)), np.arange(100) % 2
    booster = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), num_boost_round=3
    )
    meta = flavors.save(booster, tmp_path / "lgb")
    assert meta["flavor"] == "lightgbm" and meta["files"] == ["model.txt"]
    assert np.allclose(flavors.load(tmp_path / "lgb").predict(X), booster.predict(X))
    sk = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    assert flavors.save(sk, tmp_path / "lgbsk")["flavor"] == "sklearn"


def test_xgboost_flavor_uses_its_native_format(tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    import numpy as np

    X, y = np.random.default_rng(0).random((50, 3)), np.arange(50) % 2
    model = xgb.XGBClassifier(n_estimators=2).fit(X, y)
    meta = flavors.save(model, tmp_path / "x")
    assert meta["flavor"] == "xgboost" and meta["files"] == ["model.json"]
    loaded = flavors.load(tmp_path / "x")
    assert type(loaded) is xgb.XGBClassifier and (loaded.predict(X) == model.predict(X)).all()


def test_pytorch_flavor_round_trips_a_module(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    meta = flavors.save(model, tmp_path / "t")
    assert meta["flavor"] == "pytorch" and meta["libraries"]["torch"] == torch.__version__
    loaded = flavors.load(tmp_path / "t")
    x = torch.ones(2, 3)
    assert torch.equal(loaded(x), model(x))
