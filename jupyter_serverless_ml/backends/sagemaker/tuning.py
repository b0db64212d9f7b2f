"""The tuning part of the SageMaker backend: a study is a HyperParameterTuningJob.

- The cell's bundle goes to S3 and its trials' training job is the one ``%%train`` would
  create (:meth:`Training._training_definition`): same image, entry script, channels,
  limits; the fixed ``--hp`` are ``StaticHyperParameters``.
- ``--param``: ``loguniform`` is a ``ContinuousParameterRange`` with ``ScalingType``
  ``Logarithmic``, ``uniform`` ``Linear``; ``int(LOW,HIGH)`` an ``IntegerParameterRange``;
  ``choice`` (and a stepped ``int``, and every parameter under grid search) a
  ``CategoricalParameterRange`` whose values are JSON (``"l1"``, ``3``), decoded back to
  their types by the runtime as every hyperparameter is.
- ``--objective`` is ``HyperParameterTuningJobObjective`` over a ``MetricDefinition``
  matching the ``#jsml-metric`` lines ``log_metric`` prints (the last match is the
  trial's objective, as locally); ``--strategy tpe|random|grid`` is ``Bayesian|Random|Grid``;
  ``--trials``/``--parallel`` are ``ResourceLimits`` (grid: SageMaker counts the grid);
  ``--early-stop`` is ``TrainingJobEarlyStoppingType=Auto``; ``--seed`` ``RandomSeed``.
- Trials are ``ListTrainingJobsForHyperParameterTuningJob``, numbered by creation; when the
  tuning job has Completed, the best trial's ``model.tar.gz`` is registered (once) as a
  version of ``--model-name`` in its model package group with ``jsml:tuning``.
- A tuning job's name is at most 32 characters: ``NAME[:19]-YYMMDDHHMMSS``; ``study(NAME)``
  is the newest one. SageMaker cannot continue an ended tuning job, so ``resume_study``
  re-attaches to a running one only.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...packaging import Bundle
from ...statuses import StudyStatus, TrialStatus
from ..cloud_tuning import best_of, check_request, counts, number_trials, tuning_metadata
from ..tuning_part import StudyRecord, StudyRequest, TrialRecord, Tuning
from .jobs import decode_hyperparameters, metric_definitions, resource_name, timestamp
from .registry import JOB_PREFIX, RegistryPart
from .training import Training

STRATEGIES = {"tpe": "Bayesian", "random": "Random", "grid": "Grid"}
STATUSES = {
    "InProgress": StudyStatus.RUNNING,
    "Stopping": StudyStatus.STOPPING,
    "Completed": StudyStatus.COMPLETED,
    "Failed": StudyStatus.FAILED,
    "Stopped": StudyStatus.STOPPED,
    "Deleting": StudyStatus.STOPPED,
    "DeleteFailed": StudyStatus.FAILED,
}
MAX_TRIALS = 750  # SageMaker's quota of training jobs per tuning job
MAX_PARALLEL = 100
MAX_CATEGORIES = 30
TUNING_KEY = "jsml:tuning"
_TUNING_NAME = re.compile(r"^(?P<name>.+)-(?P<stamp>\d{12})$")


def tuning_job_name(name: str) -> str:
    """A fresh HyperParameterTuningJobName for study ``name`` (at most 32 characters)."""
    return f"{resource_name(name, 19)}-{time.strftime('%y%m%d%H%M%S', time.gmtime())}"


def _categories(name: str, values: list[Any]) -> dict[str, Any]:
    if len(values) > MAX_CATEGORIES:
        raise UsageError(
            f"parameter {name} has {len(values)} values; SageMaker takes at most "
            f"{MAX_CATEGORIES} per categorical range: use fewer, or int(LOW,HIGH) with step 1"
        )
    return {"Name": name, "Values": [json.dumps(v) for v in values]}


def parameter_ranges(space: dict[str, dict[str, Any]], strategy: str) -> dict[str, list[Any]]:
    """SageMaker ``ParameterRanges`` of a search space (see the module docstring)."""
    ranges: dict[str, list[Any]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for name, spec in space.items():
        kind = spec["kind"]
        if kind == "choice":
            ranges["CategoricalParameterRanges"].append(_categories(name, list(spec["values"])))
        elif kind == "int" and (spec["step"] != 1 or strategy == "grid"):
            values = list(range(spec["low"], spec["high"] + 1, spec["step"]))
            ranges["CategoricalParameterRanges"].append(_categories(name, values))
        elif kind == "int":
            ranges["IntegerParameterRanges"].append(
                {
                    "Name": name,
                    "MinValue": str(spec["low"]),
                    "MaxValue": str(spec["high"]),
                    "ScalingType": "Linear",
                }
            )
        else:
            ranges["ContinuousParameterRanges"].append(
                {
                    "Name": name,
                    "MinValue": repr(float(spec["low"])),
                    "MaxValue": repr(float(spec["high"])),
                    "ScalingType": "Logarithmic" if kind == "loguniform" else "Linear",
                }
            )
    return {k: v for k, v in ranges.items() if v}


def space_of(ranges: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The search space back from ``ParameterRanges`` (a stepped int comes back as a choice)."""
    space: dict[str, dict[str, Any]] = {}
    for item in ranges.get("ContinuousParameterRanges") or []:
        kind = "loguniform" if item.get("ScalingType") == "Logarithmic" else "uniform"
        space[item["Name"]] = {
            "kind": kind,
            "low": float(item["MinValue"]),
            "high": float(item["MaxValue"]),
        }
    for item in ranges.get("IntegerParameterRanges") or []:
        low, high = int(item["MinValue"]), int(item["MaxValue"])
        space[item["Name"]] = {"kind": "int", "low": low, "high": high, "step": 1}
    for item in ranges.get("CategoricalParameterRanges") or []:
        values = list(
            decode_hyperparameters({str(i): v for i, v in enumerate(item["Values"])}).values()
        )
        space[item["Name"]] = {"kind": "choice", "values": values}
    return space


