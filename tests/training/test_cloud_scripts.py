"""SageMaker/Vertex script-mode scripts run unchanged through ``jsml.train(entry_point=...)``:
instance types, metric definitions, cloud channels, framework containers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import fsspec
import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.frontends.train_options import TRAIN_OPTIONS

SCRIPT = """
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("--num_round", type=int, default=2)
p.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
p.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
a = p.parse_args()
rows = sum(1 for _ in open(os.path.join(a.train, os.listdir(a.train)[0])))
for i in range(a.num_round):
    print(f"[{i}]#011train-rmse:{1 / (i + 1):.4f}#011validation-auc:{0.8 + i / 100:.2f}")
print(f"rows: {rows}", file=sys.stderr)
with open(os.path.join(a.model_dir, "facts.json"), "w") as fh:
    json.dump({k: os.environ[k] for k in ("SM_CURRENT_INSTANCE_TYPE", "SM_NUM_CPUS",
               "SM_RESOURCE_CONFIG", "AIP_MODEL_DIR")}, fh)
"""


@pytest.fixture()
def src(tmp_path: Path) -> Path:
    directory = tmp_path / "src"
    directory.mkdir()
    (directory / "train.py").write_text(SCRIPT)
    return directory


def _facts(job: jsml.Job) -> dict[str, str]:
    model_dir = Path(job.record["job_dir"]) / "ml" / "model"
    return dict(json.loads((model_dir / "facts.json").read_text()))


def test_previous_generation_types_and_metric_definitions(
    home: Path, src: Path, cancer_csv: Path
) -> None:
    job = jsml.train(
        entry_point="train.py",
        source_dir=src,
        data={"train": cancer_csv},
        hp={"num_round": 3},
        instance_type="ml.c4.xlarge",
        metric_definitions=["xgboost", r"rows=rows: (\d+)"],
        name="c4",
    )
    facts = _facts(job)
    assert facts["SM_CURRENT_INSTANCE_TYPE"] == "ml.c4.xlarge"
    assert json.loads(facts["SM_RESOURCE_CONFIG"])["current_instance_type"] == "ml.c4.xlarge"
    assert facts["AIP_MODEL_DIR"].endswith("/model/")
    assert job.metrics["rows"] == 570.0  # header + 569 rows
    assert job.metrics["validation:auc"] == pytest.approx(0.82)
    assert job.metrics["train:rmse"] == pytest.approx(1 / 3, abs=1e-3)
    with pytest.raises(UsageError, match="no capture group"):
        jsml.train(entry_point="train.py", source_dir=src, metric_definitions=["x=loss"])
    with pytest.raises(UsageError, match="NAME=REGEX"):
        jsml.train(entry_point="train.py", source_dir=src, metric_definitions=["loss"])
    with pytest.raises(UsageError, match=r"ml\.m4\.xlarge"):
        jsml.train(entry_point="train.py", source_dir=src, instance_type="ml.m4.xlargee")
    assert any("--metric-definition" in flags for flags, _ in TRAIN_OPTIONS)


def test_a_cloud_uri_channel_is_downloaded_before_the_job(
    home: Path, src: Path, cancer_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSML_CHANNEL_CACHE", str(tmp_path / "cache"))
    memory = fsspec.filesystem("memory")
    memory.pipe("/bucket/data/train.csv", cancer_csv.read_bytes())
    lines: list[str] = []
    from jupyter_serverless_ml.training import channels

    local = channels.download_channels({"train": "memory://bucket/data/"}, log=lines.append)
    assert (Path(local["train"]) / "train.csv").read_bytes() == cancer_csv.read_bytes()
    assert any("1/1 files" in line for line in lines)
    again: list[str] = []
    assert channels.download_channels({"train": "memory://bucket/data/"}, log=again.append) == local
    assert "cached copy" in again[0]
    job = jsml.train(
        entry_point="train.py",
        source_dir=src,
        data={"train": "memory://bucket/data/"},
        metric_definitions={"rows": r"rows: (\d+)"},
        name="mem",
    )
    assert job.metrics["rows"] == 570.0


def test_no_credentials_refuses_a_cloud_channel_at_once(
    home: Path, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("botocore")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    before = len(jsml.jobs(limit=1000))
    started = time.monotonic()
    with pytest.raises(UsageError, match="aws configure"):
        jsml.train(entry_point="train.py", source_dir=src, data={"train": "s3://b/k/"})
    assert time.monotonic() - started < 30  # refused, not retried: generous for a slow machine
    assert len(jsml.jobs(limit=1000)) == before


def test_an_unknown_framework_version_lists_the_known_ones(home: Path, src: Path) -> None:
    with pytest.raises(UsageError, match=r"sklearn==1\.2-1"):
        jsml.train(entry_point="train.py", source_dir=src, framework="sklearn==0.1-1")


def test_a_framework_version_runs_with_that_containers_libraries(
    home: Path, tmp_path: Path
) -> None:
    source = tmp_path / "fw"
    source.mkdir()
    (source / "train.py").write_text(
        "import os, json, sklearn, numpy\n"
        "from sagemaker_training import environment  # the container's toolkit, from PyPI\n"
        "print('versions:', sklearn.__version__, numpy.__version__)\n"
        "with open(os.path.join(os.environ['SM_MODEL_DIR'], 'v.json'), 'w') as fh:\n"
        "    json.dump({'sklearn': sklearn.__version__, 'numpy': numpy.__version__}, fh)\n"
    )
    job = jsml.train(
        entry_point="train.py", source_dir=source, framework="sklearn==1.2-1", name="fw"
    )
    assert "scikit-learn==1.2.1" in job.bundle.requirements
    assert "sagemaker-training" in job.bundle.requirements
    versions = json.loads((Path(job.record["job_dir"]) / "ml" / "model" / "v.json").read_text())
    assert versions == {"sklearn": "1.2.1", "numpy": "1.24.4"}
