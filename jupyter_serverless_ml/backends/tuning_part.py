"""The tuning capability part of the backend protocol and its records.

A backend with hyperparameter tuning derives from :class:`Tuning` (listed in
``protocol.PARTS`` under ``Feature.TUNING``). A study runs the bundle of one
cell as many training jobs (trials), each with parameters drawn from the search
space; the backend decides where the search runs (the local platform's daemon
with Optuna; a cloud's own tuning service).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..packaging import Bundle
from ..records import Record, TrainingRequest, _status, _tuple_of
from ..statuses import StudyStatus, TrialStatus

_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True)
class TrialRecord(Record):
    """One trial: its parameters, objective value, job and timings."""

    CONVERT = {"status": _status(TrialStatus)}

    number: int
    status: TrialStatus | str
    params: Mapping[str, Any] = field(default_factory=dict)
    value: float | None = None
    step: int | None = None
    job_id: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    best_so_far: float | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class StudyRecord(Record):
    """A study: its search, its best trial so far, and (when fetched one by one) its trials."""

    CONVERT = {"status": _status(StudyStatus), "trials": _tuple_of(TrialRecord)}

    name: str
    status: StudyStatus | str
    objective: str
    direction: str
    strategy: str = "tpe"
    trials_budget: int = 0
    parallel: int = 1
    early_stop: bool = False
    space: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    ended_at: float | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    best: Mapping[str, Any] | None = None
    model_name: str | None = None
    model_version: int | None = None
    failure_reason: str | None = None
    trials: tuple[TrialRecord, ...] = ()
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def ended(self) -> bool:
        """Whether the study runs no more trials (Completed, Failed or Stopped)."""
        return self.status not in (StudyStatus.RUNNING, StudyStatus.STOPPING)


@dataclass(frozen=True)
class StudyRequest(Record):
    """What a study needs: the search, and its trials' training job (``training``: the
    hyperparameters there are the fixed ones, the tuned ones are added per trial)."""

    CONVERT = {"training": TrainingRequest.from_wire}

    name: str
    space: Mapping[str, Any]
    objective: str
    training: TrainingRequest
    direction: str = "maximize"
    trials: int = 20
    parallel: int = 1
    strategy: str = "tpe"
    early_stop: bool = False
    seed: int | None = None
    model_name: str | None = None


class Tuning(abc.ABC):
    """Hyperparameter tuning studies: many training jobs of one bundle, searched by a sampler."""

    @abc.abstractmethod
    def submit_study(self, bundle: Bundle, request: StudyRequest) -> StudyRecord:
        """Start a study; returns it once acknowledged (its first trials started)."""

    @abc.abstractmethod
    def study(self, name: str, wait: float | None = None, since: float = 0.0) -> StudyRecord:
        """One study with its trials. With ``wait``, answers as soon as the study changed after
        ``since`` (its ``updated_at``), or after ``wait`` seconds."""

    @abc.abstractmethod
    def studies(self) -> list[StudyRecord]:
        """Every study, newest first, without trials."""

    @abc.abstractmethod
    def stop_study(self, name: str) -> StudyRecord:
        """Stop a study and its running trials (it can be resumed)."""

    @abc.abstractmethod
    def resume_study(
        self, name: str, trials: int | None = None, parallel: int | None = None
    ) -> StudyRecord:
        """Continue a study (a larger budget with ``trials``); a running one is returned as is."""


__all__ = ["StudyRecord", "StudyRequest", "TrialRecord", "Tuning"]
