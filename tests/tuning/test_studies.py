"""Tuning studies on the local platform: real daemon, real trial jobs (sandboxed), real Optuna.

The objective is synthetic with a known optimum, so what the study finds can be checked.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import tuning
from jupyter_serverless_ml.errors import Conflict, UsageError
from jupyter_serverless_ml.platform import state
from jupyter_serverless_ml.statuses import JobStatus, StudyStatus, TrialStatus

# known optimum: 1.0 at x = 0.7, lr = 0.01
SMOOTH = """
import math, time
time.sleep(0.3)
score = 1 - (hp.x - 0.7) ** 2 - ((math.log10(hp.lr) + 2) ** 2) / 4
log_metric("score", score)
model = {"x": hp.x, "lr": hp.lr}
"""


def _overlapping(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one time."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    most = now = 0
    for _, change in edges:
        now += change
        most = max(most, now)
    return most


@pytest.fixture(scope="module")
def tpe_study(platform_home: Path) -> tuning.Study:
    return tuning.tune(
        SMOOTH,
        name="smooth",
        params={"x": "uniform(0,1)", "lr": "loguniform(1e-4,1)"},
        objective="score",
        trials=24,
        parallel=2,
        seed=0,
        namespace={},
    )


def test_tpe_finds_the_known_optimum_within_its_budget(tpe_study: tuning.Study) -> None:
    trials = tpe_study.trials
    assert tpe_study.status == StudyStatus.COMPLETED
    assert len(trials) == 24 and sorted(t.number for t in trials) == list(range(24))
    assert all(t.status == TrialStatus.COMPLETED for t in trials)
    best = tpe_study.best_value
    assert best is not None and best >= 0.95  # the optimum is 1.0
    assert abs(tpe_study.best_params["x"] - 0.7) < 0.23
    assert abs(math.log10(tpe_study.best_params["lr"]) + 2) < 0.45
    assert best == max(t.value for t in trials if t.value is not None)
    # the best so far never gets worse and ends at the best
    running = [t.best_so_far for t in trials]
    assert None not in running
    assert running == sorted(float(r or 0) for r in running) and running[-1] == best


def test_parallel_trials_really_overlap_in_time(tpe_study: tuning.Study) -> None:
    jobs = [jsml.job(t.job_id) for t in tpe_study.trials if t.job_id]
    assert all(j.record.started_at and j.record.ended_at for j in jobs)
    intervals = [(float(j.record.started_at or 0), float(j.record.ended_at or 0)) for j in jobs]
    assert _overlapping(intervals) == 2  # two at a time: --parallel 2, never more
    pairs = sum(1 for a, b in itertools.combinations(intervals, 2) if a[0] < b[1] and b[0] < a[1])
    assert pairs >= 12  # most trials ran beside another one


def test_the_best_model_is_registered_with_its_parameters(tpe_study: tuning.Study) -> None:
    best = tpe_study.best_trial
    assert best is not None
    versions = jsml.models("smooth")
    assert len(versions) == 1  # trials register nothing; the study registers its best
    meta = versions[0].record.metadata["tuning"]
    assert meta["study"] == "smooth" and meta["trial"] == best.number
    assert meta["parameters"] == best.params and meta["value"] == best.value
    assert versions[0].record.job_id == best.job_id
    assert tpe_study.model() == {"x": best.params["x"], "lr": best.params["lr"]}
    assert not jsml.models(f"smooth-t{best.number}")


def test_grid_search_visits_every_point_and_finds_the_exact_optimum(home: Path) -> None:
    code = "log_metric('score', -(hp.x - 3) ** 2 + (1 if hp.c == 'b' else 0))\nmodel = hp.x\n"
    study = tuning.tune(
        code,
        name="grid",
        params=["x=int(0,4)", "c=choice(a,b)"],
        objective="score",
        strategy="grid",
        trials=50,  # capped at the grid's 10 points
        parallel=2,
        namespace={},
    )
    assert study.record.trials_budget == 10
    assert sorted((t.params["x"], t.params["c"]) for t in study.trials) == sorted(
        itertools.product(range(5), "ab")
    )
    assert study.best_params == {"x": 3, "c": "b"} and study.best_value == 1.0


def test_pruning_stops_bad_trials_early(home: Path) -> None:
    steps = 8
    code = textwrap.dedent(
        f"""
        import time
        for step in range({steps}):
            time.sleep(0.15)
            print("step", step, flush=True)
            log_metric("quality", hp.x * (step + 1), step=step)
        log_metric("quality", hp.x * {steps})
        """
    )
    study = tuning.tune(
        code,
        name="pruned",
        params={"x": "uniform(0,1)"},
        objective="quality",
        trials=10,
        parallel=1,
        strategy="random",
        seed=3,
        early_stop=True,
        namespace={},
    )
    trials = study.trials
    pruned = [t for t in trials if t.status == TrialStatus.PRUNED]
    done = [t for t in trials if t.status == TrialStatus.COMPLETED]
    assert pruned and done and len(pruned) + len(done) == 10
    for trial in pruned:
        assert trial.step is not None and trial.step < steps - 1
        assert "pruned at step" in (trial.reason or "")
        job = jsml.job(trial.job_id or "")
        assert job.wait(timeout=30, raise_on_failure=False).record.status == JobStatus.STOPPED
        assert f"pruned by study pruned at step {trial.step}" in (job.failure_reason or "")
        logged = [m.step for m in job.metric_history() if m.step is not None]
        assert max(logged) < steps - 1  # it never ran to the end
        # it was worse than the median of the earlier completed trials
        earlier = sorted(t.params["x"] for t in done if t.number < trial.number)
        assert earlier and trial.params["x"] < earlier[len(earlier) // 2] + 1e-9
    slowest_pruned = max(t.duration or 0 for t in pruned)
    fastest_done = min(t.duration or 0 for t in done)
    assert slowest_pruned < fastest_done
    assert study.best_trial is not None and study.best_trial.status == TrialStatus.COMPLETED


def test_a_failed_trial_is_recorded_not_fatal(home: Path) -> None:
    code = textwrap.dedent(
        """
        if hp.mode == "bad":
            raise ValueError("this trial's parameters do not work")
        if hp.mode == "ok":
            log_metric("score", 1.0)
        model = hp.mode
        """
    )
    study = tuning.tune(
        code,
        name="failing",
        params={"mode": "choice(ok,bad,silent)"},
        objective="score",
        strategy="grid",
        namespace={},
    )
    assert study.status == StudyStatus.COMPLETED
    by_mode = {t.params["mode"]: t for t in study.trials}
    assert by_mode["ok"].status == TrialStatus.COMPLETED
    assert by_mode["bad"].status == TrialStatus.FAILED
    assert "this trial's parameters do not work" in (by_mode["bad"].reason or "")
    assert by_mode["silent"].status == TrialStatus.FAILED
    assert "log_metric('score', value)" in (by_mode["silent"].reason or "")
    assert study.best_params == {"mode": "ok"} and study.model() == "ok"


def test_a_study_where_no_trial_completes_fails_and_says_why(home: Path) -> None:
    with pytest.raises(jsml.JobFailed, match="no trial completed: 2 failed"):
        tuning.tune(
            "raise RuntimeError('broken cell')\n",
            name="hopeless",
            params={"x": "int(1,2)"},
            objective="score",
            strategy="grid",
            namespace={},
        )
    study = tuning.study("hopeless")
    assert study.status == StudyStatus.FAILED and "broken cell" in (
        study.record.failure_reason or ""
    )


KERNEL = """
import os, sys
from jupyter_serverless_ml import tuning
tuning.tune({code!r}, name={name!r}, params={{"x": "uniform(0,1)"}}, objective="score",
            trials={trials}, parallel=1, seed=1, namespace={{}})
