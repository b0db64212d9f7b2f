"""Hyperparameter tuning in the SageMaker emulator: moto stores a tuning job and marks it
Completed with a placeholder best job; this runs it as SageMaker does.

CreateHyperParameterTuningJob leaves the job InProgress, and a thread runs its trials: each
is a training job (``<tuning job>-<NNN>-<8 hex>``) created through moto's backend with the
definition's static hyperparameters plus the sampled ones (SageMaker's strings:
continuous and integer values as numbers, categorical values as given), so the emulator's
training really runs the uploaded bundle. The sampler is Optuna's: TPE for ``Bayesian``,
random for ``Random`` (seeded by ``RandomSeed``), every combination of the categorical
ranges in order for ``Grid``. At most ``MaxParallelTrainingJobs`` run at once, up to
``MaxNumberOfTrainingJobs``. A trial's objective is the last value the objective's
``MetricDefinitions`` regex matched in its log (the training job's
``FinalMetricDataList``); a trial without one has ``ObjectiveStatus`` Failed. With
``TrainingJobEarlyStoppingType=Auto`` a running trial whose best value so far at step
``i`` (the i-th match in its CloudWatch log) is worse than the median of earlier trials'
running averages at that step is stopped, as SageMaker's median rule does.
ListTrainingJobsForHyperParameterTuningJob and StopHyperParameterTuningJob (missing in
moto) are answered here; Describe shows the counters, the best training job and the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import re
import secrets
import statistics
import threading
import time
from typing import Any

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class _Sampler:
    """The search of one tuning job: ``ask()`` the next parameters, ``tell()`` a result."""

    def __init__(self, config: dict[str, Any]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.ranges = config.get("ParameterRanges") or {}
        self.maximize = config["HyperParameterTuningJobObjective"]["Type"] == "Maximize"
        self.grid: list[dict[str, str]] | None = None
        if config["Strategy"] == "Grid":
            cats = self.ranges.get("CategoricalParameterRanges") or []
            combos = itertools.product(*[c["Values"] for c in cats])
            self.grid = [dict(zip([c["Name"] for c in cats], combo, strict=True)) for combo in combos]
        seed = config.get("RandomSeed")
        sampler = (
            optuna.samplers.RandomSampler(seed=seed)
            if config["Strategy"] == "Random"
            else optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
        )
        direction = "maximize" if self.maximize else "minimize"
        self.study = optuna.create_study(direction=direction, sampler=sampler)
        self.asked: dict[str, Any] = {}

    def size(self) -> int | None:
        return None if self.grid is None else len(self.grid)

    def ask(self, key: str, number: int) -> dict[str, str]:
        if self.grid is not None:
            return dict(self.grid[number])
        trial = self.study.ask()
        self.asked[key] = trial
        out: dict[str, str] = {}
        for item in self.ranges.get("ContinuousParameterRanges") or []:
            log = item.get("ScalingType") == "Logarithmic"
            low, high = float(item["MinValue"]), float(item["MaxValue"])
            out[item["Name"]] = repr(trial.suggest_float(item["Name"], low, high, log=log))
        for item in self.ranges.get("IntegerParameterRanges") or []:
            low, high = int(item["MinValue"]), int(item["MaxValue"])
            out[item["Name"]] = str(trial.suggest_int(item["Name"], low, high))
        for item in self.ranges.get("CategoricalParameterRanges") or []:
            out[item["Name"]] = str(trial.suggest_categorical(item["Name"], list(item["Values"])))
        return out

    def tell(self, key: str, value: float | None) -> None:
        import optuna

        trial = self.asked.pop(key, None)
        if trial is None:
            return
        if value is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, value)


class TuningEmulation:
    """Mixed into the emulator: needs ``sagemaker``, ``clients``, ``lock``, ``threads``,
    ``_patch``, ``stop`` (a training job) and ``_fail``."""

    sagemaker: Any
    clients: dict[str, Any]
    lock: threading.Lock
    threads: list[threading.Thread]

    def install_tuning(self) -> None:
        """Hook moto's tuning jobs (undone with the emulator's other hooks)."""
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse

        emulator = self
        original = SageMakerModelBackend.create_hyper_parameter_tuning_job

        def create(backend: Any, **kwargs: Any) -> Any:
            emulator._fail("CreateHyperParameterTuningJob")  # type: ignore[attr-defined]
            arn = original(backend, **kwargs)
            job = backend.hyper_parameter_tuning_jobs[kwargs["hyper_parameter_tuning_job_name"]]
            job.hyper_parameter_tuning_job_status = "InProgress"
            job.hyper_parameter_tuning_end_time = None
            job.best_training_job = job.OverallBestTrainingJob = None
            job.tuning_job_completion_details = None
            job.training_job_status_counters = dict.fromkeys(
                ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
            )
            job.objective_status_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
            job.trials = []
            thread = threading.Thread(target=emulator._tune, args=(backend, job), daemon=True)
            emulator.threads.append(thread)
            thread.start()
            return arn

        def list_for_tuning_job(response: Any) -> Any:
            from moto.core.responses import ActionResult
            from moto.sagemaker.exceptions import ValidationError

            name = response._get_param("HyperParameterTuningJobName")
            job = response.sagemaker_backend.hyper_parameter_tuning_jobs.get(name)
            if job is None:
                raise ValidationError(f"Could not find hyper parameter tuning job '{name}'.")
            with emulator.lock:
                rows = [emulator._summary(job, t) for t in job.trials]
            return ActionResult({"TrainingJobSummaries": rows})

        def stop_tuning_job(response: Any) -> Any:
            from moto.core.responses import EmptyResult

            name = response._get_param("HyperParameterTuningJobName")
            job = response.sagemaker_backend.hyper_parameter_tuning_jobs[name]
            if job.hyper_parameter_tuning_job_status == "InProgress":
                job.hyper_parameter_tuning_job_status = "Stopping"
                job.last_modified_time = _now()
            return EmptyResult()

        self._patch(SageMakerModelBackend, "create_hyper_parameter_tuning_job", create)  # type: ignore[attr-defined]
        self._patch(  # type: ignore[attr-defined]
            SageMakerResponse,
            "list_training_jobs_for_hyper_parameter_tuning_job",
            list_for_tuning_job,
        )
        self._patch(SageMakerResponse, "stop_hyper_parameter_tuning_job", stop_tuning_job)  # type: ignore[attr-defined]

    def stop_tuning(self) -> None:
        """Stop every running tuning job (the emulator is going away)."""
        with contextlib.suppress(Exception):
            for job in self.sagemaker.hyper_parameter_tuning_jobs.values():
                if job.hyper_parameter_tuning_job_status == "InProgress":
                    job.hyper_parameter_tuning_job_status = "Stopping"

    # -- one tuning job --------------------------------------------------------------

    def _summary(self, job: Any, trial: dict[str, Any]) -> dict[str, Any]:
        training = trial["job"]
        row: dict[str, Any] = {
            "TrainingJobName": training.training_job_name,
            "TrainingJobArn": training.arn,
            "TuningJobName": job.hyper_parameter_tuning_job_name,
            "CreationTime": trial["created"],
            "TrainingJobStatus": training.training_job_status,
            "TunedHyperParameters": dict(trial["params"]),
        }
        if training.training_start_time:
            row["TrainingStartTime"] = training.training_start_time
        if training.training_end_time and training.training_job_status != "InProgress":
            row["TrainingEndTime"] = training.training_end_time
        if getattr(training, "failure_reason", None):
            row["FailureReason"] = training.failure_reason
        if trial.get("value") is not None:
            objective = job.hyper_parameter_tuning_job_config["HyperParameterTuningJobObjective"]
            row["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": objective["Type"],
                "MetricName": objective["MetricName"],
                "Value": trial["value"],
            }
        if trial.get("objective_status"):
            row["ObjectiveStatus"] = trial["objective_status"]
        return row

    def _launch(self, backend: Any, job: Any, sampler: _Sampler, number: int) -> dict[str, Any]:
        definition = job.training_job_definition
        name = f"{job.hyper_parameter_tuning_job_name}-{number + 1:03d}-{secrets.token_hex(4)}"
        params = sampler.ask(name, number)
        algorithm = dict(definition["AlgorithmSpecification"])
        training = backend.create_training_job(
            training_job_name=name,
            hyper_parameters={**dict(definition.get("StaticHyperParameters") or {}), **params},
            algorithm_specification=algorithm,
            role_arn=definition["RoleArn"],
            input_data_config=definition.get("InputDataConfig") or [],
            output_data_config=definition["OutputDataConfig"],
            resource_config=definition["ResourceConfig"],
            vpc_config=None,
            stopping_condition=definition["StoppingCondition"],
            tags=[],
            enable_network_isolation=False,
            enable_inter_container_traffic_encryption=False,
            enable_managed_spot_training=bool(definition.get("EnableManagedSpotTraining")),
            checkpoint_config=definition.get("CheckpointConfig"),
            debug_hook_config=None,
            debug_rule_configurations=None,
            tensor_board_output_config=None,
            experiment_config=None,
        )
        return {"job": training, "params": params, "created": _now(), "series": [], "token": None}

    def _objective_rule(self, job: Any) -> tuple[str, re.Pattern[str] | None]:
        config = job.hyper_parameter_tuning_job_config
        metric = config["HyperParameterTuningJobObjective"]["MetricName"]
        definitions = job.training_job_definition["AlgorithmSpecification"].get(
            "MetricDefinitions", []
        )
        regex = next((d["Regex"] for d in definitions if d["Name"] == metric), None)
        return metric, re.compile(regex) if regex else None

    def _read_series(self, trial: dict[str, Any], rule: re.Pattern[str]) -> None:
        """Append the objective's new matches in the trial's CloudWatch log."""
        name = trial["job"].training_job_name
        logs = self.clients["logs"]
        with contextlib.suppress(Exception):
            streams = logs.describe_log_streams(
                logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/"
            )["logStreams"]
            for stream in streams:
                kwargs: dict[str, Any] = {
                    "logGroupName": LOG_GROUP,
                    "logStreamName": stream["logStreamName"],
                    "startFromHead": True,
                }
                if trial["token"]:
                    kwargs["nextToken"] = trial["token"]
                reply = logs.get_log_events(**kwargs)
                for event in reply.get("events", []):
                    match = rule.search(str(event["message"]))
                    if match:
                        with contextlib.suppress(ValueError):
                            trial["series"].append(float(match.group(1)))
                trial["token"] = reply.get("nextForwardToken")

    def _should_stop(
        self, trial: dict[str, Any], done: list[dict[str, Any]], maximize: bool
    ) -> bool:
        """SageMaker's median rule on the trial's intermediate objective values."""
        step = len(trial["series"])
        earlier = [
            t["series"] for t in done if len(t["series"]) >= step and t.get("value") is not None
        ]
        if step == 0 or len(earlier) < 3:
            return False
        averages = [statistics.fmean(series[:step]) for series in earlier]
        median = statistics.median(averages)
        best = max(trial["series"]) if maximize else min(trial["series"])
        return best < median if maximize else best > median

    def _tune(self, backend: Any, job: Any) -> None:
        try:
            self._run_tuning(backend, job)
        except Exception as exc:  # the emulator's own failure fails the tuning job, visibly
            job.hyper_parameter_tuning_job_status = "Failed"
            job.failure_reason = f"emulator: {exc!r}"
            job.hyper_parameter_tuning_end_time = job.last_modified_time = _now()

    def _run_tuning(self, backend: Any, job: Any) -> None:
        config = job.hyper_parameter_tuning_job_config
        limits = config["ResourceLimits"]
        sampler = _Sampler(config)
        budget = sampler.size() or int(limits.get("MaxNumberOfTrainingJobs") or 1)
        parallel = int(limits.get("MaxParallelTrainingJobs") or 1)
        early = config.get("TrainingJobEarlyStoppingType") == "Auto"
        metric, rule = self._objective_rule(job)
        running: list[dict[str, Any]] = []
        done: list[dict[str, Any]] = []
        counters = job.training_job_status_counters
        while True:
            stopping = job.hyper_parameter_tuning_job_status == "Stopping"
            while not stopping and len(running) < parallel and len(job.trials) < budget:
                trial = self._launch(backend, job, sampler, len(job.trials))
                with self.lock:
                    job.trials.append(trial)
                running.append(trial)
                job.last_modified_time = _now()
            for trial in list(running):
                training = trial["job"]
                if stopping and training.training_job_status == "InProgress":
                    self.stop(training.training_job_name)  # type: ignore[attr-defined]
                if early and rule is not None and training.training_job_status == "InProgress":
                    self._read_series(trial, rule)
                    if self._should_stop(trial, done, sampler.maximize):
                        trial["early_stopped"] = True
                        self.stop(training.training_job_name)  # type: ignore[attr-defined]
                if training.training_job_status in ("InProgress", "Stopping"):
                    continue
                running.remove(trial)
                if rule is not None:
                    trial["series"], trial["token"] = [], None
                    self._read_series(trial, rule)
                final = {m["MetricName"]: m["Value"] for m in training.final_metric_data_list or []}
                status = training.training_job_status
                value = final.get(metric) if status == "Completed" else None
                with self.lock:
                    trial["value"] = value
                    trial["objective_status"] = "Succeeded" if value is not None else "Failed"
                key = {"Completed": "Completed", "Stopped": "Stopped"}.get(
                    status, "NonRetryableError"
                )
                counters[key] += 1
                job.objective_status_counters[trial["objective_status"]] += 1
                sampler.tell(training.training_job_name, value)
                done.append(trial)
                job.last_modified_time = _now()
            counters["InProgress"] = len(running)
            if not running and (stopping or len(job.trials) >= budget):
                break
            time.sleep(0.1)
        self._finish(job, done, stopping, sampler.maximize)

    def _finish(self, job: Any, done: list[dict[str, Any]], stopped: bool, maximize: bool) -> None:
        scored = [t for t in done if t.get("value") is not None]
        if scored:
            best = (max if maximize else min)(scored, key=lambda t: t["value"])
            summary = self._summary(job, best)
            job.best_training_job = job.OverallBestTrainingJob = summary
        now = _now()
        if stopped:
            job.hyper_parameter_tuning_job_status = "Stopped"
        elif scored:
            job.hyper_parameter_tuning_job_status = "Completed"
        else:
            job.hyper_parameter_tuning_job_status = "Failed"
            job.failure_reason = "All training jobs failed or reported no objective metric."
        job.hyper_parameter_tuning_end_time = job.last_modified_time = now
