"""The SageMaker training toolkit's and Vertex's contract, checked against the real toolkit.

Scripts in the style of the public samples (argparse hyperparameters, ``SM_*``
environment) run unchanged through the job runtime as a real subprocess; the
argument mapping and every variable are compared with ``sagemaker-training``
from PyPI, installed into a temporary uv environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_serverless_ml.packaging import build_entry_point_bundle
from jupyter_serverless_ml.platform.jobs.envs import uv_binary
from jupyter_serverless_ml.runtime import contract, toolkit

HPS: dict[str, Any] = {
    "integer": 1,
    "boolean": True,
    "float": 3.14,
    "string": "Hello World",
    "list": [1, 2, 3],
    "dict": {"string": "value", "integer": 3, "boolean": True},
    "x": 2,
    "learning-rate": 0.1,
    "sagemaker_program": "train.py",
    "sagemaker_container_log_level": 20,
    "sagemaker_distributed_dataparallel_enabled": False,
}


@pytest.fixture(scope="module")
def toolkit_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter with ``sagemaker-training`` from PyPI (skipped where it cannot install)."""
    venv = tmp_path_factory.mktemp("smt") / "venv"
    uv = uv_binary()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), "sagemaker-training"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.skip(f"sagemaker-training does not install here: {done.stderr[-300:]}")
    return python


