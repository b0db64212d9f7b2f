"""IPython magics: ``%%train``, ``%jobs``, ``%job``, ``%logs``, ``%stop``, ``%models``,
``%deploy``, ``%endpoints``, ``%endpoint``, ``%traffic``, ``%rollback``, ``%undeploy``,
``%batch_predict``, ``%batch_job``.

Thin over :mod:`jupyter_serverless_ml.api`: parse, call, return the handle. Errors
are raised (never printed and swallowed) so a papermill run of the notebook fails.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core import magic_arguments as ma
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from .. import backends
from .. import batch as batch_api
from .. import registry as registry_api
from .. import serving as serving_api
from .. import training as jobs_api
from ..batch import BatchJob
from ..errors import UsageError
from ..registry import ModelList
from ..serving import Endpoint, EndpointList
from ..training import Job, JobList
from .magic_line import strip_comment
from .model_args import resolve_model_arg
from .serving_options import (
    BATCH_OPTIONS,
    DEPLOY_OPTIONS,
    batch_kwargs,
    deploy_kwargs,
    parse_weights,
)
from .train_options import TRAIN_OPTIONS, Spec, train_kwargs


class _History:
    """The notebook's past cells as Python, transformed lazily (for class sources)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    def __iter__(self) -> Iterator[str]:
        for raw in self.shell.user_ns.get("In", []):
            try:
                yield self.shell.transform_cell(raw)
            except Exception:
                continue


def _parse(magic: Callable[..., Any], line: str, name: str) -> Any:
    """Parse magic arguments; argparse's complaints become one UsageError line."""
    try:
        return ma.parse_argstring(magic, strip_comment(line))
    except IPythonUsageError as exc:
        message = str(exc)
        options = [
            a
            for action in ma.construct_parser(getattr(magic, "__func__", magic))._actions
            for a in action.option_strings
        ]
        hint = ""
        for unknown in (
            re.findall(r"(--?[\w-]+)", message.split(":", 1)[-1])
            if "unrecognized" in message
            else []
        ):
            close = difflib.get_close_matches(unknown, options, n=1)
            if close:
                hint = f"; did you mean {close[0]}?"
                break
        raise UsageError(f"%{name}: {message}{hint} (see %{name}? for every option)") from None


_AS_VAR: Spec = (
    ("--as",),
    {"dest": "as_var", "metavar": "VAR", "help": "also store the job handle in VAR"},
)
_FROM_VARIABLE: Spec = (
    ("--from-variable",),
    {
        "action": "store_true",
        "help": "MODEL is a kernel variable (when a registered model has the same name)",
    },
)


