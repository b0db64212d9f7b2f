"""``%%pipeline``, ``%pipeline_runs``, the ``jsml`` pipeline commands and the sidebar's
pipeline routes, against the real platform (one home for the module)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient
from cli_runner import jsml_cli

from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.pipelines import PipelineRun, PipelineRunList

CELL = """
def make_numbers(n):
    return list(range(n))

def total(numbers, scale):
    value = sum(numbers) * scale
    log_metric("total", value)
    return value
"""

PIPELINE = """
nums = function(make_numbers, params={"n": 5})
s = function(total, inputs={"numbers": nums}, params={"scale": 2})
"""


@pytest.fixture
def jp_server_config(platform_home: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_serverless_ml": True}}}


def test_pipeline_magic_runs_and_lists(ipython: Any, home: Path, tmp_path: Path) -> None:
    ipython.run_cell(CELL)
    out = tmp_path / "out"
    run = ipython.run_cell_magic("pipeline", f"numbers --output {out}", PIPELINE)
    assert isinstance(run, PipelineRun) and run.status == "Succeeded"
    assert run.output("total") == 20 and run.step("total").metrics == {"total": 20.0}
    assert "total" in repr(run) and "Succeeded" in run._repr_html_()
    again = ipython.run_cell_magic("pipeline", f"numbers --output {out}", PIPELINE)
    assert again.record.cache_hits == 2
    runs = ipython.run_line_magic("pipeline_runs", "numbers")
    assert isinstance(runs, PipelineRunList) and [r.id for r in runs] == [again.id, run.id]
    one = ipython.run_line_magic("pipeline_runs", f"--run {run.id}")
    assert one.id == run.id
    log = ipython.run_line_magic("pipeline_runs", f"--run {run.id} --logs total")
    assert "started job numbers-total" in repr(log)
    with pytest.raises(UsageError, match="%%pipeline"):
        ipython.run_cell_magic("pipeline", "--bogus", PIPELINE)
    with pytest.raises(UsageError, match="has no parameter"):
        ipython.run_cell_magic(
            "pipeline", f"bad --output {out}", 'function(make_numbers, params={"m": 1})'
        )


def test_cli_lists_reruns_and_shows_logs(home: Path, ipython: Any, tmp_path: Path) -> None:
    ipython.run_cell(CELL)
    first = ipython.run_cell_magic("pipeline", f"clinums --output {tmp_path}", PIPELINE)
    listed = jsml_cli(home, "pipelines", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert "clinums" in names
    rerun = jsml_cli(home, "pipeline", "run", "clinums", "--json")
    assert rerun.returncode == 0, rerun.stderr
    record = json.loads(rerun.stdout)
    assert record["status"] == "Succeeded" and record["cache_hits"] == 2
    uncached = jsml_cli(home, "pipeline", "run", "clinums", "--no-cache", "--json")
    assert json.loads(uncached.stdout)["cache_hits"] == 0
    table = jsml_cli(home, "pipeline-runs", "clinums")
    assert first.id in table.stdout and table.stdout.count("clinums-") >= 3
    logs = jsml_cli(home, "pipeline-runs", "--run", first.id, "--logs", "total")
    assert "started job clinums-total" in logs.stdout
    typo = jsml_cli(home, "pipeline-runs", "--run", first.id, "--logs", "totl")
    assert typo.returncode != 0 and "has no step 'totl'; its steps: " in typo.stderr
    assert "total" in typo.stderr.split("its steps: ")[1]
    missing = jsml_cli(home, "pipeline", "run", "no-such-pipeline")
    assert missing.returncode == 2 and "no pipeline 'no-such-pipeline'" in missing.stderr


async def test_sidebar_routes(jp_fetch: Any, platform_home: Path, tmp_path: Path) -> None:
    from jupyter_serverless_ml.pipelines import Pipeline

    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile("def one():\n    return 1\n", "<cell>", "exec"), ns)
    p = Pipeline("sidebar", output=tmp_path)
    p.function(ns["one"])
    run = p.run(wait=False)

    listed = json.loads((await jp_fetch("serverless-ml", "api", "pipelines")).body)
    mine = next(x for x in listed["pipelines"] if x["name"] == "sidebar")
    assert mine["backend"] == "local" and mine["steps"][0]["kind"] == "function"
    runs = json.loads((await jp_fetch("serverless-ml", "api", "pipelines", "sidebar", "runs")).body)
    assert runs["runs"][0]["id"] == run.id
    one = json.loads((await jp_fetch("serverless-ml", "api", "pipeline-runs", run.id)).body)
    assert one["id"] == run.id and one["steps"][0]["name"] == "one"
    assert {"status", "cache_hit", "outputs", "metadata", "upstream"} <= set(one["steps"][0])
    with pytest.raises(tornado.httpclient.HTTPClientError) as caught:
        await jp_fetch("serverless-ml", "api", "pipeline-runs", "no-such-run")
    assert caught.value.code == 404
    run.wait(timeout=60)
