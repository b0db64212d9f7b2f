"""%%tune, %tune, %studies, jsml tune / jsml studies and the sidebar's studies routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_runner import jsml_cli

from jupyter_serverless_ml import tuning
from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.statuses import StudyStatus, TrialStatus

CELL = "log_metric('score', -(hp.x - OFFSET) ** 2)\nmodel = hp.x\n"


def test_tune_cell_magic_runs_a_study_and_the_line_magics_show_it(
    ipython: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ipython.user_ns["OFFSET"] = 2  # a notebook value the cell uses: captured into the bundle
    study = ipython.run_cell_magic(
        "tune",
        "--name magic --param x=int(0,4) --objective score --strategy grid --parallel 2 --as s",
        CELL,
    )
    assert isinstance(study, tuning.Study) and ipython.user_ns["s"] is study
    assert study.status == StudyStatus.COMPLETED and study.best_params == {"x": 2}
    printed = capsys.readouterr().out
    assert "magic trial 0" in printed and "study magic Completed: 5 completed of 5" in printed
    shown = ipython.run_line_magic("tune", "magic")
    assert [t.number for t in shown.trials] == list(range(5))
    html = shown._repr_html_()
    assert "<svg" in html and "best so far" in html and html.count("<tr>") == 6
    assert "best score=0 with x=2" in repr(shown)
    listed = ipython.run_line_magic("studies", "")
    assert "magic" in [s.name for s in listed] and "magic" in repr(listed)
    resumed = ipython.run_line_magic("tune", "--resume magic")
    assert resumed.status == StudyStatus.COMPLETED and len(resumed.trials) == 5


def test_tune_magic_refuses_what_it_cannot_do(ipython: Any) -> None:
    with pytest.raises(UsageError, match="needs --param, --objective"):
        ipython.run_cell_magic("tune", "--name half", CELL)
    with pytest.raises(UsageError, match="without a cell body"):
        ipython.run_cell_magic("tune", "--resume magic", CELL)
    with pytest.raises(UsageError, match="%tune NAME shows a study"):
        ipython.run_line_magic("tune", "")
    with pytest.raises(UsageError, match="did you mean --parallel"):
        ipython.run_cell_magic("tune", "--paralel 2", CELL)


def test_cli_tunes_a_file_and_lists_studies(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("log_metric('loss', (hp.x - 1) ** 2)\nmodel = hp.x\n")
    done = jsml_cli(
        home,
        "tune",
        str(script),
        "--name",
        "cli",
        "--param",
        "x=int(0,2)",
        "--objective",
        "loss",
        "--direction",
        "minimize",
        "--strategy",
        "grid",
    )
    assert done.returncode == 0, done.stderr
    assert "started study cli" in done.stdout and "best loss=0 with x=1" in done.stdout
    listed = jsml_cli(home, "studies", "--json")
    assert listed.returncode == 0
    assert any(s["name"] == "cli" for s in json.loads(listed.stdout))
    one = json.loads(jsml_cli(home, "studies", "cli", "--json").stdout)
    assert sorted(t["params"]["x"] for t in one["trials"]) == [0, 1, 2]
    assert one["best"]["params"] == {"x": 1} and one["model_version"] == 1
    missing = jsml_cli(home, "tune", str(script), "--name", "cli2")
    assert missing.returncode == 2 and "needs --param, --objective" in missing.stderr
    unknown = jsml_cli(home, "studies", "nope")
    assert unknown.returncode == 2 and "no study 'nope'" in unknown.stderr


@pytest.fixture
def jp_server_config(platform_home: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_serverless_ml": True}}}


async def test_sidebar_lists_studies_and_their_trials(jp_fetch: Any, home: Path) -> None:
    tuning.tune(
        "log_metric('acc', hp.x)\nmodel = hp.x\n",
        name="panel",
        params={"x": "int(1,3)"},
        objective="acc",
        strategy="grid",
        namespace={},
    )
    listed = json.loads((await jp_fetch("serverless-ml", "api", "studies")).body)
    found = next(s for s in listed["studies"] if s["name"] == "panel")
    assert found["backend"] == "local" and found["status"] == "Completed"
    assert found["counts"]["Completed"] == 3 and found["best"]["params"] == {"x": 3}
    one = json.loads((await jp_fetch("serverless-ml", "api", "studies", "panel")).body)
    assert [t["number"] for t in one["trials"]] == [0, 1, 2]
    for trial in one["trials"]:
        assert trial["status"] == TrialStatus.COMPLETED
        assert set(trial) >= {"params", "value", "duration", "best_so_far", "job_id"}
    backends = json.loads((await jp_fetch("serverless-ml", "api", "backends")).body)
    assert "tuning" in backends["features"] and "Pruned" in backends["statuses"]["trial"]
