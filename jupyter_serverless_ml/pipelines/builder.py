"""Declare a pipeline in Python: steps joined by their inputs into a DAG.

>>> p = Pipeline("churn", output="out/pipelines")
>>> prep = p.function(prepare, data={"raw": "data/churn.csv"})
>>> fit = p.train(fit_model, inputs={"df": prep}, params={"C": 0.5})
>>> ev = p.evaluate(score, model=fit, inputs={"df": prep})
>>> good = p.condition(ev, "accuracy", ">=", 0.9)
>>> reg = p.register(fit, model_name="churn", when=good)
>>> p.deploy(reg, endpoint="churn", when=good)
>>> run = p.run()            # waits; run.steps, run.step("fit").metrics, run.output("prep")

A step's function gets its ``inputs`` (upstream return values, or models), its
``params`` and, for evaluate, ``model=`` as keyword arguments, and reads ``data``
channels with ``channel(NAME)`` like a ``%%train`` cell.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import artifacts
from ..backends import get_backend
from ..errors import UsageError
from ..options import check_hyperparameters
from ..packaging import build_cell_bundle
from ..platform.pipelines.spec import MODEL_KINDS, PipelineSpec, StepSpec
from .codegen import check_signature, step_source

_JOB_SETTINGS = ("instance_type", "memory", "max_runtime", "network", "env", "max_cost")


@dataclass(frozen=True)
class Branch:
    """One branch of a condition step: ``when=cond`` is its true branch,
    ``when=cond.otherwise`` its false one."""

    step: str
    value: bool


@dataclass(frozen=True)
class Step:
    """A declared step: pass it as another step's input, model, ``after`` or ``when``."""

    name: str
    kind: str

    @property
    def otherwise(self) -> Branch:
        """The false branch of a condition step (``when=cond.otherwise``)."""
        if self.kind != "condition":
            raise UsageError(f"step {self.name!r} is a {self.kind} step, not a condition")
        return Branch(self.name, False)


When = Step | Branch | Iterable[Step | Branch] | None


