"""The options of ``%%train`` and ``jsml train``, defined once.

:data:`TRAIN_OPTIONS` are argparse argument specs; :func:`train_kwargs` turns the
parsed namespace into keyword arguments of :func:`jupyter_serverless_ml.api.train`.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..options import parse_channels, parse_hyperparameters
from .cost_options import usd_amount

Spec = tuple[tuple[str, ...], dict[str, Any]]

TRAIN_OPTIONS: list[Spec] = [
    (("--name",), {"help": "job and model name (default: notebook)"}),
    (
        ("--data",),
        {
            "action": "append",
            "default": [],
            "metavar": "CHANNEL=PATH",
            "help": "data channel (repeatable): file or directory, read with channel('CHANNEL')",
        },
    ),
    (
        ("--hp",),
        {
            "action": "append",
            "default": [],
            "metavar": "KEY=VALUE",
            "help": "hyperparameter (repeatable), typed: int, float, bool, JSON or str; "
            "read as hp.KEY",
        },
    ),
    (("--backend",), {"help": "local (default: $JSML_BACKEND or local)"}),
    (("--instance-type",), {"help": "e.g. ml.m5.large (sets SM_NUM_CPUS/GPUS; recorded for cost)"}),
    (
        ("--instance-count",),
        {
            "type": int,
            "default": 1,
            "help": "number of instances: one process per rank with WORLD_SIZE/RANK/MASTER_ADDR",
        },
    ),
    (
        ("--requirements",),
        {"metavar": "FILE", "help": "requirements file (merged over detected pins)"},
    ),
    (
        ("--env",),
        {
            "default": "kernel",
            "choices": ["kernel", "isolated"],
            "help": "kernel: this interpreter (fast); isolated: a uv env from the pins",
        },
    ),
    (("--network",), {"action": "store_true", "help": "allow network access inside the sandbox"}),
    (("--memory",), {"help": "memory limit per instance, e.g. 2G (the job is killed above it)"}),
    (
        ("--max-processes",),
        {
            "type": int,
            "help": "most processes and threads the job may run (default 4096; a fork bomb "
            "is stopped)",
        },
    ),
    (
        ("--max-disk",),
        {"help": "most the job may write to /opt/ml and /tmp, e.g. 5G (default 20G)"},
    ),
    (("--max-runtime",), {"help": "time limit, e.g. 90s, 30m, 1h (the job is stopped after it)"}),
    (("--retries",), {"type": int, "default": 0, "help": "retry a failed or lost job N times"}),
    (
        ("--max-cost",),
        {
            "type": usd_amount,
            "metavar": "USD",
            "help": "budget: refused when the estimate exceeds it, stopped when its cost reaches it",
        },
    ),
    (("--no-wait",), {"action": "store_true", "help": "return at once instead of waiting"}),
    (
        ("--model-var",),
        {"default": "model", "help": "variable holding the model at the end (model)"},
    ),
    (
        ("--entry-point",),
        {"metavar": "SCRIPT", "help": "run a SageMaker/Vertex script-mode script"},
    ),
    (
        ("--source-dir",),
        {"metavar": "DIR", "help": "directory holding --entry-point and its modules"},
    ),
    (("--quiet",), {"action": "store_true", "help": "no progress lines while waiting"}),
    (
        ("--framework",),
        {
            "metavar": "NAME==VERSION",
            "help": "a SageMaker framework container's libraries, e.g. sklearn==1.2-1 "
            "(implies --env isolated)",
        },
    ),
    (
        ("--metric-definition",),
        {
            "action": "append",
            "default": [],
            "dest": "metric_definitions",
            "metavar": "NAME=REGEX",
            "help": "log lines matching REGEX become metric NAME (first group is the value; "
            "repeatable); 'xgboost': the built-in XGBoost patterns",
        },
    ),
    (
        ("--image",),
        {
            "metavar": "URI",
            "help": "train on this container image (a cloud backend; default: the framework "
            "image matching the bundle's Python and libraries)",
        },
    ),
    (
        ("--spot",),
        {
            "action": "store_true",
            "help": "run on spare capacity (SageMaker managed spot training, with checkpoints)",
        },
    ),
    (
        ("--hp-args",),
        {
            "default": "toolkit",
            "choices": ["toolkit", "json"],
            "help": "how hyperparameters reach --entry-point: toolkit (SageMaker training "
            "toolkit: True, k=v,..) or json (SDK v3 ModelTrainer)",
        },
    ),
]


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Add every training option to ``parser``."""
    for flags, kwargs in TRAIN_OPTIONS:
        parser.add_argument(*flags, **kwargs)


def train_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of ``api.train`` from parsed training options (waiting excluded)."""
    return {
        "name": args.name,
        "data": parse_channels(args.data),
        "hp": parse_hyperparameters(args.hp),
        "backend": args.backend,
        "instance_type": args.instance_type,
        "instance_count": args.instance_count,
        "requirements": args.requirements,
        "env": args.env,
        "network": args.network,
        "memory": args.memory,
        "max_runtime": args.max_runtime,
        "max_processes": args.max_processes,
        "max_disk": args.max_disk,
        "retries": args.retries,
        "model_var": args.model_var,
        "entry_point": args.entry_point,
        "source_dir": args.source_dir,
        "framework": getattr(args, "framework", None),
        "metric_definitions": getattr(args, "metric_definitions", None) or None,
        "hp_args": getattr(args, "hp_args", "toolkit"),
        "image": getattr(args, "image", None),
        "spot": bool(getattr(args, "spot", False)),
        "max_cost": getattr(args, "max_cost", None),
    }
