"""``jsml model``, ``jsml promote``, ``jsml approve``, ``jsml reject``: thin over
:mod:`jupyter_serverless_ml.registry` (``jsml models`` is in :mod:`.cli`).

jsml model REF [--json]                        a version with stage, approval, metrics, lineage
jsml promote REF STAGE [--require "accuracy>=0.9" ...] [--compare production] [--reason TEXT]
jsml approve REF [--reason TEXT] | jsml reject REF [--reason TEXT]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import registry as api
from ..records import Record


def _json(data: Any) -> None:
    default = lambda v: v.to_wire() if isinstance(v, Record) else str(v)  # noqa: E731
    print(json.dumps(data, indent=2, default=default))


def _new(prog: str, parser: argparse.ArgumentParser | None) -> argparse.ArgumentParser:
    return parser or argparse.ArgumentParser(prog=prog, add_help=False)


def model_parser(
    prog: str, parser: argparse.ArgumentParser | None = None
) -> argparse.ArgumentParser:
    """``REF [--backend]``."""
    p = _new(prog, parser)
    p.add_argument("ref", help="NAME, NAME:VERSION or NAME@STAGE")
    p.add_argument("--backend")
    return p


def promote_parser(
    prog: str, parser: argparse.ArgumentParser | None = None
) -> argparse.ArgumentParser:
    """``REF STAGE [--require ...] [--compare STAGE] [--reason] [--backend]``."""
    p = model_parser(prog, parser)
    p.add_argument("stage", help="none, staging, production or archived")
    p.add_argument(
        "--require",
        action="append",
        metavar="METRIC>=VALUE",
        help='gate on a metric (repeat): "accuracy>=0.9", "loss<=0.3"',
    )
    p.add_argument(
        "--compare", metavar="STAGE", help="refuse a version worse than the one now in STAGE"
    )
    p.add_argument("--reason", help="why (kept with the stage change)")
    return p


def approval_parser(
    prog: str, parser: argparse.ArgumentParser | None = None
) -> argparse.ArgumentParser:
    """``REF [--reason] [--backend]``."""
    p = model_parser(prog, parser)
    p.add_argument("--reason", help="why (kept with the change)")
    return p


def _model(args: argparse.Namespace) -> int:
    found = api.model(args.ref, backend=args.backend)
    if args.json:
        _json(found.record)
    else:
        print(repr(found))
    return 0


def _promote(args: argparse.Namespace) -> int:
    done = api.promote(
        args.ref,
        args.stage,
        require=args.require,
        compare=args.compare,
        reason=args.reason or "",
        backend=args.backend,
    )
    print(f"{done.ref} is now in {done.stage} ({done.approval})")
    return 0


def _approve(args: argparse.Namespace) -> int:
    done = api.approve(args.ref, args.reason or "", backend=args.backend)
    print(f"{done.ref}: {done.approval} (stage {done.stage})")
    return 0


def _reject(args: argparse.Namespace) -> int:
    done = api.reject(args.ref, args.reason or "", backend=args.backend)
    print(f"{done.ref}: {done.approval} (stage {done.stage})")
    return 0


def add_commands(sub: Any) -> None:
    """Add the registry lifecycle commands to ``jsml``'s subparsers."""
    p = sub.add_parser("model", help="show a model version: stage, approval, metrics, lineage")
    model_parser("jsml model", p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_model)
    p = sub.add_parser("promote", help="move a model version to a stage behind a metric gate")
    promote_parser("jsml promote", p)
    p.set_defaults(run=_promote)
    p = sub.add_parser("approve", help="approve a model version")
    approval_parser("jsml approve", p)
    p.set_defaults(run=_approve)
    p = sub.add_parser("reject", help="reject a model version")
    approval_parser("jsml reject", p)
    p.set_defaults(run=_reject)


__all__ = ["add_commands", "approval_parser", "model_parser", "promote_parser"]
