"""The options of ``%%tune`` and ``jsml tune``, defined once.

:data:`TUNE_OPTIONS` are argparse argument specs; :func:`tune_kwargs` turns the parsed
namespace into keyword arguments of :func:`jupyter_serverless_ml.tuning.tune`.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..options import parse_channels, parse_hyperparameters
from .train_options import TRAIN_OPTIONS, Spec

_SHARED = {
    "--data",
    "--hp",
    "--backend",
    "--instance-type",
    "--requirements",
    "--env",
    "--network",
    "--memory",
    "--max-processes",
    "--max-disk",
    "--max-runtime",
    "--model-var",
    "--quiet",
}

TUNE_OPTIONS: list[Spec] = [
    (("--name",), {"help": "study name (and the best model's name unless --model-name)"}),
    (
        ("--param",),
        {
            "action": "append",
            "default": [],
            "metavar": "NAME=DIST",
            "help": "a tuned hyperparameter (repeatable), read as hp.NAME: loguniform(LOW,HIGH), "
            "uniform(LOW,HIGH), int(LOW,HIGH[,STEP]) or choice(A,B,...)",
        },
    ),
    (("--objective",), {"metavar": "METRIC", "help": "the metric the cell logs with log_metric"}),
    (
        ("--direction",),
        {"default": "maximize", "choices": ["maximize", "minimize"], "help": "(maximize)"},
    ),
    (
        ("--trials",),
        {"type": int, "help": "how many trials in all (20; with --resume: a new budget)"},
    ),
    (("--parallel",), {"type": int, "help": "how many trials run at once (1)"}),
    (
        ("--strategy",),
        {
            "default": "tpe",
            "choices": ["tpe", "random", "grid"],
            "help": "tpe (Optuna's TPE, default), random, or grid (int and choice parameters)",
        },
    ),
    (
        ("--early-stop",),
        {
            "action": "store_true",
            "help": "stop trials whose log_metric(OBJECTIVE, v, step=i) values fall below the "
            "median of earlier trials (Optuna's MedianPruner)",
        },
    ),
    (("--seed",), {"type": int, "help": "seed of the sampler (reproducible parameter choices)"}),
    (("--model-name",), {"help": "register the best trial's model under this name"}),
    (("--no-wait",), {"action": "store_true", "help": "return at once instead of waiting"}),
    *[spec for spec in TRAIN_OPTIONS if spec[0][0] in _SHARED],
]


def tune_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of ``tuning.tune`` from parsed tuning options (waiting excluded)."""
    return {
        "name": args.name,
        "params": args.param,
        "objective": args.objective,
        "direction": args.direction,
        "trials": 20 if args.trials is None else args.trials,
        "parallel": 1 if args.parallel is None else args.parallel,
        "strategy": args.strategy,
        "early_stop": args.early_stop,
        "seed": args.seed,
        "model_name": args.model_name,
        "data": parse_channels(args.data),
        "hp": parse_hyperparameters(args.hp),
        "backend": args.backend,
        "instance_type": args.instance_type,
        "requirements": args.requirements,
        "env": args.env,
        "network": args.network,
        "memory": args.memory,
        "max_runtime": args.max_runtime,
        "max_processes": args.max_processes,
        "max_disk": args.max_disk,
        "model_var": args.model_var,
    }


def missing(args: argparse.Namespace, command: str) -> None:
    """Refuse a new study without its name, parameters or objective, with an example."""
    from ..errors import UsageError

    lacking = [
        flag
        for flag, value in (
            ("--name", args.name),
            ("--param", args.param),
            ("--objective", args.objective),
        )
        if not value
    ]
    if lacking:
        raise UsageError(
            f"{command} needs {', '.join(lacking)}, e.g. {command} --name cancer "
            "--param C=loguniform(1e-3,10) --objective accuracy --trials 20"
        )


__all__ = ["TUNE_OPTIONS", "missing", "tune_kwargs"]
