"""``jsml pipelines``, ``jsml pipeline-runs`` and ``jsml pipeline run|stop``: thin over
:mod:`jupyter_serverless_ml.pipelines`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import pipelines as api
from ..display import clock, text_table
from ..errors import UsageError


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _pipelines(args: argparse.Namespace) -> int:
    found = api.pipelines(backend=args.backend)
    if args.json:
        _json([p.to_wire() for p in found])
        return 0
    rows = [
        [
            p.name,
            " ".join(f"{s['name']}({s['kind']})" for s in p.steps),
            (p.last_run or {}).get("id", ""),
            (p.last_run or {}).get("status", ""),
            clock((p.last_run or {}).get("created_at")),
        ]
        for p in found
    ]
    headers = ["pipeline", "steps", "last run", "status", "started"]
    print(text_table(headers, rows) if rows else "no pipelines")
    return 0


def _runs(args: argparse.Namespace) -> int:
    if args.run_id:
        if args.logs:
            print(api.step_logs(args.run_id, args.logs, backend=args.backend), end="")
            return 0
        run = api.pipeline_run(args.run_id, backend=args.backend)
        _json(run.record.to_wire()) if args.json else print(repr(run))
        return 0
    runs = api.pipeline_runs(args.name, limit=args.limit, backend=args.backend)
    _json([r.record.to_wire() for r in runs]) if args.json else print(repr(runs))
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..pipelines.export import export_stored

    if not args.to:
        raise UsageError("jsml pipeline export NAME --to sagemaker|vertex [--out FILE] [--submit]")
    data = export_stored(
        args.target, args.to, backend=args.backend or "local", out=args.out, submit=args.submit
    )
    if args.out:
        print(f"exported pipeline {args.target} to {args.to}: {args.out}")
    else:
        _json(data)
    if args.submit:
        print(f"submitted pipeline {args.target} to {args.to}", file=sys.stderr)
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    if args.action == "export":
        return _export(args)
    if args.action == "stop":
        run = api.stop_pipeline_run(args.target, backend=args.backend)
    else:
        run = api.rerun(
            args.target, backend=args.backend, wait=False, use_cache=not args.no_cache
        )
        if not args.no_wait:  # progress on stderr, so --json prints JSON alone
            run.wait(raise_on_failure=False, write=sys.stderr.write if args.json else None)
    _json(run.record.to_wire()) if args.json else print(repr(run))
    return 0 if run.status in ("Succeeded", "Executing", "Stopping", "Stopped") else 1


def add_commands(sub: Any) -> None:
    """Add the pipeline commands to ``jsml``'s subparsers."""
    p = sub.add_parser("pipelines", help="list pipelines with their newest run")
    p.add_argument("--backend")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_pipelines)
    p = sub.add_parser("pipeline-runs", help="list pipeline runs, or show one run's steps")
    p.add_argument("name", nargs="?", help="only this pipeline's runs")
    p.add_argument("--run", dest="run_id", metavar="RUN_ID", help="show this run's steps")
    p.add_argument("--logs", metavar="STEP", help="with --run: print this step's log")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--backend")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_runs)
    p = sub.add_parser(
        "pipeline", help="run a stored pipeline again, stop a run, or export it to a cloud"
    )
    p.add_argument("action", choices=["run", "stop", "export"])
    p.add_argument(
        "target", metavar="NAME|RUN_ID", help="pipeline name (run, export) or run id (stop)"
    )
    p.add_argument("--to", choices=["sagemaker", "vertex"], help="export: the target cloud")
    p.add_argument("--out", metavar="FILE", help="export: write the definition here (JSON)")
    p.add_argument("--submit", action="store_true", help="export: also create/run it there")
    p.add_argument("--no-cache", action="store_true", help="run every step, even unchanged ones")
    p.add_argument("--no-wait", action="store_true", help="return once the run started")
    p.add_argument("--backend")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_pipeline)


__all__ = ["add_commands"]