def trial_status(summary: dict[str, Any], early_stop: bool, study_stopped: bool) -> str:
    """A trial's :class:`TrialStatus` from its training job summary (a job the tuning job
    stopped on its own under early stopping is Pruned)."""
    status = str(summary.get("TrainingJobStatus"))
    if status == "Completed":
        if summary.get("ObjectiveStatus") == "Failed":
            return TrialStatus.FAILED
        return TrialStatus.COMPLETED
    if status in ("InProgress", "Stopping") and not study_stopped:
        return TrialStatus.RUNNING
    if status in ("Stopped", "Stopping"):
        return TrialStatus.PRUNED if early_stop and not study_stopped else TrialStatus.STOPPED
    if status == "InProgress":
        return TrialStatus.RUNNING
    return TrialStatus.FAILED


class SageMakerTuning(Training, RegistryPart, Tuning):
    """HyperParameterTuningJobs (mixed into :class:`SageMakerBackend`)."""

    # -- submit ------------------------------------------------------------------

    def submit_study(self, bundle: Bundle, request: StudyRequest) -> StudyRecord:
        checked = check_request(request, MAX_TRIALS, MAX_PARALLEL)
        space = checked["space"]
        ranges = parameter_ranges(space, request.strategy)
        try:
            running = self._newest(request.name)
        except NotFound:
            running = None
        if running is not None and running["HyperParameterTuningJobStatus"] == "InProgress":
            raise Conflict(
                f"study {request.name} is running as tuning job "
                f"{running['HyperParameterTuningJobName']}; stop it first "
                f"(%tune --stop {request.name}) or choose another --name"
            )
        name = tuning_job_name(request.name)
        definition, note = self._training_definition(bundle, request.training, name)
        hyperparameters = dict(definition.pop("HyperParameters"))
        hyperparameters.pop("sagemaker_job_name", None)  # each trial has its own name
        algorithm = dict(definition.pop("AlgorithmSpecification"))
        algorithm.pop("EnableSageMakerMetricsTimeSeries", None)
        found, _ = metric_definitions([request.objective])
        if not any(d["Name"] == request.objective for d in algorithm["MetricDefinitions"]):
            algorithm["MetricDefinitions"] = [*found, *algorithm["MetricDefinitions"]][:40]
        definition.pop("Tags", None)
        limits: dict[str, int] = {"MaxParallelTrainingJobs": checked["parallel"]}
        if request.strategy != "grid":
            limits["MaxNumberOfTrainingJobs"] = checked["trials"]
        config: dict[str, Any] = {
            "Strategy": STRATEGIES[request.strategy],
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize" if request.direction == "maximize" else "Minimize",
                "MetricName": request.objective,
            },
            "ResourceLimits": limits,
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": "Auto" if request.early_stop else "Off",
        }
        if request.seed is not None:
            config["RandomSeed"] = int(request.seed)
        self.aws.call(
            "sagemaker",
            "create_hyper_parameter_tuning_job",
            f"creating tuning job {name}",
            HyperParameterTuningJobName=name,
            HyperParameterTuningJobConfig=config,
            TrainingJobDefinition={
                **definition,
                "StaticHyperParameters": hyperparameters,
                "AlgorithmSpecification": algorithm,
            },
            Tags=self.tags(
                name=request.name,
                model_name=request.model_name or request.name,
                bundle_hash=bundle.hash,
            ),
        )
        self.notice(
            f"tuning job {name} submitted: {checked['trials']} trials, {checked['parallel']} at "
            f"a time, {config['Strategy']} ({note})"
        )
        return self._study(self._describe_tuning(name))

    # -- look up -----------------------------------------------------------------

    def _describe_tuning(self, name: str) -> dict[str, Any]:
        return dict(
            self.aws.call(
                "sagemaker",
                "describe_hyper_parameter_tuning_job",
                f"reading tuning job {name}",
                HyperParameterTuningJobName=name,
            )
        )

    def _tuning_jobs(self, name: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending"}
        if name is not None:
            kwargs["NameContains"] = resource_name(name, 19)
        found: list[dict[str, Any]] = []
        with self.errors("listing tuning jobs"):
            pages = self.aws.client("sagemaker").get_paginator("list_hyper_parameter_tuning_jobs")
            for page in pages.paginate(**kwargs):
                found += page.get("HyperParameterTuningJobSummaries", [])
        out = []
        for item in found:
            match = _TUNING_NAME.match(str(item["HyperParameterTuningJobName"]))
            if match and (name is None or match["name"] == resource_name(name, 19)):
                out.append(item)
        return sorted(out, key=lambda s: s["HyperParameterTuningJobName"][-12:], reverse=True)

    def _newest(self, name: str) -> dict[str, Any]:
        found = self._tuning_jobs(name)
        if not found:
            raise NotFound(
                f"no SageMaker tuning job for study {name!r} in {self.region} "
                "(%studies --backend sagemaker lists them)"
            )
        return self._describe_tuning(str(found[0]["HyperParameterTuningJobName"]))

    def _jsml_tags(self, arn: str) -> dict[str, str]:
        try:
            reply = self.aws.call(
                "sagemaker", "list_tags", f"reading the tags of {arn}", ResourceArn=arn
            )
        except NotFound:
            return {}
        return {
            t["Key"][5:]: t["Value"] for t in reply.get("Tags", []) if t["Key"].startswith("jsml:")
        }

    def _trial_summaries(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        with self.errors(f"listing the trials of tuning job {name}"):
            pages = self.aws.client("sagemaker").get_paginator(
                "list_training_jobs_for_hyper_parameter_tuning_job"
            )
            for page in pages.paginate(HyperParameterTuningJobName=name, SortBy="CreationTime"):
                found += page.get("TrainingJobSummaries", [])
        return sorted(
            found, key=lambda s: (timestamp(s.get("CreationTime")) or 0.0, s["TrainingJobName"])
        )

    def _trials(self, desc: dict[str, Any], early_stop: bool) -> tuple[TrialRecord, ...]:
        stopped = desc["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
        rows = []
        for number, item in enumerate(self._trial_summaries(desc["HyperParameterTuningJobName"])):
            start, end = (
                timestamp(item.get("TrainingStartTime")),
                timestamp(item.get("TrainingEndTime")),
            )
            objective = item.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
            status = trial_status(item, early_stop, stopped)
            reason = item.get("FailureReason") or None
            if status == TrialStatus.FAILED and not reason:
                reason = "the trial logged no objective metric"
            rows.append(
                TrialRecord(
                    number=number,
                    status=status,
                    params=decode_hyperparameters(dict(item.get("TunedHyperParameters") or {})),
                    value=float(objective["Value"]) if "Value" in objective else None,
                    job_id=str(item["TrainingJobName"]),
                    started_at=start,
                    ended_at=end,
                    duration=(end - start) if start is not None and end is not None else None,
                    reason=reason,
                    details={
                        "arn": item.get("TrainingJobArn"),
                        "created_at": timestamp(item.get("CreationTime")),
                    },
                )
            )
        return tuple(rows)

    def _study(
        self, desc: dict[str, Any], with_trials: bool = True, register: bool = True
    ) -> StudyRecord:
        name = str(desc["HyperParameterTuningJobName"])
        config = desc.get("HyperParameterTuningJobConfig") or {}
        objective = config.get("HyperParameterTuningJobObjective") or {}
        direction = "maximize" if objective.get("Type") == "Maximize" else "minimize"
        early_stop = config.get("TrainingJobEarlyStoppingType") == "Auto"
        space = space_of(config.get("ParameterRanges") or {})
        limits = config.get("ResourceLimits") or {}
        strategy = {v: k for k, v in STRATEGIES.items()}.get(
            str(config.get("Strategy")), str(config.get("Strategy")).lower()
        )
        budget = int(limits.get("MaxNumberOfTrainingJobs") or 0)
        if not budget and strategy == "grid":
            from ...platform.tuning.space import grid_size

            budget = grid_size(space)
        trials = number_trials(self._trials(desc, early_stop), direction) if with_trials else ()
        status = STATUSES.get(str(desc["HyperParameterTuningJobStatus"]), StudyStatus.RUNNING)
        tags = self._jsml_tags(str(desc["HyperParameterTuningJobArn"]))
        match = _TUNING_NAME.match(name)
        jsml_name = tags.get("name") or (match["name"] if match else name)
        model_name = tags.get("model-name") or jsml_name
        best = best_of(trials, direction) if with_trials else None
        version: int | None = None
        failure = desc.get("FailureReason") or None
        if status == StudyStatus.COMPLETED and with_trials:
            if best is None:
                status, failure = (
                    StudyStatus.FAILED,
                    failure or "no trial completed with an objective value",
                )
            elif register:
                try:
                    version = self._register_best(jsml_name, model_name, best, objective, direction)
                except NotFound as exc:
                    failure = f"the best trial's model could not be registered: {exc}"
        times = [
            t
            for t in (timestamp(desc.get("CreationTime")), timestamp(desc.get("LastModifiedTime")))
            if t
        ]
        for trial in trials:
            times += [
                t for t in (trial.details.get("created_at"), trial.started_at, trial.ended_at) if t
            ]
        ended = (
            timestamp(desc.get("HyperParameterTuningEndTime"))
            if status not in (StudyStatus.RUNNING, StudyStatus.STOPPING)
            else None
        )
        return StudyRecord(
            name=jsml_name,
            status=status,
            objective=str(objective.get("MetricName") or ""),
            direction=direction,
            strategy=strategy,
            trials_budget=budget,
            parallel=int(limits.get("MaxParallelTrainingJobs") or 1),
            early_stop=early_stop,
            space=space,
            created_at=timestamp(desc.get("CreationTime")) or 0.0,
            updated_at=max(times) if times else 0.0,
            ended_at=ended,
            counts=counts(trials) if with_trials else dict(self._counts(desc)),
            best=best,
            model_name=model_name,
            model_version=version,
            failure_reason=failure,
            trials=trials,
            details={
                "tuning_job": name,
                "arn": desc.get("HyperParameterTuningJobArn"),
                "sagemaker_strategy": config.get("Strategy"),
                "console_url": f"https://{self.region}.console.aws.amazon.com/sagemaker/home?"
                f"region={self.region}#/hyper-tuning-jobs/{name}",
            },
        )

    @staticmethod
    def _counts(desc: dict[str, Any]) -> dict[str, int]:
        raw = desc.get("TrainingJobStatusCounters") or {}
        return {
            TrialStatus.RUNNING.value: int(raw.get("InProgress") or 0),
            TrialStatus.COMPLETED.value: int(raw.get("Completed") or 0),
            TrialStatus.PRUNED.value: 0,
            TrialStatus.FAILED.value: int(raw.get("RetryableError") or 0)
            + int(raw.get("NonRetryableError") or 0),
            TrialStatus.STOPPED.value: int(raw.get("Stopped") or 0),
        }

    def _register_best(
        self,
        study: str,
        model_name: str,
        best: dict[str, Any],
        objective: dict[str, Any],
        direction: str,
    ) -> int | None:
        """Register the best trial's model (once: a package names its job) and return its version."""
        job_id = str(best["job_id"])
        for package in self._packages(resource_name(model_name)):
            if package.get("ModelPackageDescription") == JOB_PREFIX + job_id:
                return int(package["ModelPackageVersion"])
        record = self._record(self._describe(job_id), registry=False)
        artifact = record.details.get("model_artifact")
        meta = self._flavor_of(str(artifact)) if artifact else {}
        if not meta:
            raise NotFound(f"trial job {job_id} saved no model")
        image = self.inference_image or str(record.spec.get("image") or "")
        model = self._create_package(model_name, str(artifact), image, JOB_PREFIX + job_id, meta)
        tuning = tuning_metadata(study, best, str(objective.get("MetricName")), direction)
        text = json.dumps(tuning, separators=(",", ":"), default=str)
        if len(text) > 256:  # a customer metadata value holds 256 characters
            text = json.dumps({k: v for k, v in tuning.items() if k != "parameters"}, default=str)
        params = json.dumps(best["params"], separators=(",", ":"), default=str)
        self._update_package(
            model,
            f"recording the tuning of {model.ref}",
            **{TUNING_KEY: text, "jsml:hyperparameters": params[:256]},
        )
        return model.version

    # -- the protocol ------------------------------------------------------------

    def study(self, name: str, wait: float | None = None, since: float = 0.0) -> StudyRecord:
        record = self._study(self._newest(name))
        if wait is None:
            return record
        deadline = time.monotonic() + max(0.0, wait)
        while not record.ended and record.updated_at <= since and time.monotonic() < deadline:
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            record = self._study(self._describe_tuning(str(record.details["tuning_job"])))
        return record

    def studies(self) -> list[StudyRecord]:
        names = [str(s["HyperParameterTuningJobName"]) for s in self._tuning_jobs()]
        seen: set[str] = set()
        newest = []
        for item in names:
            jsml = item[:-13]
            if jsml not in seen:
                seen.add(jsml)
                newest.append(item)
        with ThreadPoolExecutor(max_workers=8) as pool:
            descs = list(pool.map(self._describe_tuning, newest))
        return [self._study(d, with_trials=False) for d in descs]

    def stop_study(self, name: str) -> StudyRecord:
        desc = self._newest(name)
        if desc["HyperParameterTuningJobStatus"] == "InProgress":
            self.aws.call(
                "sagemaker",
                "stop_hyper_parameter_tuning_job",
                f"stopping tuning job {desc['HyperParameterTuningJobName']}",
                HyperParameterTuningJobName=desc["HyperParameterTuningJobName"],
            )
        return self._study(self._describe_tuning(str(desc["HyperParameterTuningJobName"])))

    def resume_study(
        self, name: str, trials: int | None = None, parallel: int | None = None
    ) -> StudyRecord:
        record = self.study(name)
        if record.ended:
            raise UsageError(
                f"study {name} ended ({record.status}) as SageMaker tuning job "
                f"{record.details.get('tuning_job')}; SageMaker cannot continue an ended tuning "
                f"job: run %%tune again (a new tuning job) to search more"
            )
        if trials is not None or parallel is not None:
            self.notice(
                "--trials and --parallel cannot change a running SageMaker tuning job; "
                "re-attached to it as it is"
            )
        return record


__all__ = ["SageMakerTuning", "parameter_ranges", "space_of", "trial_status", "tuning_job_name"]
