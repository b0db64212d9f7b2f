"""The tuning magics: ``%%tune``, ``%tune NAME``, ``%tune --resume NAME``, ``%tune --stop NAME``,
``%studies``. Thin over :mod:`jupyter_serverless_ml.tuning`; errors are raised."""

from __future__ import annotations

from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

from .. import tuning as api
from ..errors import UsageError
from ..tuning import Study, StudyList, StudyProgress
from .magics import _AS_VAR, _History, _parse, _with_options
from .tuning_options import TUNE_OPTIONS, missing, tune_kwargs
from .widgets import widgets_available

_LINE_OPTIONS = [
    (("study",), {"nargs": "?", "help": "show this study (line magic)"}),
    (("--resume",), {"metavar": "NAME", "help": "re-attach to or continue study NAME"}),
    (("--stop",), {"metavar": "NAME", "help": "stop study NAME and its running trials"}),
]


class LiveStudy(StudyProgress):
    """The study's table and plot, updated in place in the cell's output as trials end."""

    def __init__(self) -> None:
        from IPython.display import HTML, display

        super().__init__(write=lambda _text: None)
        self._html = HTML
        self.handle = display(HTML("<i>starting the study...</i>"), display_id=True)

    def update(self, study: Study) -> None:
        if self.handle is not None:
            self.handle.update(self._html(study._repr_html_()))

    def close(self) -> None:
        """The last state stays in the output."""


def progress(quiet: bool) -> StudyProgress | None:
    """A live HTML view in an interactive notebook, printed lines elsewhere (papermill)."""
    if quiet:
        return None
    if widgets_available():
        try:
            return LiveStudy()
        except Exception:  # a frontend without display updates: plain lines still work
            return StudyProgress()
    return StudyProgress()


@magics_class
class TuningMagics(Magics):
    """``%%tune`` and ``%studies``."""

    @_with_options([*TUNE_OPTIONS, *_LINE_OPTIONS, _AS_VAR])
    @line_cell_magic
    def tune(self, line: str, cell: str | None = None) -> Study | None:
        """Tune the cell's hyperparameters: every trial runs the cell as a training job.

        The cell is written like a %%train cell: it reads hp.NAME for each --param and
        logs the objective with log_metric(OBJECTIVE, value) (with step=i for intermediate
        values that --early-stop prunes on). A live table (trial, parameters, objective,
        duration, status, best so far) and a plot of the objective follow the study; the
        best trial's model is registered with its parameters. The study runs in the
        platform: if the kernel dies, %tune --resume NAME re-attaches to it.

        Examples::

            %%tune --name cancer --param C=loguniform(1e-3,10) --param penalty=choice(l1,l2) \\
                   --objective accuracy --trials 20 --parallel 2 --early-stop
            model = LogisticRegression(C=hp.C, penalty=hp.penalty, solver="liblinear")
            model.fit(X, y)
            log_metric("accuracy", model.score(X, y))

            %tune cancer                 # show a study
            %tune --resume cancer        # re-attach after a kernel restart (or continue)
            %tune --stop cancer
        """
        shell = self.shell
        assert shell is not None, "magics used without a shell"
        args = _parse(self.tune, line, "tune")
        backend = args.backend
        if cell is None or not cell.strip():
            if args.stop:
                return api.stop_study(args.stop, backend=backend)
            if args.resume:
                found = api.resume(
                    args.resume,
                    trials=args.trials,
                    parallel=args.parallel,
                    backend=backend,
                    wait=not args.no_wait,
                    progress=progress(args.quiet),
                )
                return self._keep(found, args.as_var)
            if args.study:
                return api.study(args.study, backend=backend)
            raise UsageError(
                "%tune NAME shows a study, %tune --resume NAME continues one; %%tune (a cell "
                "magic) starts one: see %tune?"
            )
        if args.study or args.resume or args.stop:
            raise UsageError(
                "%%tune starts a new study from the cell; to resume or stop one use the line "
                "magic (%tune --resume NAME) without a cell body"
            )
        missing(args, "%%tune")
        study = api.tune(
            shell.transform_cell(cell),
            **tune_kwargs(args),
            namespace=shell.user_ns,
            history=_History(shell),
            wait=False,
        )
        self._keep(study, args.as_var)
        if not args.no_wait:
            study.wait(progress=progress(args.quiet))
        return study

    def _keep(self, study: Study, var: str | None) -> Study:
        if var:
            assert self.shell is not None
            self.shell.user_ns[var] = study
        return study

    @line_magic
    def studies(self, line: str) -> StudyList:
        """List tuning studies, newest first: status, trials done, best value and parameters.

        ``%studies --backend NAME`` lists another backend's."""
        words = line.split()
        backend = None
        if words[:1] == ["--backend"] and len(words) == 2:
            backend = words[1]
        elif words:
            raise UsageError(f"%studies takes no arguments but --backend NAME, not {line!r}")
        return api.studies(backend=backend)


__all__ = ["LiveStudy", "TuningMagics", "progress"]
