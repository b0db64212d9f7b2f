"""Magics of the model registry's lifecycle: ``%model``, ``%promote``, ``%approve``, ``%reject``.

Thin over :mod:`jupyter_serverless_ml.registry` (``%models`` is in :mod:`.magics`).
A refused promotion raises, so a papermill run of the notebook fails.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .. import registry as api
from ..errors import UsageError
from ..registry import ModelVersion
from . import magic_line
from .cli_registry import approval_parser, model_parser, promote_parser


def _parse(parser: Any, line: str, magic: str) -> Any:
    try:
        return parser.parse_args(magic_line.split(line))
    except SystemExit:
        raise UsageError(f"%{magic} {line}: see %{magic}? for the options") from None


@magics_class
class RegistryMagics(Magics):
    """Model versions, stages and approval."""

    @line_magic
    def model(self, line: str) -> ModelVersion:
        """Show a model version with its stage, approval, metrics and lineage (job, bundle hash,
        data and their hashes, parameters, who and when): ``%model cancer``, ``%model cancer:4``,
        ``%model cancer@production``."""
        args = _parse(model_parser("%model"), line, "model")
        return api.model(args.ref, backend=args.backend)

    @line_magic
    def promote(self, line: str) -> ModelVersion:
        """Move a version to a stage behind a gate; refused (with why) when it fails the gate.

        Example::

            %promote cancer:4 production --require "accuracy>=0.9" --compare production
            %promote cancer:5 staging

        --require METRIC>=VALUE (repeat; <= for metrics where lower is better) must hold for
        the version's metrics; --compare STAGE refuses a version worse than the one now in
        STAGE on a required metric. The version that held the stage is archived; entering
        production approves the version.
        """
        args = _parse(promote_parser("%promote"), line, "promote")
        return api.promote(
            args.ref,
            args.stage,
            require=args.require,
            compare=args.compare,
            reason=args.reason or "",
            backend=args.backend,
        )

    @line_magic
    def approve(self, line: str) -> ModelVersion:
        """Approve a version: ``%approve cancer:4 [--reason TEXT]``."""
        args = _parse(approval_parser("%approve"), line, "approve")
        return api.approve(args.ref, args.reason or "", backend=args.backend)

    @line_magic
    def reject(self, line: str) -> ModelVersion:
        """Reject a version (one in staging or production is archived):
        ``%reject cancer:4 [--reason TEXT]``."""
        args = _parse(approval_parser("%reject"), line, "reject")
        return api.reject(args.ref, args.reason or "", backend=args.backend)


__all__ = ["RegistryMagics"]
