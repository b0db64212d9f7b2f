"""What the clouds' tuning parts share: checking a study request, and a study's record from
its trials (counts, best trial, best so far), in the shapes the local platform answers.

A cloud runs the search itself (a SageMaker HyperParameterTuningJob, a Vertex
HyperparameterTuningJob); the backend maps the request onto it and maps the cloud's trials
back into :class:`TrialRecord` rows numbered by creation order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..errors import UsageError
from ..options import validate_name
from ..platform.tuning import space as spaces
from ..statuses import TrialStatus
from .tuning_part import StudyRequest, TrialRecord

STRATEGIES = ("tpe", "random", "grid")
DIRECTIONS = ("maximize", "minimize")


def check_request(request: StudyRequest, max_trials: int, max_parallel: int) -> dict[str, Any]:
    """Validate ``request`` as the local platform does; returns its space, its budget (capped
    at the grid's size for grid search) and its parallelism."""
    validate_name(request.name)
    if not request.objective or not str(request.objective).strip():
        raise UsageError(
            "a study needs --objective METRIC: the name the cell logs with log_metric(METRIC, value)"
        )
    if request.direction not in DIRECTIONS:
        raise UsageError(f"--direction must be maximize or minimize, not {request.direction!r}")
    if request.strategy not in STRATEGIES:
        raise UsageError(
            f"--strategy must be one of {', '.join(STRATEGIES)}, not {request.strategy!r}"
        )
    space = spaces.check_space(request.space)
    clash = sorted(set(request.training.hyperparameters) & set(space))
    if clash:
        raise UsageError(
            f"{', '.join(clash)} is both tuned (--param) and fixed (--hp); give it once"
        )
    trials = int(request.trials)
    parallel = int(request.parallel)
    if not 1 <= trials <= max_trials:
        raise UsageError(f"--trials must be from 1 to {max_trials} on this backend, not {trials}")
    if not 1 <= parallel <= max_parallel:
        raise UsageError(
            f"--parallel must be from 1 to {max_parallel} on this backend, not {parallel}"
        )
    if request.strategy == "grid":
        trials = min(trials, spaces.grid_size(space))
    return {"space": space, "trials": trials, "parallel": min(parallel, trials)}


def better(value: float, than: float | None, direction: str) -> bool:
    """Whether ``value`` beats ``than`` (None is beaten by anything)."""
    return than is None or (value > than if direction == "maximize" else value < than)


def number_trials(trials: Iterable[TrialRecord], direction: str) -> tuple[TrialRecord, ...]:
    """Trials (in creation order) with ``best_so_far`` filled in."""
    best: float | None = None
    out: list[TrialRecord] = []
    for trial in trials:
        done = trial.status == TrialStatus.COMPLETED and trial.value is not None
        if done and better(float(trial.value or 0.0), best, direction):
            best = float(trial.value or 0.0)
        out.append(replace(trial, best_so_far=best))
    return tuple(out)


def counts(trials: Iterable[TrialRecord]) -> dict[str, int]:
    """How many trials are in each :class:`TrialStatus`."""
    found = {s.value: 0 for s in TrialStatus}
    for trial in trials:
        found[str(trial.status)] = found.get(str(trial.status), 0) + 1
    return found


def best_of(trials: Iterable[TrialRecord], direction: str) -> dict[str, Any] | None:
    """The best completed trial as a study's ``best`` (number, value, params, job_id)."""
    best: TrialRecord | None = None
    for trial in trials:
        if trial.status != TrialStatus.COMPLETED or trial.value is None:
            continue
        if best is None or better(float(trial.value), float(best.value or 0.0), direction):
            best = trial
    if best is None:
        return None
    return {
        "number": best.number,
        "value": best.value,
        "params": dict(best.params),
        "job_id": best.job_id,
    }


def tuning_metadata(
    study: str, best: Mapping[str, Any], objective: str, direction: str
) -> dict[str, Any]:
    """``metadata["tuning"]`` of the model registered from a study's best trial."""
    return {
        "study": study,
        "trial": best["number"],
        "parameters": dict(best["params"]),
        "objective": objective,
        "direction": direction,
        "value": best["value"],
    }


__all__ = [
    "DIRECTIONS",
    "STRATEGIES",
    "best_of",
    "better",
    "check_request",
    "counts",
    "number_trials",
    "tuning_metadata",
]
