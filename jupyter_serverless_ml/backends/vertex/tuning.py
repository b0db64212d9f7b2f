"""The tuning part of the Vertex backend: a study is a HyperparameterTuningJob.

- ``trial_job_spec`` is the CustomJob spec ``%%train`` would create for the cell
  (:meth:`VertexTraining._custom_job`); Vertex appends each trial's ``--NAME=VALUE`` to the
  container's arguments, which the bootstrap adds to the hyperparameters, and gives each
  trial its own ``<base output>/<trial id>/`` (model, metrics).
- ``study_spec``: the ``--objective`` metric with goal MAXIMIZE/MINIMIZE; ``loguniform`` is a
  ``double_value_spec`` with ``UNIT_LOG_SCALE``, ``uniform`` ``UNIT_LINEAR_SCALE``;
  ``int(LOW,HIGH)`` an ``integer_value_spec``; ``choice`` (and a stepped ``int``) a
  ``categorical_value_spec`` of JSON values; ``--strategy tpe|random|grid`` is
  ``ALGORITHM_UNSPECIFIED`` (Vertex's Bayesian optimization) / ``RANDOM_SEARCH`` /
  ``GRID_SEARCH``; ``--early-stop`` is ``median_automated_stopping_spec``;
  ``--trials``/``--parallel`` are ``max_trial_count``/``parallel_trial_count``, and a
  failed trial is not fatal (``max_failed_trial_count`` = the budget).
- The objective reaches Vertex the way cloudml-hypertune reports it: under a trial,
  ``log_metric`` also appends to ``/tmp/hypertune/output.metrics``
  (:mod:`jupyter_serverless_ml.runtime.hypertune`).
- When the job has succeeded, the best trial's model is registered (once) as a version of
  ``--model-name`` with the labels ``jsml-study`` and ``jsml-trial``.
- ``study(NAME)`` is the newest tuning job of that display name; Vertex cannot continue an
  ended one, so ``resume_study`` re-attaches to a running one only.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...packaging import Bundle
from ...statuses import StudyStatus, TrialStatus
from ..cloud_tuning import best_of, check_request, counts, number_trials
from ..tuning_part import StudyRecord, StudyRequest, TrialRecord, Tuning
from .core import LABEL_FILTER, labels, quoted, timestamp
from .registry import VertexRegistry
from .training import VertexTraining

ALGORITHMS = {"tpe": "ALGORITHM_UNSPECIFIED", "random": "RANDOM_SEARCH", "grid": "GRID_SEARCH"}
STATES = {
    "JOB_STATE_QUEUED": StudyStatus.RUNNING,
    "JOB_STATE_PENDING": StudyStatus.RUNNING,
    "JOB_STATE_RUNNING": StudyStatus.RUNNING,
    "JOB_STATE_CANCELLING": StudyStatus.STOPPING,
    "JOB_STATE_SUCCEEDED": StudyStatus.COMPLETED,
    "JOB_STATE_FAILED": StudyStatus.FAILED,
    "JOB_STATE_EXPIRED": StudyStatus.FAILED,
    "JOB_STATE_CANCELLED": StudyStatus.STOPPED,
}
MAX_TRIALS = 1000
MAX_PARALLEL = 100


def parameter_specs(space: dict[str, dict[str, Any]]) -> list[Any]:
    """Vertex ``StudySpec.ParameterSpec``s of a search space (see the module docstring)."""
    from google.cloud import aiplatform_v1 as v1

    spec_type = v1.StudySpec.ParameterSpec
    out = []
    for name, spec in space.items():
        kind = spec["kind"]
        if kind == "choice" or (kind == "int" and spec["step"] != 1):
            values = (
                list(spec["values"])
                if kind == "choice"
                else list(range(spec["low"], spec["high"] + 1, spec["step"]))
            )
            out.append(
                spec_type(
                    parameter_id=name,
                    categorical_value_spec=spec_type.CategoricalValueSpec(
                        values=[json.dumps(v) for v in values]
                    ),
                )
            )
        elif kind == "int":
            out.append(
                spec_type(
                    parameter_id=name,
                    integer_value_spec=spec_type.IntegerValueSpec(
                        min_value=spec["low"], max_value=spec["high"]
                    ),
                    scale_type=spec_type.ScaleType.UNIT_LINEAR_SCALE,
                )
            )
        else:
            scale = "UNIT_LOG_SCALE" if kind == "loguniform" else "UNIT_LINEAR_SCALE"
            out.append(
                spec_type(
                    parameter_id=name,
                    double_value_spec=spec_type.DoubleValueSpec(
                        min_value=float(spec["low"]), max_value=float(spec["high"])
                    ),
                    scale_type=getattr(spec_type.ScaleType, scale),
                )
            )
    return out


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def space_of(parameters: Any) -> dict[str, dict[str, Any]]:
    """The search space back from ``study_spec.parameters``."""
    space: dict[str, dict[str, Any]] = {}
    for p in parameters:
        if "double_value_spec" in p:
            log = p.scale_type.name == "UNIT_LOG_SCALE"
            space[p.parameter_id] = {
                "kind": "loguniform" if log else "uniform",
                "low": float(p.double_value_spec.min_value),
                "high": float(p.double_value_spec.max_value),
            }
        elif "integer_value_spec" in p:
            space[p.parameter_id] = {
                "kind": "int",
                "low": int(p.integer_value_spec.min_value),
                "high": int(p.integer_value_spec.max_value),
                "step": 1,
            }
        elif "categorical_value_spec" in p:
            values = [_decoded(v) for v in p.categorical_value_spec.values]
            space[p.parameter_id] = {"kind": "choice", "values": values}
        elif "discrete_value_spec" in p:
            space[p.parameter_id] = {"kind": "choice", "values": list(p.discrete_value_spec.values)}
    return space


class VertexTuning(VertexTraining, VertexRegistry, Tuning):
    """HyperparameterTuningJobs (mixed into :class:`VertexBackend`)."""

    def submit_study(self, bundle: Bundle, request: StudyRequest) -> StudyRecord:
        from google.cloud import aiplatform_v1 as v1

        checked = check_request(request, MAX_TRIALS, MAX_PARALLEL)
        if request.strategy == "grid":
            from ...platform.tuning.space import grid

            grid(checked["space"])  # a continuous parameter is refused with the fix
        running = self._tuning_jobs(request.name)
        if running and STATES.get(running[0].state.name) == StudyStatus.RUNNING:
            raise Conflict(
                f"study {request.name} is running as Vertex tuning job {running[0].name}; stop "
                f"it first (%tune --stop {request.name}) or choose another --name"
            )
        custom = self._custom_job(bundle, request.training)
        goal = v1.StudySpec.MetricSpec.GoalType
        study = v1.StudySpec(
            metrics=[
                v1.StudySpec.MetricSpec(
                    metric_id=request.objective,
                    goal=goal.MAXIMIZE if request.direction == "maximize" else goal.MINIMIZE,
                )
            ],
            parameters=parameter_specs(checked["space"]),
            algorithm=getattr(v1.StudySpec.Algorithm, ALGORITHMS[request.strategy]),
        )
        if request.early_stop:
            study.median_automated_stopping_spec = v1.StudySpec.MedianAutomatedStoppingSpec(
                use_elapsed_duration=False
            )
        job = v1.HyperparameterTuningJob(
            display_name=request.name,
            study_spec=study,
            max_trial_count=checked["trials"],
            parallel_trial_count=checked["parallel"],
            max_failed_trial_count=checked["trials"],
            trial_job_spec=custom.job_spec,
            labels=labels("study", name=request.name, model=request.model_name or request.name),
        )
        created = self._call(
            f"creating the Vertex AI tuning job {request.name}",
            self.client("job").create_hyperparameter_tuning_job,
            parent=self.settings.parent,
            hyperparameter_tuning_job=job,
        )
        return self._study(created, register=False)

    # -- reading -------------------------------------------------------------------

    def _tuning_jobs(self, name: str | None = None) -> list[Any]:
        query = LABEL_FILTER + (f" AND display_name={quoted(name)}" if name else "")
        pager = self._call(
            "listing Vertex AI tuning jobs",
            self.client("job").list_hyperparameter_tuning_jobs,
            request={"parent": self.settings.parent, "filter": query, "page_size": 100},
        )
        found = self._call("listing Vertex AI tuning jobs", list, pager)
        return sorted(found, key=lambda j: timestamp(j.create_time) or 0, reverse=True)

    def _newest(self, name: str) -> Any:
        found = self._tuning_jobs(name)
        if not found:
            raise NotFound(
                f"no Vertex AI tuning job for study {name!r} (%studies --backend vertex)"
            )
        return found[0]

    def _trials(self, job: Any, space: dict[str, Any], ended: bool) -> list[TrialRecord]:
        metric = job.study_spec.metrics[0].metric_id
        base = job.trial_job_spec.base_output_directory.output_uri_prefix.rstrip("/")
        cancelled = job.state.name in ("JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED")
        rows = []
        ordered = sorted(job.trials, key=lambda t: int(t.id) if t.id.isdigit() else 0)
        for number, trial in enumerate(ordered):
            params = {}
            for p in trial.parameters:
                value = _decoded(p.value)
                if space.get(p.parameter_id, {}).get("kind") == "int":
                    value = int(value)
                params[p.parameter_id] = value
            final = [m.value for m in trial.final_measurement.metrics if m.metric_id == metric]
            state = trial.state.name
            reason = trial.infeasible_reason or None
            if state == "SUCCEEDED" and final:
                status = TrialStatus.COMPLETED
            elif state in ("ACTIVE", "REQUESTED", "STOPPING") and not ended:
                status = TrialStatus.RUNNING
            elif cancelled and state != "SUCCEEDED":
                status = TrialStatus.STOPPED
            else:
                status = TrialStatus.FAILED
                reason = reason or f"the trial reported no {metric}"
            start, end = timestamp(trial.start_time), timestamp(trial.end_time)
            rows.append(
                TrialRecord(
                    number=number,
                    status=status,
                    params=params,
                    value=float(final[-1]) if final else None,
                    job_id=trial.custom_job.rsplit("/", 1)[-1] if trial.custom_job else None,
                    started_at=start,
                    ended_at=end,
                    duration=(end - start) if start and end else None,
                    reason=reason if status != TrialStatus.COMPLETED else None,
                    details={"trial_id": trial.id, "output_uri": f"{base}/{trial.id}"},
                )
            )
        return rows

    def _study(self, job: Any, with_trials: bool = True, register: bool = True) -> StudyRecord:
        status = STATES.get(job.state.name, StudyStatus.RUNNING)
        metric = job.study_spec.metrics[0]
        direction = "maximize" if metric.goal.name == "MAXIMIZE" else "minimize"
        space = space_of(job.study_spec.parameters)
        ended = status not in (StudyStatus.RUNNING, StudyStatus.STOPPING)
        trials = number_trials(self._trials(job, space, ended), direction)
        best = best_of(trials, direction)
        label = dict(job.labels)
        model_name = label.get("jsml-model") or job.display_name
        version: int | None = None
        failure = job.error.message or None if status == StudyStatus.FAILED else None
        if status == StudyStatus.COMPLETED and best is not None and register:
            trial = next(t for t in trials if t.number == best["number"])
            number = job.name.rsplit("/", 1)[-1]
            model = self._model_for_job(
                f"{number}-t{trial.details['trial_id']}", trial.details["output_uri"], model_name
            )
            if model is None:
                failure = "the best trial's model could not be registered: it saved no model"
            else:
                version = model.version
                done: set[str] = self.__dict__.setdefault("_studies_labelled", set())
                if model.details["resource_name"] not in done:
                    done.add(model.details["resource_name"])
                    self._relabel(
                        model,
                        f"labelling {model.ref} with its study",
                        **{
                            "jsml-study": label.get("jsml-name", ""),
                            "jsml-trial": str(trial.number),
                        },
                    )
        strategy = {v: k for k, v in ALGORITHMS.items()}.get(job.study_spec.algorithm.name, "tpe")
        number = job.name.rsplit("/", 1)[-1]
        times = [timestamp(job.create_time), timestamp(job.update_time)]
        times += [t.ended_at or t.started_at for t in trials]
        return StudyRecord(
            name=job.display_name,
            status=status,
            objective=metric.metric_id,
            direction=direction,
            strategy=strategy,
            trials_budget=int(job.max_trial_count),
            parallel=int(job.parallel_trial_count),
            early_stop="median_automated_stopping_spec" in job.study_spec,
            space=space,
            created_at=timestamp(job.create_time) or 0.0,
            updated_at=max([t for t in times if t] or [0.0]),
            ended_at=timestamp(job.end_time) if ended else None,
            counts=counts(trials),
            best=best,
            model_name=model_name,
            model_version=version,
            failure_reason=failure,
            trials=trials if with_trials else (),
            details={
                "resource_name": job.name,
                "tuning_job": number,
                "console_url": self.settings.console("training", number),
            },
        )

    # -- the protocol ----------------------------------------------------------------

    def study(self, name: str, wait: float | None = None, since: float = 0.0) -> StudyRecord:
        record = self._study(self._newest(name))
        if wait is None:
            return record
        deadline = time.monotonic() + max(0.0, wait)
        while not record.ended and record.updated_at <= since and time.monotonic() < deadline:
            time.sleep(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))
            record = self._study(self._newest(name))
        return record

    def studies(self) -> list[StudyRecord]:
        seen: set[str] = set()
        out = []
        for job in self._tuning_jobs():
            if job.display_name not in seen:
                seen.add(job.display_name)
                out.append(self._study(job, with_trials=False, register=False))
        return out

    def stop_study(self, name: str) -> StudyRecord:
        job = self._newest(name)
        if STATES.get(job.state.name) == StudyStatus.RUNNING:
            self._call(
                f"cancelling the Vertex AI tuning job {name}",
                self.client("job").cancel_hyperparameter_tuning_job,
                name=job.name,
            )
        return self._study(self._newest(name), register=False)

    def resume_study(
        self, name: str, trials: int | None = None, parallel: int | None = None
    ) -> StudyRecord:
        record = self.study(name)
        if record.ended:
            raise UsageError(
                f"study {name} ended ({record.status}) as Vertex tuning job "
                f"{record.details.get('tuning_job')}; Vertex cannot continue an ended tuning "
                "job: run %%tune again (a new tuning job) to search more"
            )
        return record


__all__ = ["VertexTuning", "parameter_specs", "space_of"]
