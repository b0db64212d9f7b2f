"""The magics in a real IPython shell, and in a real kernel that restarts."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from jupyter_serverless_ml.errors import JobFailed, JsmlError, UsageError
from jupyter_serverless_ml.registry import ModelList
from jupyter_serverless_ml.training import Job, JobList


def cell(shell: Any, source: str) -> Any:
    result = shell.run_cell(source)
    if result.error_before_exec:
        raise result.error_before_exec
    if result.error_in_exec:
        raise result.error_in_exec
    return result.result


def test_train_cell_captures_the_notebook(ipython: Any, cancer_csv: Path, capsys: Any) -> None:
    cell(
        ipython,
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        "FEATURES = ['mean radius', 'mean texture']\n"
        "def prep(df):\n    return clean(df)\n"
        "def clean(df):\n    return df.dropna()\n"
        "class Reporter:\n    def report(self, m, df):\n"
        "        log_metric('accuracy', m.score(df[FEATURES], df.target))\n",
    )
    job = cell(
        ipython,
        f"%%train --name cancer --data train={cancer_csv} --hp C=0.5 --as handle\n"
        "df = prep(pd.read_csv(channel('train')))\n"
        "model = LogisticRegression(C=hp.C, max_iter=500).fit(df[FEATURES], df.target)\n"
        "Reporter().report(model, df)\n",
    )
    assert isinstance(job, Job) and ipython.user_ns["handle"] is job
    assert job.status == "Completed" and job.metrics["accuracy"] > 0.8
    printed = capsys.readouterr().out
    assert re.search(r"cancer-\S+: Running", printed) and "[metric] accuracy=" in printed
    captured = {c["name"]: c["kind"] for c in job.bundle.captured}
    assert captured["prep"] == captured["clean"] == captured["Reporter"] == "source"
    assert captured["pd"] == "import" and captured["FEATURES"] == "value"
    assert job.model().C == 0.5


def test_no_wait_and_the_listing_magics(ipython: Any, capsys: Any) -> None:
    job = cell(ipython, "%%train --name quick --no-wait\nprint('hello from the job')\n")
    assert job.record["status"] in ("Pending", "Preparing", "Running", "Completed")
    job.wait(timeout=60)
    capsys.readouterr()
    listing = cell(ipython, "%jobs --name quick")
    assert isinstance(listing, JobList) and listing[0].id == job.id
    assert job.id in repr(listing) and "<table>" in listing._repr_html_()
    shown = cell(ipython, f"%job {job.id}")
    assert shown.id == job.id and "status           Completed" in repr(shown)
    cell(ipython, "%logs quick")
    assert "hello from the job" in capsys.readouterr().out
    models = cell(ipython, "%models")
    assert isinstance(models, ModelList)


def test_stop_magic(ipython: Any, capsys: Any) -> None:
    job = cell(ipython, "%%train --name sleepy --no-wait\nimport time\ntime.sleep(60)\n")
    cell(ipython, f"%stop {job.id}")
    assert f"stop requested: {job.id}" in capsys.readouterr().out
    job.wait(timeout=30, raise_on_failure=False)
    assert job.status == "Stopped"


@pytest.mark.parametrize(
    "source, message",
    [
        ("%%train --nmae x\npass\n", "unrecognized arguments: --nmae x; did you mean --name?"),
        ("%%train --hp C\npass\n", "--hp expects KEY=VALUE, got 'C'"),
        (
            "%%train --data train=/no/such.csv\npass\n",
            "data channel 'train': /no/such.csv does not exist",
        ),
        ("%%train --backend nimbus\npass\n", "unknown backend 'nimbus'"),
        ("%%train --name e\n\n", "the %%train cell is empty"),
        ("%%train --instance-count x\npass\n", "invalid int value"),
        (
            "%%train --name u\nx = UNDEFINED_THING\n",
            "'UNDEFINED_THING' (used by the cell) but the notebook does not define it",
        ),
        ("%job\n", "the following arguments are required: ref"),
    ],
)
def test_bad_arguments_are_one_clear_line(ipython: Any, source: str, message: str) -> None:
    before = len(cell(ipython, "%jobs --limit 1000"))
    with pytest.raises(UsageError) as err:
        cell(ipython, source)
    assert message in str(err.value)
    assert err.value._render_traceback_() == [f"{type(err.value).__name__}: {err.value}"]
    assert len(cell(ipython, "%jobs --limit 1000")) == before


def test_a_failed_job_raises_in_the_kernel(ipython: Any) -> None:
    with pytest.raises(JobFailed, match="ZeroDivisionError"):
        cell(ipython, "%%train --name zero --quiet\n1 / 0\n")


def test_usage_shows_every_option(ipython: Any) -> None:
    doc = ipython.find_cell_magic("train").__doc__
    for option in (
        "--name",
        "--data",
        "--hp",
        "--backend",
        "--instance-type",
        "--instance-count",
        "--requirements",
        "--env",
        "--network",
        "--memory",
        "--max-runtime",
        "--retries",
        "--no-wait",
        "--as",
        "--model-var",
        "--entry-point",
        "--source-dir",
    ):
        assert option in doc


def test_errors_render_without_a_traceback() -> None:
    assert JsmlError("x")._render_traceback_() == ["JsmlError: x"]


def test_kernel_restart_keeps_the_job(home: Path) -> None:
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=dict(os.environ, JSML_HOME=str(home)))
    kc = manager.client()
    kc.start_channels()

    def run(code: str) -> str:
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])

        kc.wait_for_ready(timeout=60)
        kc.execute_interactive(code, output_hook=hook, timeout=120)
        return "".join(out)

    try:
        printed = run(
            "%load_ext jupyter_serverless_ml\n"
            "job = get_ipython().run_cell_magic('train', '--name across-restart --no-wait',"
            " 'import time\\ntime.sleep(4)\\nmodel = 42\\n')\nprint(job.id)"
        )
        job_id = printed.strip().splitlines()[-1]
        assert job_id.startswith("across-restart-"), printed
        manager.restart_kernel(now=True)
        printed = run(
            "%load_ext jupyter_serverless_ml\nimport jupyter_serverless_ml as j\n"
            f"print([x.id for x in j.jobs()])\nprint(j.job('{job_id}').wait(timeout=60).status)"
        )
        assert job_id in printed and printed.strip().endswith("Completed"), printed
    finally:
        kc.stop_channels()
        manager.shutdown_kernel(now=True)