def _toolkit(python: Path, base: Path, code: str) -> Any:
    done = subprocess.run(
        [str(python), "-c", code],
        env={"PATH": os.environ["PATH"], "SAGEMAKER_BASE_DIR": str(base), "HOME": str(base)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_argument_mapping_is_the_toolkits(toolkit_python: Path, tmp_path: Path) -> None:
    user, _, _ = toolkit.split_hyperparameters(HPS)
    theirs = _toolkit(
        toolkit_python,
        tmp_path,
        "import json, sys\nfrom sagemaker_training import mapping\n"
        f"print(json.dumps(mapping.to_cmd_args(json.loads({json.dumps(json.dumps(user))}))))",
    )
    ours = toolkit.to_cmd_args(user)
    assert ours == theirs
    assert ours[ours.index("--boolean") + 1] == "True" and "-x" in ours
    assert ours[ours.index("--dict") + 1] == "boolean=True,integer=3,string=value"


def test_every_variable_is_the_toolkits(toolkit_python: Path, tmp_path: Path) -> None:
    base = tmp_path / "opt" / "ml"
    contract.write_config(
        base, ["train", "test"], HPS, ["algo-1", "algo-2"], "algo-1", "ml.c4.xlarge"
    )
    (base / "input" / "data" / "train").mkdir(parents=True)
    theirs = _toolkit(
        toolkit_python,
        base,
        "import json\nfrom sagemaker_training import environment\n"
        "print(json.dumps(environment.Environment().to_env_vars()))",
    )
    ours = contract.job_environment(
        str(base),
        ["train", "test"],
        json.loads(contract.environment_from_config(str(base))["JSML_HYPERPARAMETERS"]),
        hosts=["algo-1", "algo-2"],
        num_cpus=os.cpu_count() or 1,
        instance_type="ml.c4.xlarge",
        entry_point="train.py",
    )
    machine = {"SM_NUM_CPUS", "SM_NUM_GPUS", "SM_MODULE_DIR"}  # the host's, and code's location
    assert sorted(set(theirs) - set(ours)) == []
    for key in sorted(set(theirs) - machine - {"SM_TRAINING_ENV"}):
        assert ours[key] == theirs[key], key
    env_ours, env_theirs = (
        json.loads(ours["SM_TRAINING_ENV"]),
        json.loads(theirs["SM_TRAINING_ENV"]),
    )
    for key in set(env_theirs) - {"num_cpus", "num_gpus", "module_dir", "distribution_hosts"}:
        assert env_ours[key] == env_theirs[key], key
    assert ours["SM_CURRENT_INSTANCE_TYPE"] == "ml.c4.xlarge"
    assert json.loads(ours["SM_FRAMEWORK_PARAMS"]) == {
        "sagemaker_distributed_dataparallel_enabled": False
    }


def _run_script(tmp_path: Path, script: str, hps: dict[str, Any], **config: Any) -> Path:
    """Run ``script`` as a script-mode entry point through the runtime; returns the ML root."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "train.py").write_text(script)
    bundle = build_entry_point_bundle(
        "train.py", tmp_path / "bundles", source_dir=src, job_config=config
    )
    root = tmp_path / "ml"
    for sub in ("model", "output", "input/data/train"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "input" / "data" / "train" / "data.csv").write_text("a,b\n1,2\n")
    contract.write_config(root, ["train"], hps, ["algo-1"], "algo-1")
    code = bundle.path / "code"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(code), "JSML_ML_ROOT": str(root)}
    env["JSML_CODE_DIR"] = str(code)
    done = subprocess.run(
        [sys.executable, "-m", "jsml_runtime.runner"],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root


TOOLKIT_SCRIPT = """
import argparse, json, os

parser = argparse.ArgumentParser()
parser.add_argument("--integer", type=int, required=True)
parser.add_argument("--float", type=float, required=True)
parser.add_argument("--string", type=str, required=True)
parser.add_argument("--boolean", type=lambda s: s == "True", required=True)
parser.add_argument("--list", type=json.loads, required=True)
parser.add_argument("--dict", type=lambda s: dict(i.split("=") for i in s.split(",")))
parser.add_argument("-x", type=int, required=True)
parser.add_argument("--learning-rate", type=float, required=True)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
args = parser.parse_args()
assert (args.integer, args.float, args.string) == (1, 3.14, "Hello World")
assert args.boolean is True and args.list == [1, 2, 3] and args.x == 2
assert args.dict == {"boolean": "True", "integer": "3", "string": "value"}
assert args.learning_rate == 0.1
assert os.listdir(args.train) == ["data.csv"]
env = os.environ
hps = json.loads(env["SM_HPS"])
assert hps["dict"]["integer"] == 3 and "sagemaker_program" not in hps, hps
assert json.loads(env["SM_USER_ARGS"])[:2] == ["--boolean", "True"]
assert env["SM_HP_STRING"] == "Hello World" and json.loads(env["SM_HP_BOOLEAN"]) is True
training_env = json.loads(env["SM_TRAINING_ENV"])
assert training_env["hyperparameters"] == hps
assert training_env["user_entry_point"] == env["SM_USER_ENTRY_POINT"] == "train.py"
assert env["SM_MODULE_NAME"] == "train" and env["SM_MODULE_DIR"].endswith("/code")
assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m4.xlarge"
resources = json.loads(env["SM_RESOURCE_CONFIG"])
assert resources["current_group_name"] == "homogeneousCluster"
assert resources["instance_groups"][0]["instance_type"] == "ml.m4.xlarge"
with open(os.path.join(env["SM_INPUT_CONFIG_DIR"], "resourceconfig.json")) as fh:
    on_disk = json.load(fh)
assert on_disk["current_instance_type"] == "ml.m4.xlarge", on_disk
assert on_disk["network_interface_name"] == env["SM_NETWORK_INTERFACE_NAME"] == "eth0"
assert env["SM_LOG_LEVEL"] == "20"
assert env["SM_OUTPUT_INTERMEDIATE_DIR"] == env["SM_OUTPUT_DIR"] + "/intermediate"
assert env["SM_INPUT_DIR"] + "/config" == env["SM_INPUT_CONFIG_DIR"]
assert json.loads(env["SM_CHANNELS"]) == ["train"]
assert json.loads(env["SM_INPUT_DATA_CONFIG"])["train"]["TrainingInputMode"] == "File"
assert json.loads(env["SM_FRAMEWORK_PARAMS"]) == {}
assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"
assert env["AIP_MODEL_DIR"] == env["SM_MODEL_DIR"] + "/"
assert env["AIP_CHECKPOINT_DIR"].endswith("/") and env["AIP_TENSORBOARD_LOG_DIR"].endswith("/")
assert env["CLOUD_ML_PROJECT_ID"] and env["AIP_TRAINING_DATA_URI"] == args.train
spec = json.loads(env["CLUSTER_SPEC"])
assert spec["task"] == {"type": "workerpool0", "index": 0}
assert json.loads(env["TF_CONFIG"])["task"] == {"type": "chief", "index": 0}
print("contract ok")
"""


def test_a_toolkit_style_script_gets_every_argument_and_variable(tmp_path: Path) -> None:
    hps = {k: v for k, v in HPS.items() if k != "sagemaker_distributed_dataparallel_enabled"}
    _run_script(tmp_path, TOOLKIT_SCRIPT, hps, instance_type="ml.m4.xlarge")


SDK_CONTRACT = """
import argparse, json, os

EXPECTED = {"integer": 1, "boolean": True, "float": 3.14, "string": "Hello World",
            "list": [1, 2, 3], "dict": {"string": "value", "integer": 3, "boolean": True}}
p = argparse.ArgumentParser()
p.add_argument("--string", type=str, required=True)
p.add_argument("--integer", type=int, required=True)
p.add_argument("--float", type=float, required=True)
for name in ("boolean", "list", "dict"):
    p.add_argument("--" + name, type=json.loads, required=True)
args = vars(p.parse_args())
for key, value in EXPECTED.items():
    assert args[key] == value and type(args[key]) is type(value), key
    assert json.loads(os.environ["SM_HPS"])[key] == value, key
    assert json.loads(os.environ["SM_TRAINING_ENV"])["hyperparameters"][key] == value, key
    raw = os.environ["SM_HP_" + key.upper()]
    assert (raw if key == "string" else json.loads(raw)) == value, key
"""


def test_the_sdk_contract_script_passes_with_json_arguments(tmp_path: Path) -> None:
    hps = {k: HPS[k] for k in ("integer", "boolean", "float", "string", "list", "dict")}
    _run_script(tmp_path, SDK_CONTRACT, hps, hp_args="json")


def test_metric_definitions_turn_log_lines_into_metrics(tmp_path: Path) -> None:
    script = (
        "import subprocess, sys\n"
        "print('[0]#011train-rmse:0.52#011validation-auc:0.81')\n"
        "print('[1]\\ttrain-rmse:0.41\\tvalidation-auc:0.93', flush=True)\n"
        "print('epoch 3 loss: 0.25', file=sys.stderr)\n"
        "subprocess.run([sys.executable, '-c', 'print(\"epoch 4 loss: 0.125\")'], check=True)\n"
        "print('loss: not-a-number')\n"
    )
    definitions = [{"Name": "xgboost"}, {"Name": "loss", "Regex": r"loss: ([0-9.]+)"}]
    root = _run_script(tmp_path, script, {}, metric_definitions=definitions)
    lines = (root / "output" / "metrics.jsonl").read_text().splitlines()
    got = sorted((m["name"], m["value"], m["step"]) for m in map(json.loads, lines))
    assert got == [
        ("loss", 0.125, None),
        ("loss", 0.25, None),
        ("train:rmse", 0.41, 1),
        ("train:rmse", 0.52, 0),
        ("validation:auc", 0.81, 0),
        ("validation:auc", 0.93, 1),
    ]


def test_several_replicas_get_a_cluster_spec_and_tf_config() -> None:
    env = {}
    for host in ["algo-1", "algo-2", "algo-3"]:
        env[host] = toolkit.vertex_environment(
            "/opt/ml", {}, hosts=["algo-1", "algo-2", "algo-3"], current_host=host, job_name="j"
        )
        assert env[host]["AIP_MODEL_DIR"] == "/opt/ml/model/"
    spec = json.loads(env["algo-3"]["CLUSTER_SPEC"])
    assert spec["cluster"]["workerpool0"] == ["127.0.0.1:2222"]
    assert spec["cluster"]["workerpool1"] == ["127.0.0.1:2223", "127.0.0.1:2224"]
    assert spec["task"] == {"type": "workerpool1", "index": 1}
    tf = json.loads(env["algo-2"]["TF_CONFIG"])
    assert tf["cluster"] == {
        "chief": ["127.0.0.1:2222"],
        "worker": ["127.0.0.1:2223", "127.0.0.1:2224"],
    }
    assert tf["task"] == {"type": "worker", "index": 0}


def test_on_vertex_the_variables_vertex_set_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_serverless_ml.runtime import contract

    monkeypatch.setattr(os, "environ", dict(os.environ))  # what the call sets stays here
    root = tmp_path / "ml"
    contract.write_config(root, ["train"], {"epochs": 3}, ["algo-1"], "algo-1")
    for key, value in contract.job_environment(str(root), ["train"], {"epochs": 3}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLOUD_ML_PROJECT_ID", "my-project")
    monkeypatch.setenv("AIP_MODEL_DIR", "gs://bucket/job/model/")
    monkeypatch.setenv("CLUSTER_SPEC", '{"cluster": {"workerpool0": ["host:2222"]}}')
    contract.complete_environment({})
    assert os.environ["AIP_MODEL_DIR"] == "gs://bucket/job/model/"
    assert os.environ["CLOUD_ML_PROJECT_ID"] == "my-project"
    assert "host:2222" in os.environ["CLUSTER_SPEC"]
    assert os.environ["SM_HP_EPOCHS"] == "3"  # the toolkit's variables are still completed
