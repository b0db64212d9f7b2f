"""``jsml tune`` and ``jsml studies``: thin over :mod:`jupyter_serverless_ml.tuning`.

jsml tune FILE --name N --param C=loguniform(1e-3,10) --objective accuracy [--trials 20 ...]
jsml tune --resume NAME [--trials N] [--parallel P] [--no-wait]
jsml tune --stop NAME
jsml studies [NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import tuning as api
from ..errors import UsageError
from ..records import Record
from ..tuning import StudyProgress
from .tuning_options import TUNE_OPTIONS, missing, tune_kwargs


def _json(data: Any) -> None:
    print(
        json.dumps(
            data, indent=2, default=lambda v: v.to_wire() if isinstance(v, Record) else str(v)
        )
    )


def _finish(study: api.Study, args: argparse.Namespace) -> int:
    if not args.no_wait:
        study.wait(progress=None if args.quiet else StudyProgress(), raise_on_failure=False)
    if args.json:
        _json(study.record)
    else:
        print(repr(study))
    return 0 if str(study.record.status) != "Failed" else 1


def _tune(args: argparse.Namespace) -> int:
    if args.stop:
        study = api.stop_study(args.stop, backend=args.backend)
        print(study.summary())
        return 0
    if args.resume:
        study = api.resume(
            args.resume,
            trials=args.trials,
            parallel=args.parallel,
            backend=args.backend,
            wait=False,
        )
        return _finish(study, args)
    if not args.file:
        raise UsageError(
            "jsml tune FILE runs the training code in FILE (it reads hp.NAME and calls "
            "log_metric); or jsml tune --resume NAME / --stop NAME"
        )
    missing(args, "jsml tune FILE")
    try:
        code = Path(args.file).read_text()
    except OSError as exc:
        raise UsageError(f"jsml tune: cannot read {args.file}: {exc.strerror}") from None
    study = api.tune(code, **tune_kwargs(args), namespace={}, wait=False)
    print(f"started study {study.name}")
    return _finish(study, args)


def _studies(args: argparse.Namespace) -> int:
    if args.name:
        study = api.study(args.name, backend=args.backend)
        if args.json:
            _json(study.record)
        else:
            print(repr(study))
        return 0
    found = api.studies(backend=args.backend)
    if args.json:
        _json([s.record for s in found])
    else:
        print(repr(found))
    return 0


def add_commands(sub: Any) -> None:
    """Add ``tune`` and ``studies`` to the ``jsml`` subcommands."""
    p = sub.add_parser("tune", help="tune hyperparameters: each trial runs FILE as a job")
    p.add_argument("file", nargs="?", metavar="FILE", help="Python file with the training code")
    for flags, kwargs in TUNE_OPTIONS:
        p.add_argument(*flags, **kwargs)
    p.add_argument("--resume", metavar="NAME", help="re-attach to or continue study NAME")
    p.add_argument("--stop", metavar="NAME", help="stop study NAME")
    p.add_argument("--json", action="store_true", help="print the study as JSON at the end")
    p.set_defaults(run=_tune)
    p = sub.add_parser("studies", help="list tuning studies, or show one")
    p.add_argument("name", nargs="?", help="show this study with its trials")
    p.add_argument("--backend")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_studies)


__all__ = ["add_commands"]