class Pipeline:
    """A pipeline being declared (see the module docstring); :meth:`run` sends it to the
    backend. ``output`` is where step outputs go (default ``./jsml-pipelines/NAME``)."""

    def __init__(
        self,
        name: str,
        *,
        output: str | Path | None = None,
        backend: str | None = None,
    ) -> None:
        self.name = name
        self.output = str(Path(output or Path("jsml-pipelines") / name).resolve())
        self.backend = backend
        self._steps: list[StepSpec] = []
        self._functions: dict[str, Callable[..., Any]] = {}

    # -- declaring -----------------------------------------------------------------

    def _name(self, name: str | None, default: str) -> str:
        chosen = name or default.replace("_", "-")
        if any(s.name == chosen for s in self._steps):
            raise UsageError(f"pipeline {self.name} already has a step {chosen!r}; pass name=")
        return chosen

    def _kind_of(self, ref: Step | str) -> str:
        name = ref.name if isinstance(ref, Step) else str(ref)
        for step in self._steps:
            if step.name == name:
                return step.kind
        raise UsageError(f"pipeline {self.name} has no step {name!r} (declare it first)")

    def _add(self, step: StepSpec) -> Step:
        self._steps.append(step)
        return Step(step.name, step.kind)

    @staticmethod
    def _when(when: When) -> dict[str, bool]:
        if when is None:
            return {}
        items = [when] if isinstance(when, Step | Branch) else list(when)
        out: dict[str, bool] = {}
        for item in items:
            if isinstance(item, Branch):
                out[item.step] = item.value
            elif isinstance(item, Step) and item.kind == "condition":
                out[item.name] = True
            else:
                raise UsageError(f"when= takes condition steps (or cond.otherwise), not {item!r}")
        return out

    def _job_step(
        self,
        kind: str,
        fn: Callable[..., Any],
        *,
        name: str | None,
        inputs: Mapping[str, Step] | None,
        data: Mapping[str, str | Path] | None,
        params: Mapping[str, Any] | None,
        model: Step | None,
        after: Iterable[Step],
        when: When,
        retries: int,
        cache: bool,
        settings: Mapping[str, Any],
    ) -> Step:
        step_name = self._name(name, getattr(fn, "__name__", kind))
        unknown = sorted(set(settings) - set(_JOB_SETTINGS))
        if unknown:
            raise UsageError(
                f"step {step_name!r}: unknown setting {', '.join(unknown)}; "
                f"settings: {', '.join(_JOB_SETTINGS)}"
            )
        inputs = dict(inputs or {})
        for arg, ref in inputs.items():
            if not isinstance(ref, Step):
                raise UsageError(f"step {step_name!r}: input {arg!r} must be a step, not {ref!r}")
            self._kind_of(ref)
        supplied = [*inputs, *(params or {}), *(["model"] if model is not None else [])]
        check_signature(fn, kind, step_name, supplied)
        config: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
        config["python"] = sys.executable
        if model is not None:
            config["model"] = model.name
        step = StepSpec(
            name=step_name,
            kind=kind,
            inputs={arg: ref.name for arg, ref in inputs.items()},
            after=tuple(s.name for s in after),
            when=self._when(when),
            data={k: str(Path(v).resolve()) for k, v in (data or {}).items()},
            params=check_hyperparameters(params or {}),
            config=config,
            retries=retries,
            cache=cache,
        )
        self._functions[step_name] = fn
        return self._add(step)

    def function(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        inputs: Mapping[str, Step] | None = None,
        data: Mapping[str, str | Path] | None = None,
        params: Mapping[str, Any] | None = None,
        after: Iterable[Step] = (),
        when: When = None,
        retries: int = 0,
        cache: bool = True,
        **settings: Any,
    ) -> Step:
        """Any function, run as a sandboxed job; its return value is the step's output."""
        return self._job_step(
            "function", fn, name=name, inputs=inputs, data=data, params=params, model=None,
            after=after, when=when, retries=retries, cache=cache, settings=settings,
        )  # fmt: skip

    def train(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        inputs: Mapping[str, Step] | None = None,
        data: Mapping[str, str | Path] | None = None,
        params: Mapping[str, Any] | None = None,
        after: Iterable[Step] = (),
        when: When = None,
        retries: int = 0,
        cache: bool = True,
        **settings: Any,
    ) -> Step:
        """A function that returns a model: a training job; the model is registered under
        ``<pipeline>-<step>`` and is the step's output."""
        return self._job_step(
            "train", fn, name=name, inputs=inputs, data=data, params=params, model=None,
            after=after, when=when, retries=retries, cache=cache, settings=settings,
        )  # fmt: skip

    def evaluate(
        self,
        fn: Callable[..., Any],
        *,
        model: Step,
        name: str | None = None,
        inputs: Mapping[str, Step] | None = None,
        data: Mapping[str, str | Path] | None = None,
        params: Mapping[str, Any] | None = None,
        after: Iterable[Step] = (),
        when: When = None,
        retries: int = 0,
        cache: bool = True,
        **settings: Any,
    ) -> Step:
        """``fn(model=..., **inputs, **params)`` returns ``{metric: number}``: the metrics
        are logged and become the step's metadata (a condition can test them)."""
        if self._kind_of(model) not in MODEL_KINDS:
            raise UsageError(f"evaluate: model= must be a train or register step, not {model!r}")
        return self._job_step(
            "evaluate", fn, name=name, inputs=inputs, data=data, params=params, model=model,
            after=after, when=when, retries=retries, cache=cache, settings=settings,
        )  # fmt: skip

    def condition(
        self, step: Step, metric: str, op: str, value: float, *, name: str | None = None
    ) -> Step:
        """``step``'s metric ``op`` ``value`` (``op``: >=, >, <=, <, ==, !=). Steps declared
        with ``when=this`` run when it holds, ``when=this.otherwise`` when it does not."""
        self._kind_of(step)
        config = {"step": step.name, "metric": metric, "op": op, "value": value}
        return self._add(
            StepSpec(name=self._name(name, f"{step.name}-{metric}"), kind="condition", config=config)
        )

    def _model_step(
        self, kind: str, model: Step, name: str | None, when: When, after: Iterable[Step],
        retries: int, config: dict[str, Any],
    ) -> Step:  # fmt: skip
        if self._kind_of(model) not in MODEL_KINDS:
            raise UsageError(f"{kind}: model must be a train or register step, not {model!r}")
        config = {k: v for k, v in config.items() if v is not None}
        config.update(model=model.name, python=sys.executable)
        return self._add(
            StepSpec(
                name=self._name(name, kind),
                kind=kind,
                when=self._when(when),
                after=tuple(s.name for s in after),
                config=config,
                retries=retries,
            )
        )

    def register(
        self,
        model: Step,
        *,
        model_name: str | None = None,
        name: str | None = None,
        when: When = None,
        after: Iterable[Step] = (),
        retries: int = 0,
    ) -> Step:
        """Register a train step's model under ``model_name`` (default: the pipeline's name)."""
        config = {"model_name": model_name or self.name}
        return self._model_step("register", model, name, when, after, retries, config)

    def deploy(
        self,
        model: Step,
        *,
        endpoint: str,
        name: str | None = None,
        when: When = None,
        after: Iterable[Step] = (),
        retries: int = 0,
        **settings: Any,
    ) -> Step:
        """Deploy a train or register step's model to ``endpoint`` (a new endpoint, or the
        existing one's traffic moves to it); ``settings`` as ``%deploy`` takes them
        (``min_replicas``, ``max_replicas``, ``target_concurrency``...)."""
        config = {**settings, "endpoint": endpoint}
        return self._model_step("deploy", model, name, when, after, retries, config)

    def batch(
        self,
        model: Step,
        *,
        input: str | Path,
        name: str | None = None,
        when: When = None,
        after: Iterable[Step] = (),
        retries: int = 0,
        **settings: Any,
    ) -> Step:
        """Predict every row of ``input`` with a train or register step's model; the part
        files go to the run's output directory (``settings`` as ``%batch_predict``'s)."""
        path = artifacts.local_path(str(input)) or Path(input)
        config = {**settings, "input": str(Path(path).resolve())}
        return self._model_step("batch", model, name, when, after, retries, config)

    # -- running -------------------------------------------------------------------

    def run(self, *, wait: bool = True, use_cache: bool = True) -> Any:
        """Send the pipeline to its backend and start a run (see :func:`.api.run`)."""
        from .api import run

        return run(self, wait=wait, use_cache=use_cache)

    # -- exporting -----------------------------------------------------------------

    def to_sagemaker(
        self, *, name: str | None = None, out: str | Path | None = None, submit: bool = False,
        **settings: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """A SageMaker Pipeline definition of this pipeline (see :func:`.export.to_sagemaker`)."""
        from .export import to_sagemaker

        return to_sagemaker(self, name=name, out=out, submit=submit, **settings)

    def to_vertex(
        self, *, name: str | None = None, out: str | Path | None = None, submit: bool = False,
        **settings: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """A Vertex AI (KFP) PipelineSpec of this pipeline (see :func:`.export.to_vertex`)."""
        from .export import to_vertex

        return to_vertex(self, name=name, out=out, submit=submit, **settings)

    # -- building ------------------------------------------------------------------

    def spec(self, bundle_root: Path | None = None) -> PipelineSpec:
        """The validated definition, with each job step's code built into a bundle."""
        root = bundle_root or get_backend(self.backend).bundle_root()
        kinds = {s.name: s.kind for s in self._steps}
        steps = []
        for step in self._steps:
            fn = self._functions.get(step.name)
            if fn is not None:
                source = step_source(
                    step.kind,
                    fn.__name__,
                    {arg: kinds[up] in MODEL_KINDS for arg, up in step.inputs.items()},
                    step.kind == "evaluate",
                )
                namespace = {**fn.__globals__, fn.__name__: fn}
                channels = [*step.inputs, *step.data, *(["model"] if step.model_step else [])]
                bundle = build_cell_bundle(
                    source,
                    namespace,
                    root,
                    channels=channels,
                    model_var="model" if step.kind == "train" else "_jsml_no_model",
                )
                step = StepSpec.from_wire(
                    {**step.to_wire(), "bundle": str(bundle.path), "code_hash": bundle.hash}
                )
            steps.append(step)
        return PipelineSpec(self.name, tuple(steps), self.output).validate()


__all__ = ["Branch", "Pipeline", "Step"]
