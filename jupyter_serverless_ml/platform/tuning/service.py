"""The platform's tuning service: runs each study's trials as training jobs of the job manager.

A study is a row in the store (spec, status) plus an Optuna study (see
:mod:`.optuna_study`). :meth:`TuningService.advance` moves one study forward and is
the only code path, live and after a daemon restart: it follows each running
trial's job (intermediate objective values with a ``step`` go to the pruner, which
may stop the job; a finished job tells Optuna its final value or its failure),
then asks Optuna for new trials while fewer than ``parallel`` run and the budget
is not spent, and when every trial has ended registers the best trial's model
with its parameters. The loop (:meth:`TuningService.run`) wakes as soon as a
trial's job changes, so a trial costs a job plus a few milliseconds of Optuna.

A trial's failure is recorded on the trial, never fatal to the study. Studies
outlive the kernel that started them: a kernel only watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import Conflict, JsmlError, NotFound, UsageError
from ...options import validate_name
from ...statuses import JOB_TERMINAL, JobStatus, StudyStatus, TrialStatus
from ..jobs import jobfiles, trial_hosts
from ..jobs.limits import DEFAULT_MAX_DISK
from ..registry import has_model, job_model_dir
from . import space as spaces
from .optuna_study import DIRECTIONS, STRATEGIES, OptunaStudies
from .views import study_view, summary_view

if TYPE_CHECKING:
    from ..server import Platform

log = logging.getLogger("jsml.platform.tuning")
POLL_SECONDS = 0.25
MAX_TRIALS = 10_000
MAX_PARALLEL = 64
NAME_LENGTH = 40  # leaves room for the trial jobs' "-t<number>"
_ACTIVE = (StudyStatus.RUNNING.value,)


def _bounded(body: dict[str, Any], key: str, default: int, high: int) -> int:
    value = body.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise UsageError(f"--{key} must be a whole number from 1 to {high}, not {value!r}")
    return value


def check_request(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a study request (it came over HTTP); returns the study's spec."""
    name = validate_name(body.get("name") or "")
    if len(name) > NAME_LENGTH:
        raise UsageError(
            f"study name {name!r} is {len(name)} characters; use at most {NAME_LENGTH} "
            "(its trial jobs are named NAME-t<number>)"
        )
    objective = body.get("objective")
    if not isinstance(objective, str) or not objective.strip():
        raise UsageError(
            "a study needs --objective METRIC: the name the cell logs with log_metric(METRIC, value)"
        )
    direction = body.get("direction") or "maximize"
    if direction not in DIRECTIONS:
        raise UsageError(f"--direction must be maximize or minimize, not {direction!r}")
    strategy = body.get("strategy") or "tpe"
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    space = spaces.check_space(body.get("space"))
    trials = _bounded(body, "trials", 20, MAX_TRIALS)
    if strategy == "grid":
        trials = min(trials, spaces.grid_size(space))
    parallel = _bounded(body, "parallel", 1, MAX_PARALLEL)
    seed = body.get("seed")
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32
    ):
        raise UsageError(f"--seed must be a whole number from 0 to 2**32 - 1, not {seed!r}")
    job = body.get("job")
    if not isinstance(job, dict) or not job.get("bundle") or not job.get("python"):
        raise UsageError("a study request needs its trials' job: {'bundle': ..., 'python': ...}")
    if not (Path(job["bundle"]) / "manifest.json").is_file():
        raise UsageError(
            f"bundle {job['bundle']} does not exist or has no manifest; build it first"
        )
    fixed = dict(job.get("hyperparameters") or {})
    clash = sorted(set(fixed) & set(space))
    if clash:
        raise UsageError(
            f"{', '.join(clash)} is both tuned (--param) and fixed (--hp); give it once"
        )
    model_name = validate_name(body.get("model_name") or name)
    return {
        "space": space,
        "objective": objective.strip(),
        "direction": direction,
        "strategy": strategy,
        "trials": trials,
        "parallel": parallel,
        "early_stop": bool(body.get("early_stop")),
        "seed": seed,
        "model_name": model_name,
        "job": job,
    }


