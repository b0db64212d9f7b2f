"""``%cost``: what everything cost, and serving-mode advice (thin over the API).

::

    %cost                                  # by resource type, everything so far
    %cost --by day --since 7d              # by day, day, resource, backend or name
    %cost --backend sagemaker              # a cloud backend's jobs and endpoints
    %cost advise churn                     # provisioned vs serverless for its traffic
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from ..catalog.pricing import BY
from ..errors import UsageError
from ..monitoring.cost_api import cost, cost_advice
from . import magic_line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel
        raise UsageError(f"{self.prog}: {message}; see {self.prog} --help")


def parser(prog: str = "%cost") -> argparse.ArgumentParser:
    """The options of ``%cost`` and ``jsml cost``."""
    p = _Parser(prog=prog, description="what everything cost, or advice for an endpoint")
    p.add_argument("words", nargs="*", help="nothing, or: advise ENDPOINT")
    p.add_argument("--by", default="resource", choices=BY, help="group by (default resource)")
    p.add_argument("--since", help="only what ran in this last span, e.g. 7d, 12h")
    p.add_argument(
        "--backend",
        action="append",
        help="backend (repeatable; default: the default backend)",
    )
    p.add_argument("--memory-gb", type=float, default=2.0, help="serverless memory for advice (GB)")
    p.add_argument("--json", action="store_true", help="print JSON (jsml cost)")
    return p


def run(words: list[str], prog: str = "%cost") -> Any:
    """Run one cost command line; returns a :class:`CostReport` or :class:`Advice`."""
    args = parser(prog).parse_args(words)
    backends = args.backend or [None]
    if args.words:
        if args.words[0] != "advise" or len(args.words) != 2:
            raise UsageError(f"write {prog} [--by day] [--since 7d], or {prog} advise ENDPOINT")
        return cost_advice(args.words[1], args.memory_gb, backend=backends[0])
    chosen = backends[0] if len(backends) == 1 else backends
    return cost(by=args.by, since=args.since, backend=chosen)


@magics_class
class CostMagics(Magics):
    """The ``%cost`` magic."""

    @line_magic
    def cost(self, line: str) -> Any:
        """What every job, endpoint, batch job and stored artifact cost so far.

        %cost [--by day|resource|backend|name] [--since 7d] [--backend NAME ...]
        %cost advise ENDPOINT [--memory-gb 2]

        Local resources are free; the table shows what SageMaker and Vertex AI would
        bill at list price (equivalent types), and what each backend billed.
        """
        try:
            words = magic_line.split(line)
        except ValueError as exc:
            raise UsageError(f"%cost: {exc}") from None
        return run(words)  # shown once, as its table (text) or HTML


__all__ = ["CostMagics", "parser", "run"]
