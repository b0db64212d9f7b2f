"""What keeps a trial cheap keeps its guarantees: a trial started by the study's parked spare
runs in its own job's limits; a short trial still records Running before its end, a long one
says Running while it runs; ended trials leave no folders and no control groups behind.

Real daemon, trial host, zygote and sandbox (where bubblewrap works), real control groups
where the machine allows them.
"""

from __future__ import annotations

import http.client
import textwrap
import time
from pathlib import Path

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import tuning
from jupyter_serverless_ml.platform import state
from jupyter_serverless_ml.platform.jobs import cgroups, trial_hosts
from jupyter_serverless_ml.statuses import JobStatus, StudyStatus, TrialStatus

pytestmark = pytest.mark.timeout(240)


def _gone(folder: Path, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if trial_hosts.live_host(folder) is None:
            return True
        time.sleep(0.05)
    return False


def test_trials_started_by_the_spare_keep_their_own_limits_and_leave_nothing(
    home: Path,
) -> None:
    # odd n: touch 400 MB under --memory 200M; each trial runs a while, so the spare the host
    # parks during a trial is placed in its groups before the next trial comes
    code = textwrap.dedent(
        """
        import time
        time.sleep(0.3)
        if hp.n % 2:
            hog = b"x" * (400 * 1024 * 1024)
        log_metric("score", hp.n)
        model = {"n": hp.n}
        """
    )
    study = tuning.tune(
        code,
        name="spared",
        params={"n": "int(0,3)"},
        strategy="grid",
        objective="score",
        trials=4,
        seed=3,
        memory="200M",
        namespace={},
        wait=False,
    ).wait(timeout=180)
    assert study.status == StudyStatus.COMPLETED
    by_n = {t.params["n"]: t for t in study.trials}
    assert sorted(by_n) == [0, 1, 2, 3]
    for n, trial in by_n.items():
        if n % 2:
            assert trial.status == TrialStatus.FAILED
            reason = trial.reason or ""
            assert "exceeded --memory 200M" in reason or "MemoryError" in reason, reason
        else:
            assert trial.status == TrialStatus.COMPLETED and trial.value == n
    spared = [
        t for t in study.trials if "started by the study's spare" in jsml.job(t.job_id or "").logs()
    ]
    assert [t.number for t in spared] == [1, 2, 3]  # every trial after the first
    assert study.best_params == {"n": 2} and study.model() == {"n": 2}
    folder = trial_hosts.host_dir(home, "spared")
    assert _gone(folder)
    assert not any((folder / "work" / "trials").iterdir())
    assert not any((folder / "trash").iterdir())  # removed on the host's thread, all of them
    for parent in cgroups._parents(home).values():  # the trials' and the last spare's groups
        left = [p.name for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
        trial_jobs = {t.job_id for t in study.trials}
        assert not [n for n in left if n.startswith("spare-") or n in trial_jobs], left


def test_a_short_trial_records_running_then_its_end_and_a_long_one_says_running(
    home: Path,
) -> None:
    code = "import time\ntime.sleep(hp.t)\nlog_metric('score', hp.t)\nmodel = None\n"
    study = tuning.tune(
        code,
        name="progress",
        params={"t": "choice(0.0,2.5)"},
        strategy="grid",
        objective="score",
        trials=2,
        seed=1,
        namespace={},
        wait=False,
    )
    seen_running = False
    deadline = time.monotonic() + 120
    while study.status == StudyStatus.RUNNING and time.monotonic() < deadline:
        for trial in study.trials:
            if trial.params["t"] == 2.5 and trial.job_id:
                job = jsml.job(trial.job_id).record
                seen_running |= job.status == JobStatus.RUNNING and not job.ended_at
        time.sleep(0.05)
        study = tuning.study("progress")
    assert study.status == StudyStatus.COMPLETED
    assert seen_running  # told within PROGRESS_NUDGE of its start, not at its end
    for trial in study.trials:
        job = jsml.job(trial.job_id or "").record
        statuses = [e.status for e in job.events]
        assert statuses.index(JobStatus.RUNNING) < statuses.index(JobStatus.COMPLETED)
        assert job.started_at and job.ended_at and job.started_at < job.ended_at
        if trial.params["t"] == 2.5:
            assert job.ended_at - job.started_at >= 2.5


def test_a_trial_nudge_is_guarded_and_an_unknown_job_is_ignored(home: Path) -> None:
    assert state.nudge(home, "/v1/studies/none/nudge/no-such-job")  # 200: nothing to fold
    port = int((state.read_state(home) or {})["port"])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/v1/studies/none/nudge/no-such-job", body=b"{}")
    assert conn.getresponse().status == 401  # without the token
    conn.close()
