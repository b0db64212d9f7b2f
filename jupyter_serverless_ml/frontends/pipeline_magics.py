"""Magics of pipelines: ``%%pipeline`` and ``%pipeline_runs``. Thin over
:mod:`jupyter_serverless_ml.pipelines`."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from .. import pipelines as api
from ..errors import NotFound, UsageError
from ..pipelines.export import export, export_stored
from . import magic_line

#: the names a %%pipeline cell declares steps with (methods of its Pipeline)
STEP_KINDS = ("function", "train", "evaluate", "condition", "register", "deploy", "batch")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}; see {self.prog}? for the options")


def _pipeline_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%%pipeline", add_help=False)
    p.add_argument("name")
    p.add_argument("--output")
    p.add_argument("--backend")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--no-wait", action="store_true")
    return p


def _export_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%pipeline", add_help=False)
    p.add_argument("action", choices=["export"])
    p.add_argument("name")
    p.add_argument("--to", required=True, choices=["sagemaker", "vertex"])
    p.add_argument("--out")
    p.add_argument("--submit", action="store_true")
    return p


def _runs_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%pipeline_runs", add_help=False)
    p.add_argument("name", nargs="?")
    p.add_argument("--run")
    p.add_argument("--logs", metavar="STEP")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--backend")
    return p


class _Text:
    """Plain text shown as it is (a step's log)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@magics_class
class PipelineMagics(Magics):
    """Pipelines."""

    _declared: dict[str, Any] = {}

    @line_cell_magic
    def pipeline(self, line: str, cell: str | None = None) -> Any:
        """Declare a pipeline's steps and run it on the platform (it outlives this kernel).

        The cell calls ``function``, ``train``, ``evaluate``, ``condition``, ``register``,
        ``deploy`` and ``batch`` (the methods of :class:`jupyter_serverless_ml.pipelines.Pipeline`,
        also available as ``pipeline``) with the notebook's functions::

            %%pipeline cancer --output out/pipelines
            prep = function(prepare, data={"raw": "data/train.csv"}, params={"rows": 400})
            model = train(fit, inputs={"df": prep}, params={"C": 0.5})
            ev = evaluate(score, model=model, inputs={"df": prep})
            good = condition(ev, "accuracy", ">=", 0.9)
            reg = register(model, model_name="cancer", when=good)
            deploy(reg, endpoint="cancer", when=good)

        Unchanged steps are served from the cache. Options: --output DIR (default
        ./jsml-pipelines/NAME), --no-cache, --no-wait, --backend.

        ``%pipeline export NAME --to sagemaker|vertex [--out FILE] [--submit]`` exports the
        pipeline NAME (declared by a %%pipeline cell, a Pipeline variable, or else as the
        platform stored it when it last ran) to a SageMaker
        Pipeline definition or a Vertex (KFP) PipelineSpec (see ``Pipeline.to_sagemaker``).
        """
        if cell is None:
            return self._export(line)
        args = _pipeline_parser().parse_args(magic_line.split(line))
        built = api.Pipeline(args.name, output=args.output, backend=args.backend)
        self._declared[args.name] = built
        namespace = dict(self.shell.user_ns) if self.shell is not None else {}
        namespace.update({kind: getattr(built, kind) for kind in STEP_KINDS}, pipeline=built)
        exec(compile(cell, f"<%%pipeline {args.name}>", "exec"), namespace)
        return built.run(wait=not args.no_wait, use_cache=not args.no_cache)

    def _export(self, line: str) -> Any:
        args = _export_parser().parse_args(magic_line.split(line))
        found = (self.shell.user_ns if self.shell is not None else {}).get(args.name)
        if not isinstance(found, api.Pipeline):
            found = self._declared.get(args.name)
        if found is None:  # as the platform stored it when it last ran (jsml pipeline export)
            try:
                return export_stored(
                    args.name, args.to, backend="local", out=args.out, submit=args.submit
                )
            except NotFound:
                raise UsageError(
                    f"%pipeline export: no pipeline {args.name!r} in this kernel or on the "
                    "platform; run its %%pipeline cell first, or name a Pipeline variable"
                ) from None
        return export(found, args.to, out=args.out, submit=args.submit)

    @line_magic
    def pipeline_runs(self, line: str) -> Any:
        """Pipeline runs, newest first: ``%pipeline_runs [NAME] [--limit N]``; one run's steps
        (status, cache hit, duration, metrics, outputs): ``%pipeline_runs --run RUN_ID``; a
        step's log: ``%pipeline_runs --run RUN_ID --logs STEP``."""
        args = _runs_parser().parse_args(magic_line.split(line))
        if args.run and args.logs:
            return _Text(api.step_logs(args.run, args.logs, backend=args.backend))
        if args.run:
            return api.pipeline_run(args.run, backend=args.backend)
        return api.pipeline_runs(args.name, limit=args.limit, backend=args.backend)


__all__ = ["PipelineMagics"]
