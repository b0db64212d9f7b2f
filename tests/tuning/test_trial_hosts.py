"""A study's trials are forked from one sandboxed zygote per study (its trial host).

Real daemon, real host and zygote processes, real bubblewrap where it works. Each trial
is still a job of its own (directory, log, metrics, result); the sandbox still holds; the
host trusts nothing a trial wrote; the host goes away when its study ends.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import tuning
from jupyter_serverless_ml.platform.jobs import procs, trial_hosts
from jupyter_serverless_ml.statuses import JobStatus, StudyStatus, TrialStatus

QUICK = """
import os
log_metric("score", 1 - (hp.x - 0.5) ** 2, step=0)
log_metric("score", 1 - (hp.x - 0.5) ** 2)
print("root", os.environ["SM_MODEL_DIR"], "pid", os.getpid(), flush=True)
model = {"x": hp.x}
"""


def _gone(folder: Path, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if trial_hosts.live_host(folder) is None:
            return True
        time.sleep(0.05)
    return False


def test_trials_are_jobs_forked_from_one_host_that_leaves_with_its_study(home: Path) -> None:
    folder = trial_hosts.host_dir(home, "forked")
    seen: list[tuple[int, str] | None] = []

    def watch(study: tuning.Study) -> None:
        seen.append(trial_hosts.live_host(folder))

    study = tuning.tune(
        QUICK,
        name="forked",
        params={"x": "uniform(0,1)"},
        objective="score",
        trials=6,
        parallel=2,
        seed=1,
        namespace={},
        wait=False,
    )
    while study.status == StudyStatus.RUNNING:
        watch(study)
        time.sleep(0.05)
        study = tuning.study("forked")
    assert study.status == StudyStatus.COMPLETED
    hosts = {h for h in seen if h is not None}
    assert len(hosts) == 1  # one host served every trial
    trials = study.trials
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 6
    for trial in trials:
        job = jsml.job(trial.job_id or "")
        assert job.record.status == JobStatus.COMPLETED
        log = job.logs()
        assert "forked from the study's zygote" in log
        assert f"/opt/ml/trials/{job.record.id}" in log or f"trials/{job.record.id}" in log
        assert [m.value for m in job.metric_history() if m.name == "score"][-1] == trial.value
    # the best trial's model came through the job directory and was registered
    assert study.model() == {"x": study.best_params["x"]}
    # the study ended: its host exits, and its trials' folders are gone
    assert _gone(folder)
    assert not any((folder / "work" / "trials").iterdir())


def test_the_sandbox_holds_and_nothing_a_trial_wrote_is_trusted(home: Path) -> None:
    secret = home / "token"
    code = textwrap.dedent(
        f"""
        import os
        try:
            open({str(secret)!r}).read()
            leaked = 1
        except OSError:
            leaked = 0
        try:
            open("/opt/ml/code/planted.py", "w").write("x = 1")
            planted = 1
        except OSError:
            planted = 0
        log_metric("leaked", leaked)
        log_metric("planted", planted)
        log_metric("score", hp.x)
        # a link to a host file as the model, and as the failure reason
        os.symlink("/etc/hostname", os.path.join(os.environ["SM_MODEL_DIR"], "model.pkl"))
        model = None
        """
    )
    study = tuning.tune(
        code,
        name="hostile",
        params={"x": "uniform(0,1)"},
        objective="score",
        trials=2,
        seed=0,
        namespace={},
        wait=False,
    ).wait(timeout=120, raise_on_failure=False)
    assert study.status == StudyStatus.FAILED
    for trial in study.trials:
        assert trial.status == TrialStatus.FAILED
        assert "symbolic link" in (trial.reason or "")
        job = jsml.job(trial.job_id or "")
        metrics = {m.name: m.value for m in job.metric_history()}
        assert metrics["leaked"] == 0 and metrics["planted"] == 0
        model_dir = Path(job.record.details.get("job_dir") or "") / "ml" / "model"
        assert not any(p.is_symlink() for p in model_dir.rglob("*"))
    assert _gone(trial_hosts.host_dir(home, "hostile"))


def test_a_trial_whose_host_dies_is_lost_and_the_study_goes_on(home: Path) -> None:
    code = textwrap.dedent(
        """
        import time
        time.sleep(float(hp.x) * 0 + 1.5)
        log_metric("score", hp.x)
        """
    )
    study = tuning.tune(
        code,
        name="orphaned",
        params={"x": "uniform(0,1)"},
        objective="score",
        trials=3,
        seed=0,
        namespace={},
        wait=False,
    )
    folder = trial_hosts.host_dir(home, "orphaned")
    deadline = time.monotonic() + 60
    while (found := trial_hosts.live_host(folder)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert found is not None
    os.kill(found[0], 9)  # the host and, with it, its sandbox and the running trial
    study = study.wait(timeout=120, raise_on_failure=False)
    first = study.trials[0]
    assert first.status == TrialStatus.FAILED and "lost" in (first.reason or "")
    assert study.status == StudyStatus.COMPLETED  # a new host ran the other trials
    assert [t.status for t in study.trials[1:]] == [TrialStatus.COMPLETED] * 2
    assert not procs.is_alive(*found)
    assert json.loads((folder / "host.json").read_text())["bundle"]
