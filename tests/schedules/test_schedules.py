"""Scheduled notebooks on the local platform: a one-second schedule runs the notebook with
papermill, a failing notebook makes a Failed run and an alert, runs missed while the platform
was down run once at start or are skipped; the magics, the CLI and the sidebar routes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from notebook_runs import outputs

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import schedules
from jupyter_serverless_ml.errors import JsmlError, UsageError
from jupyter_serverless_ml.frontends import cli
from jupyter_serverless_ml.platform import client
from jupyter_serverless_ml.platform.jobs import sandbox
from jupyter_serverless_ml.platform.schedules import cron
from jupyter_serverless_ml.platform.store import Store

needs_sandbox = pytest.mark.skipif(
    not sandbox.probe().available, reason=f"sandbox-only: {sandbox.probe().reason}"
)


def wait_for(predicate: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.3)


def finished(name: str, count: int = 1) -> Callable[[], Any]:
    def check() -> Any:
        runs = [r for r in schedules.schedule_runs(name) if r.status != "Running"]
        return runs if len(runs) >= count else None

    return check


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    directory = tmp_path / "lab"
    directory.mkdir()
    return directory


def test_a_one_second_schedule_runs_the_notebook(
    home: Path, workdir: Path, make_notebook: Callable[..., Path]
) -> None:
    notebook = make_notebook(workdir / "count.ipynb")
    made = schedules.schedule(notebook, every="1s", parameters={"value": 7}, name="count")
    assert made.record.interval == 1.0 and made.record.next_run_at <= time.time() + 1.5
    try:
        run = wait_for(finished("count"))[-1]  # the oldest finished run
    finally:
        schedules.pause_schedule("count")
    assert run.status == "Completed", run.record.failure_reason
    assert run.record.trigger == "schedule" and run.record.parameters == {"value": 7}
    assert 0 < run.duration < 90
    assert (workdir / "runs.txt").read_text().splitlines()[0] == "7"
    executed = json.loads(Path(run.record.output_uri[len("file://") :]).read_text())
    injected = [
        c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert "value = 7" in "".join(injected[0]["source"])
    assert "wrote 7" in json.dumps(executed["cells"][-1]["outputs"])
    assert run.link == f"/lab/tree/scheduled-runs/count/{run.id}.ipynb"
    assert (workdir / "scheduled-runs" / "count" / f"{run.id}.ipynb").is_file()
    assert str(home) in run.record.output_uri  # the artifact is kept under the platform home


def test_a_failing_notebook_makes_a_failed_run_and_an_alert(
    home: Path, workdir: Path, make_notebook: Callable[..., Path]
) -> None:
    notebook = make_notebook(workdir / "broken.ipynb")
    schedules.schedule(notebook, every="1s", parameters={"fail": True, "value": 3}, name="broken")
    try:
        run = wait_for(finished("broken"))[-1]
    finally:
        schedules.delete_schedule("broken")
    assert run.status == "Failed"
    assert run.record.failure_reason == "AssertionError: asked to fail with value=3"
    alerts = [a for a in jsml.alerts() if a.endpoint == "schedule:broken"]
    assert alerts and run.id in alerts[0].message and "asked to fail" in alerts[0].message
    with pytest.raises(JsmlError, match="failed: AssertionError"):
        run.wait(timeout=5)


def test_missed_runs_catch_up_once_or_are_skipped(
    private_home: Callable[..., Path], tmp_path: Path, make_notebook: Callable[..., Path]
) -> None:
    home = private_home("catch")
    workdir = tmp_path / "catch-lab"
    workdir.mkdir()
    notebook = make_notebook(workdir / "nightly.ipynb")
    schedules.schedule(notebook, cron="0 3 * * *", name="catchup", parameters={"value": 1})
    schedules.schedule(notebook, cron="0 3 * * *", name="skipper", catch_up=False)
    assert client.stop(home, timeout=10)
    store = Store(home / "platform.db")
    three_nights_ago = cron.next_after(time.time() - 3 * 86400, "0 3 * * *", None)
    for name in ("catchup", "skipper"):  # as if the platform had been down for three nights
        store.update_schedule(name, next_run_at=three_nights_ago)
    store.close()
    client.ensure_running(home)
    caught = wait_for(finished("catchup"))
    assert [r.record.trigger for r in caught] == ["catch-up"] and caught[0].status == "Completed"
    skipped = schedules.schedule_runs("skipper")
    assert [r.status for r in skipped] == ["Skipped"]
    assert "3 run(s) missed while the platform was down" in skipped[0].record.failure_reason
    assert (workdir / "runs.txt").read_text() == "1\n"  # ran once, not three times
    for name in ("catchup", "skipper"):
        assert schedules.get_schedule(name).record.next_run_at > time.time()


def test_bad_schedules_are_refused(
    home: Path, workdir: Path, make_notebook: Callable[..., Path]
) -> None:
    notebook = make_notebook(workdir / "ok.ipynb")
    with pytest.raises(UsageError, match="no such notebook"):
        schedules.schedule(workdir / "missing.ipynb", every="1h")
    with pytest.raises(UsageError, match="exactly one of"):
        schedules.schedule(notebook)
    with pytest.raises(UsageError, match="is not valid"):
        schedules.schedule(notebook, cron="at dawn")
    with pytest.raises(UsageError, match="unknown"):
        schedules.schedule(notebook, cron="0 3 * * *", timezone="Nowhere/Land")
    schedules.schedule(notebook, every="1h", name="twice")
    with pytest.raises(JsmlError, match="a schedule 'twice' exists"):
        schedules.schedule(notebook, every="1h", name="twice")
    assert (
        schedules.schedule(notebook, every="2h", name="twice", replace=True).record.interval == 7200
    )
    schedules.delete_schedule("twice")
    with pytest.raises(JsmlError, match="no schedule 'twice'"):
        schedules.schedule_runs("twice")


def test_magics_and_cli(
    home: Path, workdir: Path, ipython: Any, capsys: Any, make_notebook: Callable[..., Path]
) -> None:
    notebook = make_notebook(workdir / "report.ipynb")
    made = ipython.run_line_magic(
        "schedule", f'{notebook} --cron "0 3 * * *" --tz Europe/Paris -p value 5 --name report'
    )
    assert made.record.cron == "0 3 * * *" and made.record.timezone == "Europe/Paris"
    assert made.record.parameters == {"value": 5}
    run = ipython.run_line_magic("schedule_run", "report -p value 6 --wait")
    assert run.status == "Completed" and run.record.parameters == {"value": 6}
    overview = ipython.run_line_magic("schedules", "report")
    text = repr(overview)
    assert "cron 0 3 * * * (Europe/Paris)" in text and run.id in text and "Completed" in text
    assert f"href='/lab/tree/scheduled-runs/report/{run.id}.ipynb'" in overview._repr_html_()
    with pytest.raises(UsageError, match="%schedule"):
        ipython.run_line_magic("schedule", f"{notebook} --bogus")
    assert cli.main(["schedules", "report", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["schedules"][0]["name"] == "report" and listed["runs"][0]["id"] == run.id
    assert (
        cli.main(["schedule", str(notebook), "--every", "1h", "--name", "cli", "-p", "value", "2"])
        == 0
    )
    made_cli = capsys.readouterr().out
    assert "Schedule cli" in made_cli and "every 1h," in made_cli  # as --every takes it
    assert cli.main(["schedule-pause", "cli"]) == 0 and "[paused]" in capsys.readouterr().out
    assert cli.main(["unschedule", "cli"]) == 0
    assert cli.main(["schedule", str(notebook), "--cron", "bad"]) == 2
    assert "is not valid" in capsys.readouterr().err
    gone = repr(ipython.run_line_magic("unschedule", "report"))
    assert gone.startswith("Schedule report deleted") and "next run" not in gone


@needs_sandbox
def test_a_notebook_cannot_forge_its_runs_result(
    home: Path, workdir: Path, make_notebook: Callable[..., Path]
) -> None:
    forger = (
        "import json, os, pathlib\n"
        "run = pathlib.Path(os.environ['JSML_HOME'], 'schedules', os.environ['JSML_SCHEDULE'],\n"
        "                   os.environ['JSML_SCHEDULE_RUN'], 'state')\n"
        "try:\n"
        "    (run / 'result.json').write_text(json.dumps({'status': 'Completed'}))\n"
        "    print('forged')\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
        "raise RuntimeError('the real outcome')\n"
    )
    notebook = make_notebook(workdir / "forger.ipynb", forger)
    schedules.schedule(notebook, every="1h", name="forger")
    run = schedules.run_schedule("forger")
    with pytest.raises(JsmlError, match="RuntimeError: the real outcome"):
        run.wait(timeout=90)
    printed = outputs(Path(run.record.output_uri[len("file://") :]))
    assert "refused 30" in printed and "forged" not in printed  # 30: EROFS
    schedules.delete_schedule("forger")


def test_a_notebook_without_an_installed_kernel_is_refused_when_scheduled(
    home: Path, workdir: Path, make_notebook: Callable[..., Path]
) -> None:
    import nbformat

    bare = make_notebook(workdir / "bare.ipynb")
    nb = nbformat.read(bare, as_version=4)
    del nb.metadata["kernelspec"]  # as a notebook written by a tool, not saved from Lab
    nbformat.write(nb, bare)
    with pytest.raises(UsageError, match=r"names no kernel .* pass --kernel python3"):
        schedules.schedule(bare, every="1h", name="bare")
    with pytest.raises(UsageError, match=r"kernel 'pyhton3' \(--kernel\) is not installed"):
        schedules.schedule(bare, every="1h", name="bare", kernel="pyhton3")
    assert [s.name for s in schedules.schedules() if s.name == "bare"] == []  # nothing made
    made = schedules.schedule(bare, every="1h", name="bare", kernel="python3")
    try:
        assert made.name == "bare"
        assert schedules.run_schedule("bare", wait=True, timeout=120).status == "Completed"
    finally:
        schedules.delete_schedule("bare")


def test_papermills_own_error_is_the_failure_reason(
    home: Path, workdir: Path, make_notebook: Callable[..., Path]
) -> None:
    notebook = make_notebook(workdir / "later.ipynb")
    schedules.schedule(notebook, every="1h", name="later")
    try:
        with pytest.raises(JsmlError, match="a schedule 'later' exists; delete it first "
                           r"\(%unschedule later, or jsml unschedule later\)"):  # fmt: skip
            schedules.schedule(notebook, every="1h", name="later")
        nb = json.loads(notebook.read_text())
        del nb["metadata"]["kernelspec"]  # the notebook changed after it was scheduled
        notebook.write_text(json.dumps(nb))
        run = schedules.run_schedule("later")
        with pytest.raises(JsmlError, match="ValueError: No kernel name found in notebook"):
            run.wait(timeout=120)
    finally:
        schedules.delete_schedule("later")


def test_a_second_run_while_one_runs_names_the_active_one(
    home: Path, workdir: Path, make_notebook: Callable[..., Path]
) -> None:
    notebook = make_notebook(workdir / "slow.ipynb", body="import time\ntime.sleep(3)\n")
    schedules.schedule(notebook, every="1h", name="slow")
    try:
        first = schedules.run_schedule("slow")
        with pytest.raises(JsmlError, match=rf"in progress \({first.id}\); run it again once"):
            schedules.run_schedule("slow")
        assert first.wait(timeout=120).status == "Completed"
        assert schedules.run_schedule("slow", wait=True, timeout=120).status == "Completed"
    finally:
        schedules.delete_schedule("slow")
