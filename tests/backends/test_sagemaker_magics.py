"""The notebook's magics with ``--backend sagemaker``, against moto and the emulator:
train, jobs, logs, deploy, predict, a canary with traffic and rollback, batch, undeploy,
and ``jsml cleanup --backend sagemaker``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backends.env_sagemaker import sagemaker_environment
from cli_runner import jsml_cli

from jupyter_serverless_ml import backends


@pytest.fixture()
def sagemaker_shell(ipython: Any, home: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    with sagemaker_environment(home) as settings:
        try:
            yield ipython, settings
        finally:
            backends.use_backend(None)
            backends.reset()


def test_the_quickstart_through_the_magics(
    sagemaker_shell: tuple[Any, dict[str, Any]], cancer_csv: Path, tmp_path: Path, capsys: Any
) -> None:
    shell, settings = sagemaker_shell
    line = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in settings.items())
    shell.run_line_magic("backend", f"sagemaker {line}")
    shell.user_ns["FEATURES"] = ["mean radius", "mean texture"]
    cell = (
        "import pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "df = pd.read_csv(channel('train'))\n"
        "model = LogisticRegression(C=hp.C, max_iter=500).fit(df[FEATURES], df.target)\n"
        "log_metric('accuracy', model.score(df[FEATURES], df.target))\n"
    )
    job = shell.run_cell_magic(
        "train", f"--name cancer --data train={cancer_csv} --hp C=0.5 --quiet", cell
    )
    assert job.status == "Completed" and job.record.backend == "sagemaker"
    assert job.metrics["accuracy"] > 0.5
    assert [j.id for j in shell.run_line_magic("jobs", "--name cancer")] == [job.id]
    assert shell.run_line_magic("job", "cancer").id == job.id
    out = capsys.readouterr().out
    assert "cost estimate" in out and "uploading data channel train" in out

    ep = shell.run_line_magic("deploy", "cancer --max-replicas 2")
    frame = __import__("pandas").read_csv(cancer_csv)[["mean radius", "mean texture"]].head(3)
    assert set(ep.predict(frame).tolist()) <= {0, 1}

    second = shell.run_cell_magic(
        "train", f"--name cancer --data train={cancer_csv} --hp C=2.0 --quiet", cell
    )
    assert second.record.model_version == 2
    canary = shell.run_line_magic("deploy", "cancer:2 --endpoint cancer --traffic 10")
    assert canary.traffic == {"v1": 90.0, "v2": 10.0}
    assert shell.run_line_magic("traffic", "cancer v2=100").traffic == {"v1": 0.0, "v2": 100.0}
    assert shell.run_line_magic("rollback", "cancer").traffic == {"v1": 90.0, "v2": 10.0}

    scores = tmp_path / "scores"
    batch = shell.run_line_magic(
        "batch_predict", f"cancer {cancer_csv} --output {scores} --format csv"
    )
    assert batch.status == "Completed"  # the magic waits
    assert batch.manifest["rows_out"] == len(__import__("pandas").read_csv(cancer_csv))
    assert (scores / "part-00000.csv").exists()

    shell.run_line_magic("undeploy", "cancer")
    assert not list(shell.run_line_magic("endpoints", ""))

    env = {
        **{f"JSML_SAGEMAKER_{k.upper()}": str(v) for k, v in settings.items()},
        "JSML_SAGEMAKER_QUIET": "true",
    }
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        listed = jsml_cli(
            Path(os.environ["JSML_HOME"]), "cleanup", "--backend", "sagemaker", "--dry-run"
        )
        assert listed.returncode == 0, listed.stderr
        assert "model package group cancer" in listed.stdout
        done = jsml_cli(Path(os.environ["JSML_HOME"]), "cleanup", "--backend", "sagemaker")
        assert done.returncode == 0, done.stderr
        after = jsml_cli(
            Path(os.environ["JSML_HOME"]), "cleanup", "--backend", "sagemaker", "--dry-run"
        )
        assert "model package group" not in after.stdout
    finally:
        os.environ.clear()
        os.environ.update(saved)
