"""``jsml cost`` and ``jsml pricing`` (thin over the API and the catalog)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..catalog import equivalence, price_lists, prices
from . import cost_magics


def _cost(args: argparse.Namespace) -> int:
    words = list(args.words)
    for key in ("by", "since", "memory_gb"):
        value = getattr(args, key)
        if value is not None:
            words += [f"--{key.replace('_', '-')}", str(value)]
    for name in args.backend or []:
        words += ["--backend", name]
    result = cost_magics.run(words, prog="jsml cost")
    print(json.dumps(dict(result), indent=1, default=str) if args.json else result.text())
    return 0


def _pricing(args: argparse.Namespace) -> int:
    if args.action == "show":
        for row in prices.sources():
            print(
                f"{row['cloud']:<10} {row['service']:<11} {row['region']:<13} "
                f"{row['items']:>3} item(s)  {', '.join(row['dates'])}  {row['source']}"
            )
        print("equivalent types (SageMaker = Vertex AI):")
        for pair in equivalence.table():
            print(f"  {pair['sagemaker']:<16} = {pair['vertex']}")
        return 0
    written = price_lists.update(
        aws=args.aws_file, gcp=args.gcp_file, regions=args.region or None, fetch=not args.offline
    )
    print(f"wrote {written['count']} price(s) to {written['path']}")
    for note in written["notes"]:
        print(note)
    return 0


def add_cost_commands(sub: Any) -> None:
    """Add ``jsml cost`` and ``jsml pricing`` to the CLI's subcommands."""
    p = sub.add_parser("cost", help="what everything cost; jsml cost advise ENDPOINT")
    p.add_argument("words", nargs="*", help="nothing, or: advise ENDPOINT")
    p.add_argument("--by", choices=list(cost_magics.BY))
    p.add_argument("--since", help="e.g. 7d, 12h")
    p.add_argument("--backend", action="append", help="backend (repeatable)")
    p.add_argument("--memory-gb", type=float, help="serverless memory for advice (GB)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cost)
    p = sub.add_parser("pricing", help="show the price catalog, or refresh it")
    p.add_argument("action", choices=["show", "update"])
    p.add_argument("--aws-file", help="an AWS Price List bulk JSON file for AmazonSageMaker")
    p.add_argument("--gcp-file", help="a Cloud Billing Catalog skus JSON file for Vertex AI")
    p.add_argument("--region", action="append", help="regions to keep (default: all listed)")
    p.add_argument("--offline", action="store_true", help="read only the files given")
    p.set_defaults(run=_pricing)


__all__ = ["add_cost_commands"]
