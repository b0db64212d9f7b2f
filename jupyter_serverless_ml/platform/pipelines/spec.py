"""A pipeline's definition: steps of known kinds joined into a DAG, validated once.

This module is pure (no I/O): the kernel builds a :class:`PipelineSpec`, sends its
:meth:`~PipelineSpec.to_wire` form to the platform, which rebuilds and validates it
with :meth:`PipelineSpec.from_wire` before storing anything; the exporters to
SageMaker and Vertex read the same object.

Step kinds (``StepSpec.kind``):

``function``
    any function, run as a sandboxed job; its return value is the step's output.
``train``
    a function whose return value is a model: a training job that registers the
    model under ``<pipeline>-<step>``; the model is the step's output.
``evaluate``
    a function that gets a model (``model=`` a train or register step) and returns
    ``{metric: number}``; the metrics are the step's metadata.
``condition``
    compares an upstream step's metric with a number (``config``: ``step``,
    ``metric``, ``op``, ``value``); steps that need one branch (``when``) run, the
    others are skipped.
``register``
    registers a train step's model under ``config["model_name"]``.
``deploy``
    deploys a train or register step's model to ``config["endpoint"]``.
``batch``
    predicts ``config["input"]`` with a train or register step's model into the
    run's output directory.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import UsageError

KINDS = ("function", "train", "evaluate", "condition", "register", "deploy", "batch")
#: kinds that run the step's code as a job on the platform
JOB_KINDS = frozenset({"function", "train", "evaluate"})
#: kinds whose output is a model
MODEL_KINDS = frozenset({"train", "register"})
OPS = (">=", ">", "<=", "<", "==", "!=")
_STEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_ARG = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_JOB_NAME = 48


def compare(left: float, op: str, right: float) -> bool:
    """``left op right`` for one of :data:`OPS`."""
    return {
        ">=": left >= right,
        ">": left > right,
        "<=": left <= right,
        "<": left < right,
        "==": left == right,
        "!=": left != right,
    }[op]


@dataclass(frozen=True)
class StepSpec:
    """One step. ``inputs`` maps an argument (or channel) name to the upstream step whose
    output it receives; ``after`` adds ordering without data; ``when`` maps a condition
    step to the branch (True/False) this step needs; ``data`` maps channel names to
    local files or directories (their content is hashed for the cache); ``params`` are
    JSON values passed as keyword arguments (hyperparameters of the job);
    ``bundle``/``code_hash`` the built code of a job step; ``config`` what a kind needs
    (see the module docstring) plus job settings (``instance_type``, ``memory``,
    ``env``, ``network``, ``max_runtime``)."""

    name: str
    kind: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    when: Mapping[str, bool] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    bundle: str | None = None
    code_hash: str | None = None
    retries: int = 0
    cache: bool = True

    @property
    def model_step(self) -> str | None:
        """The upstream step whose model an evaluate/register/deploy/batch step uses."""
        value = self.config.get("model")
        return str(value) if value else None

    def upstream(self) -> list[str]:
        """Every step this one waits for, in a stable order without repeats."""
        names = [*self.inputs.values(), *self.after, *self.when]
        if self.model_step:
            names.append(self.model_step)
        if self.kind == "condition" and self.config.get("step"):
            names.append(str(self.config["step"]))
        return list(dict.fromkeys(names))

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "kind": self.kind,
            "inputs": dict(self.inputs),
            "after": list(self.after),
            "when": dict(self.when),
            "data": dict(self.data),
            "params": dict(self.params),
            "config": dict(self.config),
            "bundle": self.bundle,
            "code_hash": self.code_hash,
            "retries": self.retries,
            "cache": self.cache,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> StepSpec:
        """Rebuild a step from :meth:`to_wire`; a malformed one is a :class:`UsageError`."""
        if not isinstance(data, Mapping):
            raise UsageError(f"a pipeline step must be an object, not {type(data).__name__}")
        try:
            return cls(
                name=str(data["name"]),
                kind=str(data["kind"]),
                inputs={str(k): str(v) for k, v in dict(data.get("inputs") or {}).items()},
                after=tuple(str(a) for a in data.get("after") or ()),
                when={str(k): bool(v) for k, v in dict(data.get("when") or {}).items()},
                data={str(k): str(v) for k, v in dict(data.get("data") or {}).items()},
                params=dict(data.get("params") or {}),
                config=dict(data.get("config") or {}),
                bundle=data.get("bundle"),
                code_hash=data.get("code_hash"),
                retries=int(data.get("retries") or 0),
                cache=bool(data.get("cache", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"malformed pipeline step {dict(data)!r}: {exc}") from None


@dataclass(frozen=True)
class PipelineSpec:
    """A named DAG of steps; ``output`` is the directory step outputs are written under
    (``<output>/<run id>/<step>/``)."""

    name: str
    steps: tuple[StepSpec, ...]
    output: str = ""

    def step(self, name: str) -> StepSpec:
        """The step called ``name``."""
        for each in self.steps:
            if each.name == name:
                return each
        raise UsageError(f"pipeline {self.name} has no step {name!r}")

    def edges(self) -> list[dict[str, Any]]:
        """Every edge ``{"from", "to", "kind"}``: kind ``data`` (an input or the model),
        ``after`` (order only), ``condition`` (with ``branch`` true or false)."""
        out: list[dict[str, Any]] = []
        for step in self.steps:
            for source in dict.fromkeys([*step.inputs.values(), *filter(None, [step.model_step])]):
                out.append({"from": source, "to": step.name, "kind": "data"})
            if step.kind == "condition" and step.config.get("step"):
                out.append({"from": str(step.config["step"]), "to": step.name, "kind": "data"})
            for source in step.after:
                out.append({"from": source, "to": step.name, "kind": "after"})
            for source, branch in step.when.items():
                out.append({"from": source, "to": step.name, "kind": "condition", "branch": branch})
        return out

    def order(self) -> list[StepSpec]:
        """Steps in an order where every step comes after the ones it waits for
        (declaration order among independent steps); a cycle is a :class:`UsageError`."""
        by_name = {s.name: s for s in self.steps}
        done: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " -> ".join([*path[path.index(name) :], name])
                raise UsageError(f"pipeline {self.name} has a cycle: {cycle}; a pipeline is a DAG")
            state[name] = 1
            for up in by_name[name].upstream():
                visit(up, [*path, name])
            state[name] = 2
            done.append(name)

        for step in self.steps:
            visit(step.name, [])
        return [by_name[n] for n in done]

    def validate(self) -> PipelineSpec:
        """Check names, kinds, references and acyclicity; returns self or raises
        :class:`UsageError` saying what to change."""
        if not _STEP_NAME.fullmatch(self.name or "") or len(self.name) > 24:
            raise UsageError(
                f"invalid pipeline name {self.name!r}: use 1-24 letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        if not self.steps:
            raise UsageError(f"pipeline {self.name} has no steps; add one (e.g. p.function(fn))")
        names = [s.name for s in self.steps]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise UsageError(f"pipeline {self.name}: step names must be unique: {', '.join(twice)}")
        by_name = {s.name: s for s in self.steps}
        for step in self.steps:
            _check_step(self.name, step, by_name)
        self.order()
        return self

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready form (what ``POST /v1/pipelines`` takes)."""
        return {
            "name": self.name,
            "output": self.output,
            "steps": [s.to_wire() for s in self.steps],
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PipelineSpec:
        """Rebuild and validate a pipeline from :meth:`to_wire`."""
        if not isinstance(data, Mapping) or not isinstance(data.get("steps"), list):
            raise UsageError('a pipeline is {"name": ..., "output": ..., "steps": [...]}')
        return cls(
            name=str(data.get("name") or ""),
            steps=tuple(StepSpec.from_wire(s) for s in data["steps"]),
            output=str(data.get("output") or ""),
        ).validate()


def _check_step(pipeline: str, step: StepSpec, by_name: Mapping[str, StepSpec]) -> None:
    where = f"pipeline {pipeline}, step {step.name!r}"
    if not _STEP_NAME.fullmatch(step.name):
        raise UsageError(
            f"{where}: invalid step name; use 1-32 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    if step.kind not in KINDS:
        raise UsageError(f"{where}: unknown kind {step.kind!r}; kinds: {', '.join(KINDS)}")
    if step.retries < 0 or step.retries > 10:
        raise UsageError(f"{where}: retries must be between 0 and 10, not {step.retries}")
    for up in step.upstream():
        if up not in by_name:
            raise UsageError(
                f"{where}: depends on unknown step {up!r}; steps: {', '.join(by_name)}"
            )
        if up == step.name:
            raise UsageError(f"{where}: a step cannot depend on itself")
    for arg in [*step.inputs, *step.data]:
        if not _ARG.fullmatch(arg):
            raise UsageError(f"{where}: input {arg!r} must be a Python identifier")
    both = set(step.inputs) & set(step.data)
    if both:
        raise UsageError(f"{where}: {', '.join(sorted(both))} is both an input and a data channel")
    for cond in step.when:
        if by_name[cond].kind != "condition":
            raise UsageError(f"{where}: when= names {cond!r}, which is not a condition step")
    if step.kind in JOB_KINDS:
        if not step.bundle or not step.code_hash:
            raise UsageError(f"{where}: a {step.kind} step needs its built code (bundle)")
        if len(pipeline) + 1 + len(step.name) > MAX_JOB_NAME:
            raise UsageError(
                f"{where}: '{pipeline}-{step.name}' (its job name) is longer than "
                f"{MAX_JOB_NAME} characters; shorten the pipeline or step name"
            )
    for name in step.inputs.values():
        if by_name[name].kind in ("condition", "deploy"):
            raise UsageError(
                f"{where}: {name!r} is a {by_name[name].kind} step and has no output to pass; "
                "use after= (or when= for a condition) to order steps"
            )
    model = step.model_step
    if step.kind in ("evaluate", "register", "deploy", "batch"):
        if step.kind != "evaluate" and not model:
            raise UsageError(f"{where}: a {step.kind} step needs model= a train or register step")
        if model and by_name[model].kind not in MODEL_KINDS:
            raise UsageError(
                f"{where}: model={model!r} is a {by_name[model].kind} step; "
                "give a train or register step"
            )
    if step.kind == "condition":
        _check_condition(where, step, by_name)
    if step.kind == "register" and not step.config.get("model_name"):
        raise UsageError(f"{where}: a register step needs the model name to register under")
    if step.kind == "deploy" and not step.config.get("endpoint"):
        raise UsageError(f"{where}: a deploy step needs an endpoint name")
    if step.kind == "batch" and not step.config.get("input"):
        raise UsageError(f"{where}: a batch step needs input= a local file to predict")


def _check_condition(where: str, step: StepSpec, by_name: Mapping[str, StepSpec]) -> None:
    source = str(step.config.get("step") or "")
    if not source:
        raise UsageError(f"{where}: a condition needs the step whose metric it tests")
    if by_name[source].kind not in JOB_KINDS:
        raise UsageError(
            f"{where}: {source!r} is a {by_name[source].kind} step and logs no metrics; "
            "test an evaluate, train or function step's metric"
        )
    if step.config.get("op") not in OPS:
        raise UsageError(f"{where}: operator {step.config.get('op')!r} is not one of {OPS}")
    value = step.config.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{where}: the condition's value must be a finite number, not {value!r}")
    if not str(step.config.get("metric") or ""):
        raise UsageError(f"{where}: the condition needs a metric name")


__all__ = [
    "JOB_KINDS",
    "KINDS",
    "MODEL_KINDS",
    "OPS",
    "PipelineSpec",
    "StepSpec",
    "compare",
]