"""
SLOW = "import time\ntime.sleep(0.4)\nlog_metric('score', -abs(hp.x - 0.5))\nmodel = hp.x\n"


def _wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def _completed(name: str) -> int:
    try:
        return tuning.study(name).record.counts.get("Completed", 0)
    except jsml.NotFound:
        return 0


def test_a_study_resumes_after_its_kernel_dies(home: Path) -> None:
    kernel = subprocess.Popen(
        [sys.executable, "-c", KERNEL.format(code=SLOW, name="orphan", trials=6)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _completed("orphan") >= 2)
    finally:
        kernel.kill()
        kernel.wait()
    assert tuning.study("orphan").status == StudyStatus.RUNNING  # the platform went on
    study = tuning.resume("orphan")  # %tune --resume orphan: re-attach and wait
    assert study.status == StudyStatus.COMPLETED
    trials = study.trials
    assert sorted(t.number for t in trials) == list(range(6))
    assert all(t.status == TrialStatus.COMPLETED for t in trials)
    assert len({t.job_id for t in trials}) == 6
    assert study.record.model_version == 1


def test_a_study_goes_on_across_a_platform_restart(home: Path) -> None:
    tuning.tune(
        SLOW,
        name="restart",
        params={"x": "uniform(0,1)"},
        objective="score",
        trials=5,
        seed=2,
        namespace={},
        wait=False,
    )
    _wait_for(lambda: _completed("restart") >= 1)
    info = state.read_state(home)
    assert info is not None
    pid = info["pid"]
    os.kill(pid, signal.SIGKILL)  # the daemon dies; the running trial's job does not
    _wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid))
    assert tuning.study("restart").status == StudyStatus.RUNNING  # a new daemon, which goes on
    study = tuning.resume("restart")
    assert (state.read_state(home) or {}).get("pid") != pid
    assert study.status == StudyStatus.COMPLETED
    assert sorted(t.number for t in study.trials) == list(range(5))
    assert all(t.status == TrialStatus.COMPLETED for t in study.trials)


def test_stop_then_resume_with_a_larger_budget(home: Path) -> None:
    study = tuning.tune(
        SLOW,
        name="stopping",
        params={"x": "uniform(0,1)"},
        objective="score",
        trials=20,
        namespace={},
        wait=False,
    )
    _wait_for(lambda: _completed("stopping") >= 2)
    stopped = study.stop()
    assert stopped.record.status == StudyStatus.STOPPED
    ran = [t for t in stopped.trials if t.status != TrialStatus.STOPPED]
    assert len(ran) >= 2
    with pytest.raises(UsageError, match=r"already ran .* at least that"):
        tuning.resume("stopping", trials=len(ran) - 1, wait=False)
    resumed = tuning.resume("stopping", trials=len(ran) + 2)
    assert resumed.status == StudyStatus.COMPLETED
    counted = [t for t in resumed.trials if t.status != TrialStatus.STOPPED]
    assert len(counted) == len(ran) + 2


def test_bad_requests_are_refused_before_any_trial(home: Path) -> None:
    base: dict[str, Any] = dict(
        name="bad", params={"x": "uniform(0,1)"}, objective="score", namespace={}, wait=False
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"strategy": "bayes"}, "--strategy must be one of tpe, random, grid"),
        ({"strategy": "grid"}, "--strategy grid needs values it can list"),
        ({"direction": "up"}, "maximize or minimize"),
        ({"trials": 0}, "--trials must be a whole number from 1"),
        ({"parallel": 0}, "--parallel must be a whole number from 1"),
        ({"seed": -1}, "--seed must be a whole number from 0"),
        ({"objective": ""}, "--objective METRIC"),
        ({"hp": {"x": 1}}, "both tuned (--param) and fixed (--hp)"),
        ({"params": {}}, "at least one --param"),
        ({"name": "n" * 45}, "at most 40"),
    ]
    for change, says in cases:
        with pytest.raises(UsageError, match=re.escape(says)):
            tuning.tune("log_metric('score', 1)\n", **{**base, **change})
    with pytest.raises(UsageError, match="training code in the cell"):
        tuning.tune("  \n", **base)
    assert not [s for s in tuning.studies() if s.name == "bad"]
    tuning.tune("log_metric('score', 1)\n", **{**base, "name": "twice", "trials": 1, "wait": True})
    with pytest.raises(Conflict, match="--resume twice"):
        tuning.tune("log_metric('score', 1)\n", **{**base, "name": "twice"})
    with pytest.raises(jsml.NotFound, match="no study 'nope'"):
        tuning.study("nope")