def _with_options(specs: list[Spec]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a magic with argparse ``specs`` (as ``@magic_arguments`` + ``@argument`` do)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for flags, kwargs in reversed(specs):
            function = ma.argument(*flags, **kwargs)(function)
        return ma.magic_arguments()(function)

    return decorate


@magics_class
class ServerlessMagics(Magics):
    """The magics of jupyter-serverless-ml."""

    @property
    def _ip(self) -> Any:
        """The shell these magics are registered with."""
        assert self.shell is not None, "magics used without a shell"
        return self.shell

    @_with_options([*TRAIN_OPTIONS, _AS_VAR])
    @line_cell_magic
    def train(self, line: str, cell: str | None = None) -> Job:
        """Run the cell as a training job (never in this kernel) and return its Job handle.

        Names the cell uses from earlier cells are captured into the bundle:
        notebook functions and classes by source, modules as pinned requirements,
        other values pickled. Inside the cell: channel("train") is the path of a
        --data channel, hp.C a hyperparameter, log_metric("accuracy", 0.9) records
        a metric, and the variable `model` (--model-var) is saved and registered.

        Example::

            %%train --name cancer --data train=data/train.csv --hp C=0.5
            df = pd.read_csv(channel("train"))
            model = LogisticRegression(C=hp.C).fit(df[FEATURES], df.target)
            log_metric("accuracy", model.score(df[FEATURES], df.target))
        """
        args = _parse(self.train, line, "train")
        source = self._ip.transform_cell(cell) if cell and cell.strip() else ""
        job = jobs_api.train(
            source,
            **train_kwargs(args),
            wait=False,
            namespace=self._ip.user_ns,
            history=_History(self._ip),
        )
        if args.as_var:
            self._ip.user_ns[args.as_var] = job
        if not args.no_wait:
            from .widgets import auto_progress

            job.wait(progress=None if args.quiet else auto_progress())
        return job

    @ma.magic_arguments()
    @ma.argument("--status", help="only jobs in this status (e.g. Running, Failed)")
    @ma.argument("--name", help="only jobs with this name")
    @ma.argument("--limit", type=int, default=50, help="at most this many (newest first)")
    @ma.argument(
        "--backend",
        help="backend to list, or 'all' (default: the default backend and every backend "
        "chosen with %%backend in this session, side by side)",
    )
    @line_magic
    def jobs(self, line: str) -> JobList:
        """List jobs, newest first, with their backend."""
        args = _parse(self.jobs, line, "jobs")
        return jobs_api.jobs(
            status=args.status,
            name=args.name,
            limit=args.limit,
            backend=args.backend or backends.in_use(),
        )

    @ma.magic_arguments()
    @ma.argument("ref", help="job id, or a name for its newest job")
    @ma.argument("--backend")
    @line_magic
    def job(self, line: str) -> Job:
        """Show a job: status, timings, hyperparameters, metrics, bundle, model, failure reason."""
        args = _parse(self.job, line, "job")
        return jobs_api.job(args.ref, backend=args.backend)

    @ma.magic_arguments()
    @ma.argument("ref", help="job id, or a name for its newest job")
    @ma.argument("--follow", action="store_true", help="keep printing until the job ends")
    @ma.argument("--backend")
    @line_magic
    def logs(self, line: str) -> None:
        """Print a job's log (--follow: keep printing until it ends)."""
        args = _parse(self.logs, line, "logs")
        if args.follow:
            jobs_api.follow_logs(args.ref, backend=args.backend)
        else:
            print(jobs_api.logs(args.ref, backend=args.backend), end="")

    @ma.magic_arguments()
    @ma.argument("ref", help="job id, or a name for its newest job")
    @ma.argument("--backend")
    @line_magic
    def stop(self, line: str) -> Job:
        """Stop a running job."""
        args = _parse(self.stop, line, "stop")
        job = jobs_api.stop(args.ref, backend=args.backend)
        print(f"stop requested: {job.id} is {job.record.status}")
        return job

    @ma.magic_arguments()
    @ma.argument("name", nargs="?", help="only the versions of this model")
    @ma.argument("--backend")
    @line_magic
    def models(self, line: str) -> ModelList:
        """List registered model versions."""
        args = _parse(self.models, line, "models")
        return registry_api.models(args.name, backend=args.backend)

    def _model_arg(self, args: Any, magic: str) -> Any:
        """What MODEL names: a kernel model, job or version, or a registry reference
        (see :mod:`.model_args`; it says which it took)."""
        return resolve_model_arg(
            args.model,
            self._ip.user_ns,
            args.backend,
            from_variable=args.from_variable,
            magic=magic,
        )

    @_with_options([*DEPLOY_OPTIONS, _AS_VAR, _FROM_VARIABLE])
    @line_magic
    def deploy(self, line: str) -> Endpoint:
        """Deploy a model to an endpoint with autoscaling; waits until it serves.

        Examples::

            ep = %deploy cancer                 # latest version; or cancer:3, or a variable
            %deploy cancer --name cancer-prod --min-replicas 0 --max-replicas 4
            %deploy cancer:4 --endpoint cancer-prod --traffic 10    # a canary variant
        """
        args = _parse(self.deploy, line, "deploy")
        kwargs = deploy_kwargs(args)  # bad options are refused before anything is resolved
        model = self._model_arg(args, "deploy")
        if not isinstance(model, str) and not kwargs["name"] and not kwargs["endpoint"]:
            kwargs["name"] = args.model.replace("_", "-")
        endpoint = serving_api.deploy(model, **kwargs)
        if args.as_var:
            self._ip.user_ns[args.as_var] = endpoint
        return endpoint

    @ma.magic_arguments()
    @ma.argument("--backend")
    @line_magic
    def endpoints(self, line: str) -> EndpointList:
        """List endpoints: status, variants, replicas now/min/max, requests, p50/p95, cold starts."""
        args = _parse(self.endpoints, line, "endpoints")
        return serving_api.endpoints(backend=args.backend)

    @ma.magic_arguments()
    @ma.argument("name", help="endpoint name")
    @ma.argument("--backend")
    @line_magic
    def endpoint(self, line: str) -> Endpoint:
        """Show an endpoint: variants, latency percentiles, error rate, replicas, cold starts."""
        args = _parse(self.endpoint, line, "endpoint")
        return serving_api.endpoint(args.name, backend=args.backend)

    @ma.magic_arguments()
    @ma.argument("name", help="endpoint name")
    @ma.argument("weights", nargs="+", metavar="VARIANT=PCT", help="e.g. v4=100 or v3=90 v4=10")
    @ma.argument("--backend")
    @line_magic
    def traffic(self, line: str) -> Endpoint:
        """Shift an endpoint's traffic between variants (unnamed variants share the rest)."""
        args = _parse(self.traffic, line, "traffic")
        try:
            weights = parse_weights(args.weights)
        except UsageError as exc:
            raise UsageError(f"%traffic: {exc}") from None
        return serving_api.traffic(args.name, weights, backend=args.backend)

    @ma.magic_arguments()
    @ma.argument("name", help="endpoint name")
    @ma.argument(
        "--production",
        action="store_true",
        help="serve the previous production version of its model again (back in production)",
    )
    @ma.argument("--backend")
    @line_magic
    def rollback(self, line: str) -> Endpoint:
        """Return an endpoint to its traffic split before the last change (--production: to
        the previous production version of its model, which returns to production)."""
        args = _parse(self.rollback, line, "rollback")
        if args.production:
            registry_api.rollback_endpoint(args.name, backend=args.backend)
            return serving_api.endpoint(args.name, backend=args.backend)
        return serving_api.rollback(args.name, backend=args.backend)

    @ma.magic_arguments()
    @ma.argument("name", help="endpoint name")
    @ma.argument("--backend")
    @line_magic
    def undeploy(self, line: str) -> None:
        """Drain in-flight requests, stop the replicas and delete the endpoint."""
        args = _parse(self.undeploy, line, "undeploy")
        summary = serving_api.undeploy(args.name, backend=args.backend)
        print(f"undeployed {args.name} after {summary.stats.get('requests', 0)} requests")

    @_with_options([*BATCH_OPTIONS, _AS_VAR, _FROM_VARIABLE])
    @line_magic
    def batch_predict(self, line: str) -> BatchJob:
        """Predict every row of a file or directory into part files, in parallel workers.

        Example::

            %batch_predict cancer data/all.parquet --output out/scores/ --workers 2
        """
        args = _parse(self.batch_predict, line, "batch_predict")
        model = self._model_arg(args, "batch_predict")
        job = batch_api.batch_predict(
            model,
            args.data,
            **batch_kwargs(args),
            name=None if isinstance(model, str) else args.model.replace("_", "-"),
            wait=False,
        )
        if args.as_var:
            self._ip.user_ns[args.as_var] = job
        if not args.no_wait:
            job.wait(progress=print)
        return job

    @ma.magic_arguments()
    @ma.argument("ref", help="batch job id")
    @ma.argument("--backend")
    @line_magic
    def batch_job(self, line: str) -> BatchJob:
        """Show a batch prediction job: progress, rate, output and failure reason."""
        args = _parse(self.batch_job, line, "batch_job")
        return batch_api.batch_job(args.ref, backend=args.backend)

    @line_magic
    def backend(self, line: str) -> list[backends.BackendInfo]:
        """Set this notebook's default backend and its settings, or show the backends.

        ``%backend`` lists the backends with their features and the default;
        ``%backend NAME [--SETTING VALUE | SETTING=VALUE ...]`` makes NAME the default
        for every magic without ``--backend`` (settings are the backend's own, e.g.
        ``%backend local --home /tmp/jsml``); ``%backend --reset`` returns to the
        environment's default (``$JSML_BACKEND``, the config file, else local).
        """
        words = line.split()
        if words == ["--reset"]:
            backends.use_backend(None)
        elif words:
            name, settings = words[0], _settings(words[1:])
            backends.use_backend(name, **settings)
        return backends.describe()


def _settings(words: list[str]) -> dict[str, str]:
    """``--region eu-west-1 bucket=s3://b`` -> ``{"region": "eu-west-1", "bucket": "s3://b"}``."""
    settings: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            key, eq, value = word[2:].partition("=")
            if not eq:
                if i + 1 >= len(words):
                    raise UsageError(f"%backend: {word} needs a value, e.g. {word} VALUE")
                i += 1
                value = words[i]
        elif "=" in word:
            key, _, value = word.partition("=")
        else:
            raise UsageError(f"%backend: {word!r} is not SETTING=VALUE or --SETTING VALUE")
        settings[key.replace("-", "_")] = value
        i += 1
    return settings


def register(ipython: Any) -> None:
    """Register the magics with an IPython shell."""
    ipython.register_magics(ServerlessMagics)
    from .pipeline_magics import PipelineMagics

    ipython.register_magics(PipelineMagics)
    from .drift_magics import DriftMagics

    ipython.register_magics(DriftMagics)
    from .registry_magics import RegistryMagics
    from .schedule_magics import ScheduleMagics

    ipython.register_magics(RegistryMagics)
    ipython.register_magics(ScheduleMagics)
    from .tuning_magics import TuningMagics

    ipython.register_magics(TuningMagics)
    from .cost_magics import CostMagics

    ipython.register_magics(CostMagics)