class TuningService:
    """Creates, follows and finishes studies inside the daemon."""

    def __init__(self, platform_: Platform) -> None:
        self.platform = platform_
        self.manager = platform_.manager
        self.store = platform_.manager.store
        self.optuna = OptunaStudies()
        self._events: dict[str, asyncio.Event] = {}
        self._wake: asyncio.Event | None = None
        self._nudged: set[str] = set()

    # -- requests --------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a study; its first trials are submitted before this returns."""
        spec = check_request(body)
        name = str(body["name"])
        existing = self.store.study(name)
        if existing is not None:
            raise Conflict(
                f"study {name!r} already exists ({existing['status']}); %tune --resume {name} "
                f"continues it (--trials N for a larger budget), %tune {name} shows it, or "
                "choose another --name"
            )
        with self.store.batched():  # the study and its first trials: one commit
            self.store.insert_study(
                {
                    "name": name,
                    "status": StudyStatus.RUNNING,
                    "spec": spec,
                    "model_name": spec["model_name"],
                }
            )
            self.advance(name)
        self.wake()
        return self.describe(name)

    def _get(self, name: str) -> dict[str, Any]:
        study = self.store.study(name)
        if study is None:
            known = [s["name"] for s in self.store.studies()][:20]
            raise NotFound(
                f"no study {name!r}; studies: {', '.join(known) or 'none'} (%studies lists them)"
            )
        return study

    def describe(self, name: str) -> dict[str, Any]:
        """One study with its trials (see :func:`.views.study_view`)."""
        study = self._get(name)
        return study_view(study, self.store.trials(name), self._durations(name))

    def summaries(self) -> list[dict[str, Any]]:
        """Every study, newest first, without its trials."""
        return [summary_view(s, self.store.trials(s["name"])) for s in self.store.studies()]

    def stop(self, name: str) -> dict[str, Any]:
        """Stop a study: its running trials' jobs are stopped, and the study can be resumed."""
        study = self._get(name)
        if study["status"] == StudyStatus.RUNNING:
            self._stop_running(study)
        return self.describe(name)

    def _stop_running(self, study: dict[str, Any]) -> None:
        name = study["name"]
        with self.store.batched():
            for trial in self.store.trials(name):
                if trial["status"] == TrialStatus.RUNNING:
                    self._stop_job(trial["job_id"], f"stopped with study {name}")
                    self._end_trial(
                        study, trial, "fail", TrialStatus.STOPPED, None, "stopped with the study"
                    )
            self.store.update_study(name, status=StudyStatus.STOPPED, ended_at=time.time())
        trial_hosts.close(trial_hosts.host_dir(self.manager.home, name))
        self._changed(name)

    def resume(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Continue a study: a stopped or failed one runs again; ``trials`` raises the budget and
        ``parallel`` changes how many run at once. A running study is only re-attached to."""
        study = self._get(name)
        spec = dict(study["spec"])
        counted = sum(1 for t in self.store.trials(name) if t["status"] != TrialStatus.STOPPED)
        if body.get("trials") is not None:
            trials = _bounded(body, "trials", spec["trials"], MAX_TRIALS)
            if spec["strategy"] == "grid":
                trials = min(trials, spaces.grid_size(spec["space"]))
            if trials < counted:
                raise UsageError(
                    f"study {name} already ran {counted} trials; --trials must be at least that"
                )
            spec["trials"] = trials
        if body.get("parallel") is not None:
            spec["parallel"] = _bounded(body, "parallel", spec["parallel"], MAX_PARALLEL)
        more = counted < spec["trials"]
        fields: dict[str, Any] = {}
        if spec != study["spec"]:
            fields["spec"] = spec
            self.optuna.forget(name)
        if study["status"] != StudyStatus.RUNNING and (
            more or study["status"] != StudyStatus.COMPLETED
        ):
            fields.update(status=StudyStatus.RUNNING, ended_at=None, failure_reason=None)
        if fields:
            with self.store.batched():
                self.store.update_study(name, **fields)
                self.advance(name)
            self.wake()
            self._changed(name)
        return self.describe(name)

    async def watch(self, name: str, since: float, timeout: float) -> dict[str, Any]:
        """The study as soon as it changed after ``since`` (its ``updated_at``), or after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            study = self._get(name)
            remaining = deadline - time.monotonic()
            if study["updated_at"] != since or remaining <= 0:
                return self.describe(name)
            event = self._events.setdefault(name, asyncio.Event())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(remaining, POLL_SECONDS * 4))

    # -- the loop --------------------------------------------------------------

    def wake(self) -> None:
        """Make the loop look at the studies now."""
        if self._wake is not None:
            self._wake.set()

    def nudged(self, job_id: str) -> None:
        """A trial host wrote news of a trial job (its status, metrics or result): the next
        round folds the job's files into the store with the study's own changes, one commit
        (the job manager's poll still looks at every job, whoever nudged)."""
        self._nudged.add(job_id)
        self.wake()

    def _check_nudged(self) -> None:
        nudged, self._nudged = self._nudged, set()
        for job_id in sorted(nudged):
            try:
                changed = self.manager.check(job_id)
            except Exception:
                log.exception("checking job %s failed", job_id)
                continue
            if changed:
                self.platform.changed(job_id)

    def _changed(self, name: str) -> None:
        event = self._events.pop(name, None)
        if event is not None:
            event.set()

    async def run(self) -> None:
        """Follow every running study until cancelled (the daemon's lifetime)."""
        self._wake = asyncio.Event()
        try:
            self.reconcile()
        except Exception:
            log.exception("reconciling studies failed")
        while True:
            jobs: list[str] = []
            try:
                jobs = self.advance_all()
            except Exception:
                log.exception("a tuning round failed")
            waits = [asyncio.ensure_future(self.platform.event(j).wait()) for j in jobs]
            waits.append(asyncio.ensure_future(self._wake.wait()))
            try:
                await asyncio.wait(waits, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waits:
                    waiter.cancel()
            self._wake.clear()

    def advance_all(self) -> list[str]:
        """Advance every running study; returns the job ids of their running trials. What a
        round records (trials ended, the next trials' jobs) is one commit."""
        with self.store.batched():
            return self._advance_all()

    def _advance_all(self) -> list[str]:
        self._check_nudged()
        jobs: list[str] = []
        for study in self.store.studies(status=list(_ACTIVE)):
            try:
                self.advance(study["name"])
            except Exception as exc:
                log.exception("study %s failed to advance", study["name"])
                if isinstance(exc, JsmlError):
                    self._fail_study(study["name"], f"the platform could not go on: {exc}")
                continue
            jobs += [
                t["job_id"]
                for t in self.store.trials(study["name"])
                if t["status"] == TrialStatus.RUNNING and t["job_id"]
            ]
        return jobs

    def reconcile(self) -> None:
        """After a daemon restart: a trial whose job was submitted but whose row was not
        recorded (a job named NAME-t<number> made for this study) is adopted; the Optuna
        study is then rebuilt from the store when first used."""
        for study in self.store.studies(status=list(_ACTIVE)):
            name, spec = study["name"], study["spec"]
            self.optuna.forget(name)
            number = len(self.store.trials(name))
            while (job := self.store.latest_job(f"{name}-t{number}")) is not None and job[
                "created_at"
            ] >= study["created_at"]:
                params = {
                    k: v
                    for k, v in (job["spec"].get("hyperparameters") or {}).items()
                    if k in spec["space"]
                }
                self.store.insert_trial(
                    {
                        "study": name,
                        "number": number,
                        "optuna_id": number,
                        "job_id": job["id"],
                        "status": TrialStatus.RUNNING,
                        "params": params,
                        "created_at": job["created_at"],
                    }
                )
                number += 1

    def _open(self, name: str, spec: dict[str, Any]) -> None:
        """Make sure the study's Optuna side is in memory (rebuilt from the store)."""
        if self.optuna.is_open(name):
            return
        objective = spec["objective"]

        def steps(row: Any) -> dict[int, float]:
            if not row.get("job_id"):
                return {}
            return {
                int(m["step"]): float(m["value"])
                for m in self.store.metrics(row["job_id"])
                if m["name"] == objective and m["step"] is not None
            }

        self.optuna.study(name, spec, self.store.trials(name), steps)

    def advance(self, name: str) -> None:
        """Move one study forward (see the module docstring)."""
        study = self.store.study(name)
        if study is None or study["status"] not in _ACTIVE:
            return
        spec = study["spec"]
        self._open(name, spec)
        for trial in self.store.trials(name):
            if trial["status"] == TrialStatus.RUNNING:
                self._follow(study, trial)
        trials = self.store.trials(name)
        counted = [t for t in trials if t["status"] != TrialStatus.STOPPED]
        running = [t for t in trials if t["status"] == TrialStatus.RUNNING]
        while len(running) < spec["parallel"] and len(counted) < spec["trials"]:
            started = self._start_trial(study)
            if started is None:
                return
            counted.append(started)
            running.append(started)
        if not running and len(counted) >= spec["trials"]:
            self._finish(study, self.store.trials(name))

    # -- trials ----------------------------------------------------------------

    def _start_trial(self, study: dict[str, Any]) -> dict[str, Any] | None:
        name, spec = study["name"], study["spec"]
        number, optuna_id, params = self.optuna.ask(name, spec)
        request = dict(spec["job"])
        request.update(
            name=f"{name}-t{number}",
            hyperparameters={**(spec["job"].get("hyperparameters") or {}), **params},
            register=False,
        )
        if (
            trial_hosts.use_hosts()
            and request.get("env", "kernel") != "isolated"
            and (int(request.get("instance_count") or 1) == 1)
        ):
            request["trial_host"] = str(trial_hosts.host_dir(self.manager.home, name))
        try:
            job = self.manager.submit(request)
        except (UsageError, OSError) as exc:
            self.optuna.tell(name, spec, number, "fail", None)
            self._fail_study(name, f"trial {number} could not start: {exc}")
            return None
        self.platform.changed(job["id"])
        trial = {
            "study": name,
            "number": number,
            "optuna_id": optuna_id,
            "job_id": job["id"],
            "status": TrialStatus.RUNNING,
            "params": params,
        }
        self.store.insert_trial(trial)
        self._changed(name)
        return trial

    def _follow(self, study: dict[str, Any], trial: dict[str, Any]) -> None:
        """Fold a running trial's job into the trial: intermediate values, pruning, the end."""
        spec = study["spec"]
        objective = spec["objective"]
        job = self.store.job(trial["job_id"]) if trial["job_id"] else None
        if job is None:
            self._end_trial(study, trial, "fail", TrialStatus.FAILED, None, "its job is gone")
            return
        news = self.store.metrics(job["id"], after=trial["metrics_seen"])
        fields: dict[str, Any] = {}
        if news:
            fields["metrics_seen"] = trial["metrics_seen"] + len(news)
        if job["started_at"] and not trial["started_at"]:
            fields["started_at"] = job["started_at"]
        for record in news:
            if record["name"] != objective or record["step"] is None:
                continue
            step, value = int(record["step"]), float(record["value"])
            fields.update(step=step, value=value)
            if not spec["early_stop"]:
                continue
            # every value goes to the pruner (the median of finished trials needs them), and a
            # trial whose job still runs may be stopped
            judge = job["status"] not in JOB_TERMINAL
            if self.optuna.report(study["name"], spec, trial["number"], value, step, judge):
                self.store.update_trial(study["name"], trial["number"], **fields)
                self._stop_job(job["id"], f"pruned by study {study['name']} at step {step}")
                self._end_trial(
                    study,
                    trial,
                    "pruned",
                    TrialStatus.PRUNED,
                    value,
                    f"pruned at step {step}: {objective}={value:.6g} was worse than the "
                    "median of earlier trials at that step",
                )
                return
        if fields:
            self.store.update_trial(study["name"], trial["number"], **fields)
            self._changed(study["name"])
        if job["status"] not in JOB_TERMINAL:
            return
        if job["status"] == JobStatus.COMPLETED:
            values = [m["value"] for m in self.store.metrics(job["id"]) if m["name"] == objective]
            if values:
                self._end_trial(
                    study, trial, "complete", TrialStatus.COMPLETED, float(values[-1]), None
                )
            else:
                self._end_trial(
                    study,
                    trial,
                    "fail",
                    TrialStatus.FAILED,
                    None,
                    f"the trial logged no {objective!r} metric; call "
                    f"log_metric({objective!r}, value) in the cell",
                )
            return
        reason = job["failure_reason"] or f"the job ended {job['status']}"
        self._end_trial(study, trial, "fail", TrialStatus.FAILED, None, reason)

    def _end_trial(
        self,
        study: dict[str, Any],
        trial: dict[str, Any],
        state: str,
        status: TrialStatus,
        value: float | None,
        reason: str | None,
    ) -> None:
        self._open(study["name"], study["spec"])
        self.optuna.tell(study["name"], study["spec"], trial["number"], state, value)
        job = self.store.job(trial["job_id"]) if trial["job_id"] else None
        ended = (job or {}).get("ended_at") if status != TrialStatus.PRUNED else None
        fields: dict[str, Any] = {
            "status": status,
            "ended_at": ended or time.time(),
            "reason": reason,
        }
        if value is not None:
            fields["value"] = value
        if job and job.get("started_at") and not trial.get("started_at"):
            fields["started_at"] = job["started_at"]
        self.store.update_trial(study["name"], trial["number"], **fields)
        self._changed(study["name"])

    def _stop_job(self, job_id: str | None, reason: str | None = None) -> None:
        if not job_id:
            return
        with contextlib.suppress(JsmlError, OSError):
            self.manager.stop(job_id, reason)
            self.platform.changed(job_id)

    def _durations(self, name: str) -> dict[str, float]:
        """Each trial job's run time so far (seconds)."""
        now = time.time()
        out: dict[str, float] = {}
        for trial in self.store.trials(name):
            start = trial["started_at"]
            if start:
                out[str(trial["number"])] = (trial["ended_at"] or now) - start
        return out

    # -- the end ---------------------------------------------------------------

    def _fail_study(self, name: str, reason: str) -> None:
        trial_hosts.close(trial_hosts.host_dir(self.manager.home, name))
        self.store.update_study(
            name, status=StudyStatus.FAILED, ended_at=time.time(), failure_reason=reason
        )
        self._changed(name)

    def _finish(self, study: dict[str, Any], trials: list[dict[str, Any]]) -> None:
        name, spec = study["name"], study["spec"]
        trial_hosts.close(trial_hosts.host_dir(self.manager.home, name))
        done = [
            t for t in trials if t["status"] == TrialStatus.COMPLETED and t["value"] is not None
        ]
        if not done:
            failed = [t for t in trials if t["status"] == TrialStatus.FAILED]
            first = f" (trial {failed[0]['number']}: {failed[0]['reason']})" if failed else ""
            self._fail_study(
                name,
                f"no trial completed: {len(failed)} failed, "
                f"{sum(t['status'] == TrialStatus.PRUNED for t in trials)} pruned{first}",
            )
            return
        pick = max if spec["direction"] == "maximize" else min
        best = pick(done, key=lambda t: t["value"])
        job = self.store.job(best["job_id"])
        model = None
        reason = None
        if job is not None and has_model(job):
            cap = int(job["spec"].get("max_disk") or DEFAULT_MAX_DISK)
            try:
                model = self.manager.registry.stage(
                    spec["model_name"],
                    job_model_dir(job),
                    lambda src, dst: jobfiles.copy_tree(src, dst, cap),
                )
            except (OSError, jobfiles.UnsafeJobFile) as exc:
                reason = f"the best trial's model could not be registered: {exc}"
            else:
                model["metadata"]["tuning"] = {
                    "study": name,
                    "trial": best["number"],
                    "parameters": best["params"],
                    "objective": spec["objective"],
                    "direction": spec["direction"],
                    "value": best["value"],
                }
                model["metadata"]["hyperparameters"] = dict(
                    job["spec"].get("hyperparameters") or {}
                )
        self.store.complete_study_with_model(
            name,
            model,
            best["job_id"],
            status=StudyStatus.COMPLETED,
            best_trial=best["number"],
            ended_at=time.time(),
            failure_reason=reason,
        )
        self._changed(name)


_SERVICES: weakref.WeakKeyDictionary[Any, TuningService] = weakref.WeakKeyDictionary()


def service_for(platform_: Platform) -> TuningService:
    """The one tuning service of a daemon's :class:`~..server.Platform`."""
    found = _SERVICES.get(platform_)
    if found is None:
        found = _SERVICES[platform_] = TuningService(platform_)
    return found


__all__ = ["TuningService", "check_request", "service_for"]
