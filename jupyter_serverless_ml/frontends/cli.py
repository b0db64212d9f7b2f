"""The ``jsml`` command line: thin over :mod:`jupyter_serverless_ml.api`.

jsml platform start|stop|status [--json]
jsml jobs [--status S] [--name N] [--limit N] [--json]
jsml job REF [--json]
jsml logs REF [--follow]
jsml stop REF
jsml models [NAME] [--json]
jsml bundle export REF DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .. import batch, config, registry, serving
from .. import training as api
from ..errors import JobFailed, JsmlError, UsageError
from ..records import Record
from ..statuses import JobStatus
from ..training import Progress
from .serving_options import (
    BATCH_OPTIONS,
    DEPLOY_OPTIONS,
    batch_kwargs,
    deploy_kwargs,
    parse_weights,
)
from .train_options import Spec, add_train_options, train_kwargs


def _to_json(value: Any) -> Any:
    return value.to_wire() if isinstance(value, Record) else str(value)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=_to_json))


def _platform(args: argparse.Namespace) -> int:
    from ..platform import client, state

    home = config.home()
    if args.action == "start":
        started = client.ensure_running(home)
        print(f"platform running at {started.url} (pid {started.pid}, home {home})")
    elif args.action == "stop":
        print("platform stopped" if client.stop(home) else "platform was not running")
    else:
        running = client.running(home)
        if args.json:
            info = running.get("/v1/info") if running else {}
            _print_json(
                {
                    "running": running is not None,
                    "home": str(home),
                    "url": running.url if running else None,
                    "token": state.token(home) if running else None,
                    **info,
                }
            )
        elif running is None:
            print(f"platform not running (home {home}); `jsml platform start` starts it")
            return 3
        else:
            info = running.get("/v1/info")
            sandbox = info["sandbox"]
            print(
                f"platform running at {running.url} (pid {info['pid']}, version {info['version']})\n"
                f"home: {home}\nactive jobs: {info['active_jobs']}\n"
                f"sandbox: {'bubblewrap' if sandbox['available'] else 'none: ' + sandbox['reason']}"
            )
    return 0


def _show(shown: Any, record: Any, as_json: bool) -> int:
    """Print a handle as its table/summary, or its backend record as JSON."""
    if as_json:
        _print_json(record)
    else:
        print(repr(shown))
    return 0


def _jobs(args: argparse.Namespace) -> int:
    found = api.jobs(status=args.status, name=args.name, limit=args.limit)
    return _show(found, [j.record for j in found], args.json)


def _job(args: argparse.Namespace) -> int:
    found = api.job(args.ref)
    return _show(found, found.record, args.json)


def _logs(args: argparse.Namespace) -> int:
    if args.follow:
        job = api.follow_logs(args.ref)
        return 0 if job.record.status == JobStatus.COMPLETED else 1
    sys.stdout.write(api.logs(args.ref))
    return 0


def _stop(args: argparse.Namespace) -> int:
    job = api.stop(args.ref)
    print(f"stop requested: {job.id} is {job.record.status}")
    return 0


def _models(args: argparse.Namespace) -> int:
    found = registry.models(args.name)
    return _show(found, [m.record for m in found], args.json)


def _train(args: argparse.Namespace) -> int:
    if not args.entry_point:
        raise UsageError("jsml train runs a script: give --entry-point SCRIPT [--source-dir DIR]")
    job = api.train(None, **train_kwargs(args), wait=False)
    print(f"submitted {job.id}")
    if args.no_wait:
        return 0
    job.wait(progress=None if args.quiet else Progress())
    return 0


def _bundle(args: argparse.Namespace) -> int:
    target = api.export_bundle(args.ref, args.dir)
    print(
        f"wrote the Docker build context of {args.ref} to {target} (docker build -t IMAGE {target})"
    )
    return 0


def _add(p: argparse.ArgumentParser, specs: list[Spec]) -> None:
    for flags, kwargs in specs:
        p.add_argument(*flags, **kwargs)


def _deploy(args: argparse.Namespace) -> int:
    endpoint = serving.deploy(args.model, **deploy_kwargs(args))
    return _show(endpoint, endpoint.record, args.json)


def _endpoints(args: argparse.Namespace) -> int:
    found = serving.endpoints()
    return _show(found, [e.record for e in found], args.json)


def _endpoint(args: argparse.Namespace) -> int:
    found = serving.endpoint(args.name)
    return _show(found, found.record, args.json)


def _undeploy(args: argparse.Namespace) -> int:
    summary = serving.undeploy(args.name)
    print(f"undeployed {args.name} after {summary.stats.get('requests', 0)} requests")
    return 0


def _traffic(args: argparse.Namespace) -> int:
    weights = parse_weights(args.weights)
    shown = serving.traffic(args.name, weights)
    return _show(shown, shown.record, False)


def _rollback(args: argparse.Namespace) -> int:
    if args.production:
        registry.rollback_endpoint(args.name)
        shown = serving.endpoint(args.name)
        return _show(shown, shown.record, False)
    shown = serving.rollback(args.name)
    return _show(shown, shown.record, False)


def _invoke(args: argparse.Namespace) -> int:
    try:
        with open(args.data, "rb") as fh:
            body = fh.read()
    except OSError as exc:
        raise UsageError(f"--data {args.data}: {exc.strerror}") from None
    content_type = args.content_type or (
        "text/csv" if args.data.endswith(".csv") else "application/json"
    )
    answer = serving.endpoint(args.name).invoke(body, content_type, args.accept)
    sys.stdout.write(answer.body.decode(errors="replace").rstrip("\n") + "\n")
    return 0 if answer.status == 200 else 1


def _batch(args: argparse.Namespace) -> int:
    if args.model == "show":
        found = batch.batch_job(args.data)
        return _show(found, found.record, args.json)
    if not args.output:
        raise UsageError("jsml batch MODEL DATA needs --output DIR")
    job = batch.batch_predict(args.model, args.data, **batch_kwargs(args), wait=False)
    print(f"started {job.id}", file=sys.stderr)
    if not args.no_wait:
        job.wait(progress=lambda line: print(line, file=sys.stderr))
    return _show(job, job.record, args.json)


def _batches(args: argparse.Namespace) -> int:
    found = batch.batch_jobs(limit=args.limit)
    if args.json:
        _print_json([b.record for b in found])
    else:
        for job in found:
            print(repr(job))
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from ..backends import get_backend

    found = get_backend(args.backend).cleanup(dry_run=args.dry_run)
    verb = "would clean up" if args.dry_run else "cleaned up"
    for resource in found:
        print(f"{verb} {resource}")
    print(f"{len(found)} resource(s) {verb} on {args.backend}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``jsml``."""
    top = argparse.ArgumentParser(prog="jsml", description="jupyter-serverless-ml command line")
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("platform", help="start, stop or inspect the local platform")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_platform)
    p = sub.add_parser("train", help="run a SageMaker/Vertex script-mode script as a job")
    add_train_options(p)
    p.set_defaults(run=_train)
    p = sub.add_parser("jobs", help="list jobs, newest first")
    p.add_argument("--status")
    p.add_argument("--name")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_jobs)
    p = sub.add_parser("job", help="show one job")
    p.add_argument("ref", help="job id, or a name for its newest job")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_job)
    p = sub.add_parser("logs", help="print a job's log")
    p.add_argument("ref")
    p.add_argument("--follow", "-f", action="store_true")
    p.set_defaults(run=_logs)
    p = sub.add_parser("stop", help="stop a job")
    p.add_argument("ref")
    p.set_defaults(run=_stop)
    p = sub.add_parser("models", help="list registered model versions")
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_models)
    p = sub.add_parser("bundle", help="work with job bundles")
    p.add_argument("action", choices=["export"])
    p.add_argument("ref", help="job id or name")
    p.add_argument("dir", help="directory to write the Docker build context to")
    p.set_defaults(run=_bundle)
    p = sub.add_parser("deploy", help="deploy a model to an endpoint")
    _add(p, DEPLOY_OPTIONS)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_deploy)
    p = sub.add_parser("endpoints", help="list endpoints")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_endpoints)
    p = sub.add_parser("endpoint", help="show one endpoint")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_endpoint)
    p = sub.add_parser("undeploy", help="drain and delete an endpoint")
    p.add_argument("name")
    p.set_defaults(run=_undeploy)
    p = sub.add_parser("traffic", help="shift traffic between an endpoint's variants")
    p.add_argument("name")
    p.add_argument("weights", nargs="+", metavar="VARIANT=PCT")
    p.set_defaults(run=_traffic)
    p = sub.add_parser("rollback", help="return an endpoint to its previous traffic split")
    p.add_argument("name")
    p.add_argument(
        "--production",
        action="store_true",
        help="serve the previous production version of its model again",
    )
    p.set_defaults(run=_rollback)
    p = sub.add_parser("invoke", help="send a request file to an endpoint, print the answer")
    p.add_argument("name")
    p.add_argument("--data", required=True, metavar="FILE", help="request body (JSON or CSV)")
    p.add_argument("--content-type", help="default: from the file name (.csv: text/csv)")
    p.add_argument("--accept", default="application/json")
    p.set_defaults(run=_invoke)
    p = sub.add_parser(
        "batch", help="batch prediction: jsml batch MODEL DATA --output DIR | jsml batch show ID"
    )
    _add(p, [(f, dict(k, required=False) if f == ("--output",) else k) for f, k in BATCH_OPTIONS])
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_batch)
    p = sub.add_parser("batches", help="list batch prediction jobs, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_batches)
    p = sub.add_parser("cleanup", help="delete what this tool created on a cloud backend")
    p.add_argument("--backend", required=True, help="e.g. sagemaker or vertex")
    p.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    p.set_defaults(run=_cleanup)
    from .cli_registry import add_commands as add_registry_commands
    from .cli_schedules import add_commands as add_schedule_commands

    add_registry_commands(sub)
    add_schedule_commands(sub)
    from .cli_tuning import add_commands as add_tuning_commands

    add_tuning_commands(sub)
    from .cli_drift import add_drift_commands

    add_drift_commands(sub)
    from .cli_pipelines import add_commands as add_pipeline_commands

    add_pipeline_commands(sub)
    from .cli_cost import add_cost_commands

    add_cost_commands(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jsml``; returns the exit code (errors print one line to stderr)."""
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except JobFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except JsmlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
