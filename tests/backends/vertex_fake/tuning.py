"""The fake's hyperparameterTuningJobs routes (create, get, list, cancel) and their trials.

A body is parsed into ``aiplatform_v1.HyperparameterTuningJob`` (unknown fields refused) and
checked as Vertex does (display name, a metric, parameters, trial_job_spec's worker pools,
max_trial_count). A thread then runs the study: Optuna samples the parameters (TPE for
``ALGORITHM_UNSPECIFIED``, Vertex's Bayesian default; random for ``RANDOM_SEARCH``, every
combination of the integer, discrete and categorical values in order for ``GRID_SEARCH``),
and each trial is a CustomJob of ``trial_job_spec`` that the job emulator runs for real,
with Vertex's trial contract: ``--NAME=VALUE`` appended to every container's arguments,
``CLOUD_ML_TRIAL_ID``, its own base output directory (``<base>/<trial id>``), and a private
``CLOUD_ML_HP_METRIC_FILE`` standing for the container's ``/tmp/hypertune/output.metrics``.
The trial's measurements are the lines of that file holding the study's metric; its
final measurement the last one. A trial that reports none, or whose job fails, is
INFEASIBLE; the study fails when no trial succeeded. ``parallel_trial_count`` trials run
at once. Trial jobs carry no labels, so the backend's job listing does not show them.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

from google.cloud import aiplatform_v1 as v1

from .messages import now, parse, reply
from .web import ApiError, Request, Response, Router

LOC = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
DONE = (
    v1.JobState.JOB_STATE_SUCCEEDED,
    v1.JobState.JOB_STATE_FAILED,
    v1.JobState.JOB_STATE_CANCELLED,
)


class _Search:
    """Sampling for one study spec."""

    def __init__(self, study: Any) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.params = list(study.parameters)
        algorithm = study.algorithm
        self.grid: list[dict[str, Any]] | None = None
        if algorithm == v1.StudySpec.Algorithm.GRID_SEARCH:
            axes = [(p.parameter_id, self._values(p)) for p in self.params]
            combos = itertools.product(*[values for _, values in axes])
            self.grid = [dict(zip([n for n, _ in axes], combo, strict=True)) for combo in combos]
        sampler = (
            optuna.samplers.RandomSampler(seed=0)
            if algorithm == v1.StudySpec.Algorithm.RANDOM_SEARCH
            else optuna.samplers.TPESampler(seed=0, n_startup_trials=5)
        )
        goal = study.metrics[0].goal
        direction = "maximize" if goal == v1.StudySpec.MetricSpec.GoalType.MAXIMIZE else "minimize"
        self.study = optuna.create_study(direction=direction, sampler=sampler)
        self.asked: dict[str, Any] = {}

    @staticmethod
    def _values(p: Any) -> list[Any]:
        if "integer_value_spec" in p:
            spec = p.integer_value_spec
            return list(range(int(spec.min_value), int(spec.max_value) + 1))
        if "categorical_value_spec" in p:
            return list(p.categorical_value_spec.values)
        if "discrete_value_spec" in p:
            return list(p.discrete_value_spec.values)
        raise ApiError(
            400,
            f"Parameter {p.parameter_id}: GRID_SEARCH needs integer, discrete or categorical "
            "parameters.",
        )

    def ask(self, key: str, number: int) -> dict[str, Any]:
        if self.grid is not None:
            return dict(self.grid[number])
        trial = self.study.ask()
        self.asked[key] = trial
        out: dict[str, Any] = {}
        for p in self.params:
            name = p.parameter_id
            if "double_value_spec" in p:
                spec = p.double_value_spec
                log = p.scale_type == v1.StudySpec.ParameterSpec.ScaleType.UNIT_LOG_SCALE
                out[name] = trial.suggest_float(name, spec.min_value, spec.max_value, log=log)
            elif "integer_value_spec" in p:
                spec = p.integer_value_spec
                out[name] = trial.suggest_int(name, int(spec.min_value), int(spec.max_value))
            else:
                out[name] = trial.suggest_categorical(name, self._values(p))
        return out

    def size(self) -> int | None:
        return None if self.grid is None else len(self.grid)

    def tell(self, key: str, value: float | None) -> None:
        import optuna

        trial = self.asked.pop(key, None)
        if trial is not None:
            if value is None:
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(trial, value)


class TuningRoutes:
    """hyperparameterTuningJobs on the fake's store (``tuning_jobs``), run by threads."""

    def __init__(self, store: Any, emulator: Any) -> None:
        self.store = store
        self.emulator = emulator
        self.closing = threading.Event()
        self.store.tuning_jobs = {}

    def install(self, router: Router) -> None:
        add = router.add
        add("POST", LOC + r"/hyperparameterTuningJobs", self.create)
        add("GET", LOC + r"/hyperparameterTuningJobs", self.list)
        add("GET", LOC + r"/hyperparameterTuningJobs/(?P<id>[^/:]+)", self.get)
        add("POST", LOC + r"/hyperparameterTuningJobs/(?P<id>[^/:]+):cancel", self.cancel)

    def stop(self) -> None:
        """Launch no more trials (the fake is going away)."""
        self.closing.set()

    @staticmethod
    def _parent(req: Request) -> str:
        return f"projects/{req.params['project']}/locations/{req.params['location']}"

    def create(self, req: Request) -> Response:
        job = parse(v1.HyperparameterTuningJob, req, "hyperparameter_tuning_job")
        self.store.requests.append(("hyperparameterTuningJobs.create", job))
        field = "hyperparameter_tuning_job"
        missing = [
            name
            for name, ok in (
                ("display_name", bool(job.display_name)),
                ("study_spec.metrics", bool(job.study_spec.metrics)),
                ("study_spec.parameters", bool(job.study_spec.parameters)),
                ("trial_job_spec.worker_pool_specs", bool(job.trial_job_spec.worker_pool_specs)),
                ("max_trial_count", job.max_trial_count > 0),
                ("parallel_trial_count", job.parallel_trial_count > 0),
            )
            if not ok
        ]
        if missing:
            raise ApiError(
                400,
                f"List of found errors:\t1.Field: {field}.{missing[0]}; "
                "Message: Required field is not set.",
            )
        _Search(job.study_spec)  # a grid over a double parameter is refused now
        with self.store.lock:
            job.name = f"{self._parent(req)}/hyperparameterTuningJobs/{self.store.new_id()}"
            job.state = v1.JobState.JOB_STATE_PENDING
            job.create_time = job.update_time = now()
            self.store.tuning_jobs[job.name] = job
        thread = threading.Thread(target=self._run, args=(job,), daemon=True)
        self.emulator.threads.append(thread)
        thread.start()
        return reply(job)

    def _job(self, req: Request) -> Any:
        name = f"{self._parent(req)}/hyperparameterTuningJobs/{req.params['id']}"
        job = self.store.tuning_jobs.get(name)
        if job is None:
            raise ApiError(404, f"The HyperparameterTuningJob {name} is not found.")
        return job

    def get(self, req: Request) -> Response:
        return reply(self._job(req))

    def list(self, req: Request) -> Response:
        from .api import matches

        items = [j for j in self.store.tuning_jobs.values() if matches(j, req.arg("filter") or "")]
        return reply(v1.ListHyperparameterTuningJobsResponse(hyperparameter_tuning_jobs=items))

    def cancel(self, req: Request) -> Response:
        parse(v1.CancelHyperparameterTuningJobRequest, req, "*")
        job = self._job(req)
        if job.state in DONE:
            raise ApiError(
                400,
                f"Cannot cancel HyperparameterTuningJob {job.name} in state {job.state.name}.",
                "FAILED_PRECONDITION",
            )
        job.state = v1.JobState.JOB_STATE_CANCELLING
        job.update_time = now()
        return Response.of_json({})

    # -- running a study ---------------------------------------------------------------

    def _launch(self, job: Any, search: _Search, number: int) -> tuple[Any, str, Path]:
        trial_id = str(number + 1)
        key = f"{job.name}/trials/{trial_id}"
        params = search.ask(key, number)
        spec = copy.deepcopy(job.trial_job_spec)
        base = spec.base_output_directory.output_uri_prefix.rstrip("/")
        spec.base_output_directory = v1.GcsDestination(output_uri_prefix=f"{base}/{trial_id}")
        metrics = self.emulator.gcs.root.parent / "hypertune" / job.name.rsplit("/", 1)[-1]
        metrics = metrics / trial_id / "output.metrics"
        for pool in spec.worker_pool_specs:
            pool.container_spec.args.extend(f"--{k}={v}" for k, v in params.items())
            pool.container_spec.env.extend(
                [
                    v1.EnvVar(name="CLOUD_ML_TRIAL_ID", value=trial_id),
                    v1.EnvVar(name="CLOUD_ML_HP_METRIC_FILE", value=str(metrics)),
                ]
            )
        custom = v1.CustomJob(display_name=f"{job.display_name}-trial-{trial_id}", job_spec=spec)
        with self.store.lock:
            custom.name = f"{job.name.split('/hyperparameterTuningJobs/')[0]}/customJobs/"
            custom.name += self.store.new_id()
            custom.state = v1.JobState.JOB_STATE_PENDING
            custom.create_time = custom.update_time = now()
            self.store.jobs[custom.name] = custom
            trial = v1.Trial(
                id=trial_id,
                state=v1.Trial.State.ACTIVE,
                parameters=[v1.Trial.Parameter(parameter_id=k, value=v) for k, v in params.items()],
                start_time=now(),
                custom_job=custom.name,
            )
            job.trials.append(trial)
        self.emulator.start_job(custom.name)
        return custom, key, metrics

    @staticmethod
    def _measurements(path: Path, metric: str) -> list[Any]:
        out = []
        try:
            lines = path.read_text().splitlines()
        except OSError:
            return []
        for line in lines:
            try:
                row = json.loads(line)
                value = float(row[metric])
            except (ValueError, KeyError, TypeError):
                continue
            out.append(
                v1.Measurement(
                    step_count=int(row.get("global_step") or 0),
                    metrics=[v1.Measurement.Metric(metric_id=metric, value=value)],
                )
            )
        return out

    def _run(self, job: Any) -> None:
        try:
            self._study(job)
        except Exception as exc:  # the fake's own failure fails the job, visibly
            job.state = v1.JobState.JOB_STATE_FAILED
            job.error = {"code": 13, "message": f"fake: {exc!r}"}
            job.end_time = job.update_time = now()

    def _study(self, job: Any) -> None:
        search = _Search(job.study_spec)
        metric = job.study_spec.metrics[0].metric_id
        budget = min(job.max_trial_count, search.size() or job.max_trial_count)
        job.state = v1.JobState.JOB_STATE_RUNNING
        job.start_time = job.update_time = now()
        running: list[tuple[Any, str, Path, int]] = []
        launched = succeeded = 0
        while True:
            cancelling = job.state == v1.JobState.JOB_STATE_CANCELLING or self.closing.is_set()
            while not cancelling and len(running) < job.parallel_trial_count and launched < budget:
                custom, key, path = self._launch(job, search, launched)
                running.append((custom, key, path, launched))
                launched += 1
                job.update_time = now()
            for item in list(running):
                custom, key, path, index = item
                if cancelling and custom.state not in DONE:
                    custom.state = v1.JobState.JOB_STATE_CANCELLING
                    self.emulator.cancel_job(custom.name)
                if custom.state not in DONE:
                    continue
                running.remove(item)
                trial = job.trials[index]
                found = self._measurements(path, metric)
                trial.measurements = found[:-1]
                trial.end_time = now()
                if custom.state == v1.JobState.JOB_STATE_SUCCEEDED and found:
                    trial.final_measurement = found[-1]
                    trial.state = v1.Trial.State.SUCCEEDED
                    succeeded += 1
                    search.tell(key, found[-1].metrics[0].value)
                else:
                    trial.state = v1.Trial.State.INFEASIBLE
                    trial.infeasible_reason = (
                        custom.error.message
                        if custom.state != v1.JobState.JOB_STATE_SUCCEEDED
                        else f"The trial reported no measurement of {metric} (cloudml-hypertune)."
                    )
                    search.tell(key, None)
                job.update_time = now()
            if not running and (cancelling or launched >= budget):
                break
            time.sleep(0.1)
        job.end_time = job.update_time = dt.datetime.now(dt.timezone.utc)
        if cancelling:
            job.state = v1.JobState.JOB_STATE_CANCELLED
            job.error = {"code": 1, "message": "CANCELED"}
        elif succeeded:
            job.state = v1.JobState.JOB_STATE_SUCCEEDED
        else:
            job.state = v1.JobState.JOB_STATE_FAILED
            job.error = {"code": 9, "message": "All trials failed or reported no measurement."}
