"""IPython magics: ``%%train``, ``%jobs``, ``%job``, ``%logs``, ``%stop``, ``%models``.

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

from . import api
from .errors import UsageError
from .handles import Job, JobList, ModelList, Progress
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
        return ma.parse_argstring(magic, line)
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
        job = api.train(
            source,
            **train_kwargs(args),
            wait=False,
            namespace=self._ip.user_ns,
            history=_History(self._ip),
        )
        if args.as_var:
            self._ip.user_ns[args.as_var] = job
        if not args.no_wait:
            job.wait(progress=None if args.quiet else Progress())
        return job

    @ma.magic_arguments()
    @ma.argument("--status", help="only jobs in this status (e.g. Running, Failed)")
    @ma.argument("--name", help="only jobs with this name")
    @ma.argument("--limit", type=int, default=50, help="at most this many (newest first)")
    @ma.argument("--backend", help="backend to list (default: the default backend)")
    @line_magic
    def jobs(self, line: str) -> JobList:
        """List jobs, newest first."""
        args = _parse(self.jobs, line, "jobs")
        return api.jobs(status=args.status, name=args.name, limit=args.limit, backend=args.backend)

    @ma.magic_arguments()
    @ma.argument("ref", help="job id, or a name for its newest job")
    @ma.argument("--backend")
    @line_magic
    def job(self, line: str) -> Job:
        """Show a job: status, timings, hyperparameters, metrics, bundle, model, failure reason."""
        args = _parse(self.job, line, "job")
        return api.job(args.ref, backend=args.backend)

    @ma.magic_arguments()
    @ma.argument("ref", help="job id, or a name for its newest job")
    @ma.argument("--follow", action="store_true", help="keep printing until the job ends")
    @ma.argument("--backend")
    @line_magic
    def logs(self, line: str) -> None:
        """Print a job's log (--follow: keep printing until it ends)."""
        args = _parse(self.logs, line, "logs")
        if args.follow:
            api.follow_logs(args.ref, backend=args.backend)
        else:
            print(api.logs(args.ref, backend=args.backend), end="")

    @ma.magic_arguments()
    @ma.argument("ref", help="job id, or a name for its newest job")
    @ma.argument("--backend")
    @line_magic
    def stop(self, line: str) -> Job:
        """Stop a running job."""
        args = _parse(self.stop, line, "stop")
        job = api.stop(args.ref, backend=args.backend)
        print(f"stop requested: {job.id} is {job.record['status']}")
        return job

    @ma.magic_arguments()
    @ma.argument("name", nargs="?", help="only the versions of this model")
    @ma.argument("--backend")
    @line_magic
    def models(self, line: str) -> ModelList:
        """List registered model versions."""
        args = _parse(self.models, line, "models")
        return api.models(args.name, backend=args.backend)


def register(ipython: Any) -> None:
    """Register the magics with an IPython shell."""
    ipython.register_magics(ServerlessMagics)
