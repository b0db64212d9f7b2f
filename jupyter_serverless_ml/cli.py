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

from . import api, config
from .errors import JobFailed, JsmlError, UsageError
from .handles import Progress
from .train_options import add_train_options, train_kwargs


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _platform(args: argparse.Namespace) -> int:
    from .platform import client, state

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
        return 0 if job.record["status"] == "Completed" else 1
    sys.stdout.write(api.logs(args.ref))
    return 0


def _stop(args: argparse.Namespace) -> int:
    job = api.stop(args.ref)
    print(f"stop requested: {job.id} is {job.record['status']}")
    return 0


def _models(args: argparse.Namespace) -> int:
    found = api.models(args.name)
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
