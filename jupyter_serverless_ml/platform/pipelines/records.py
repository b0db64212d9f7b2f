"""Typed records of pipelines and their runs, as the backend protocol's Pipelines part
returns them (built from the JSON of :mod:`.views`; unknown keys go to ``details``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...records import Record


@dataclass(frozen=True)
class StepRunRecord(Record):
    """One step of a run: its status, cache hit, job, outputs and metadata."""

    name: str
    kind: str
    status: str
    attempt: int = 0
    cache_hit: bool = False
    cached_from: str | None = None
    cache_key: str | None = None
    job_id: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    log: str = ""
    upstream: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"upstream": tuple}

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics the step's job logged (latest value of each)."""
        return dict(self.metadata.get("metrics") or {})


def _steps(values: Any) -> tuple[StepRunRecord, ...]:
    return tuple(StepRunRecord.from_wire(v) for v in values)


@dataclass(frozen=True)
class PipelineRunRecord(Record):
    """A run of a pipeline with its steps and the DAG's edges."""

    id: str
    pipeline: str
    status: str
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    failure_reason: str | None = None
    use_cache: bool = True
    cache_hits: int = 0
    steps: tuple[StepRunRecord, ...] = ()
    edges: tuple[Mapping[str, Any], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"steps": _steps, "edges": tuple}

    def step(self, name: str) -> StepRunRecord:
        """The step called ``name`` (KeyError naming the steps otherwise)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"run {self.id} has no step {name!r}; steps: {[s.name for s in self.steps]}")


@dataclass(frozen=True)
class PipelineRecord(Record):
    """A stored pipeline: its steps, edges and newest run (a summary without steps)."""

    name: str
    steps: tuple[Mapping[str, Any], ...] = ()
    edges: tuple[Mapping[str, Any], ...] = ()
    output: str = ""
    created_at: float | None = None
    updated_at: float | None = None
    last_run: Mapping[str, Any] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    CONVERT: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"steps": tuple, "edges": tuple}


__all__ = ["PipelineRecord", "PipelineRunRecord", "StepRunRecord"]
