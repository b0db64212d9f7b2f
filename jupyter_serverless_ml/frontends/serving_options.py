"""The options of ``%deploy``/``jsml deploy`` and ``%batch_predict``/``jsml batch``, defined once."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from .cost_options import usd_amount
from .train_options import Spec

DEPLOY_OPTIONS: list[Spec] = [
    (
        ("model",),
        {
            "help": "NAME (latest version), NAME:VERSION, or a kernel variable "
            "holding a model, a job or a model version"
        },
    ),
    (("--name",), {"help": "endpoint name (default: the model's name)"}),
    (
        ("--inference-script",),
        {
            "metavar": "FILE",
            "help": "SageMaker inference handlers (model_fn, input_fn, predict_fn, output_fn, "
            "transform_fn) serving the model; relative to --source-dir when both are given",
        },
    ),
    (
        ("--source-dir",),
        {
            "metavar": "DIR",
            "help": "the inference code's directory (alone: its inference.py, or its one "
            "script with handlers or a Vertex Predictor class)",
        },
    ),
    (
        ("--predictor",),
        {
            "metavar": "MODULE:CLASS",
            "help": "a Vertex AI custom prediction routine (load, preprocess, predict, "
            "postprocess) in --source-dir",
        },
    ),
    (
        ("--endpoint",),
        {"metavar": "NAME", "help": "add this model as a variant of an existing endpoint"},
    ),
    (
        ("--traffic",),
        {
            "type": float,
            "metavar": "PCT",
            "help": "with --endpoint: the new variant's share (default 100)",
        },
    ),
    (
        ("--min-replicas",),
        {"type": int, "help": "replicas kept warm; 0 scales to zero (default 1)"},
    ),
    (("--max-replicas",), {"type": int, "help": "autoscaling ceiling (default 4)"}),
    (
        ("--target-concurrency",),
        {
            "type": float,
            "metavar": "N",
            "help": "in-flight requests per replica the autoscaler aims for (default 2)",
        },
    ),
    (
        ("--idle-timeout",),
        {
            "metavar": "DURATION",
            "help": "with --min-replicas 0: scale to zero after this long idle (default 60s)",
        },
    ),
    (
        ("--method",),
        {
            "choices": ["predict", "predict_proba"],
            "help": "what predictions return (default predict)",
        },
    ),
    (
        ("--capture",),
        {
            "type": float,
            "metavar": "PCT",
            "help": "share of requests stored for drift and replay (default 100)",
        },
    ),
    (
        ("--max-payload",),
        {"metavar": "SIZE", "help": "largest request body (default 6M; larger gets 413)"},
    ),
    (("--instance-type",), {"help": "e.g. ml.m5.large (recorded for cost)"}),
    (
        ("--serverless",),
        {
            "action": "store_true",
            "help": "a serverless endpoint (SageMaker Serverless Inference) instead of instances",
        },
    ),
    (
        ("--memory",),
        {"type": int, "metavar": "MB", "help": "with --serverless: 1024-6144 MB (default 2048)"},
    ),
    (
        ("--max-concurrency",),
        {"type": int, "metavar": "N", "help": "with --serverless: 1-200 (default 5)"},
    ),
    (("--metrics-interval",), {"metavar": "DURATION", "help": "autoscaler tick (default 2s)"}),
    (
        ("--upscale-delay",),
        {"metavar": "DURATION", "help": "load must stay high this long (default 0s)"},
    ),
    (
        ("--downscale-delay",),
        {"metavar": "DURATION", "help": "load must stay low this long (default 30s)"},
    ),
    (
        ("--cold-start-timeout",),
        {"metavar": "DURATION", "help": "how long a request waits for a replica (default 30s)"},
    ),
    (
        ("--keep-warm",),
        {
            "action": argparse.BooleanOptionalAction,
            "default": None,
            "help": "keep one loaded copy of the model (its template) while the endpoint exists, "
            "so scaling from zero costs a fork and replicas share its memory (default); "
            "--no-keep-warm frees that memory at zero replicas, and cold starts load the model",
        },
    ),
    (
        ("--multi-model",),
        {
            "action": "store_true",
            "help": "serve every version of MODEL (or every model under PREFIX*) from one "
            "endpoint; each request names its model (TargetModel)",
        },
    ),
    (
        ("--model-cache",),
        {
            "metavar": "SIZE",
            "help": "with --multi-model: models a replica keeps loaded, least recently used "
            "evicted (default 2G)",
        },
    ),
    (
        ("--warmup",),
        {
            "metavar": "FILE",
            "help": "JSON Lines of request bodies each new replica answers before it takes traffic",
        },
    ),
    (
        ("--max-cost",),
        {
            "type": usd_amount,
            "metavar": "USD",
            "help": "budget: refused when the estimate exceeds it, stopped when its cost reaches it",
        },
    ),
    (("--backend",), {"help": "local (default: $JSML_BACKEND or local)"}),
]

BATCH_OPTIONS: list[Spec] = [
    (("model",), {"help": "NAME or NAME:VERSION (or a kernel variable holding a job or version)"}),
    (("data",), {"help": "input: a .parquet, .csv or .jsonl file, or a directory of them"}),
    (
        ("--output",),
        {
            "required": True,
            "metavar": "DIR",
            "help": "output directory (part files in input order + _manifest.json)",
        },
    ),
    (("--workers",), {"type": int, "default": 2, "help": "parallel worker processes (default 2)"}),
    (
        ("--chunk-rows",),
        {
            "type": int,
            "default": 100_000,
            "metavar": "N",
            "help": "rows per shard (default 100000)",
        },
    ),
    (
        ("--format",),
        {
            "default": "parquet",
            "choices": ["parquet", "csv", "jsonl"],
            "help": "output format (default parquet)",
        },
    ),
    (
        ("--input-format",),
        {
            "choices": ["parquet", "csv", "jsonl"],
            "help": "input format when the file names do not tell",
        },
    ),
    (
        ("--on-error",),
        {
            "default": "fail",
            "choices": ["fail", "skip"],
            "help": "a bad row fails the job, or is written with an empty prediction and its error",
        },
    ),
    (("--retries",), {"type": int, "default": 2, "help": "retries of a failed shard (default 2)"}),
    (("--method",), {"default": "predict", "choices": ["predict", "predict_proba"]}),
    (
        ("--include-input",),
        {"action": "store_true", "help": "also write every input column (ids too), to join back"},
    ),
    (
        ("--csv-header",),
        {
            "default": "auto",
            "choices": ["auto", "yes", "no"],
            "help": "is a CSV's first line a header? auto: not when it is all numbers",
        },
    ),
    (("--no-wait",), {"action": "store_true", "help": "return at once with the batch handle"}),
    (
        ("--max-cost",),
        {
            "type": usd_amount,
            "metavar": "USD",
            "help": "budget: refused when the estimate exceeds it, stopped when its cost reaches it",
        },
    ),
    (("--backend",), {"help": "local (default: $JSML_BACKEND or local)"}),
]

_DURATIONS = (
    "idle_timeout",
    "metrics_interval",
    "upscale_delay",
    "downscale_delay",
    "cold_start_timeout",
)


def parse_weights(items: list[str]) -> dict[str, float]:
    """``["v3=90", "v4=10%"]`` -> ``{"v3": 90.0, "v4": 10.0}``; a malformed item is a UsageError."""
    weights = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            weights[key] = float(value.rstrip("%"))
        except ValueError:
            sep = ""
        if not sep or not key:
            raise UsageError(f"{item!r} must look like VARIANT=PERCENT, e.g. v4=100")
    return weights


def deploy_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`jupyter_serverless_ml.serving.deploy` (model excluded)."""
    if args.traffic is not None and not args.endpoint:
        raise UsageError("--traffic goes with --endpoint NAME (a variant of an existing endpoint)")
    if args.endpoint and args.name:
        raise UsageError("use --name to create an endpoint or --endpoint to add to one, not both")
    kwargs = {
        "name": args.name,
        "endpoint": args.endpoint,
        "traffic": args.traffic,
        "min_replicas": args.min_replicas,
        "max_replicas": args.max_replicas,
        "target_concurrency": args.target_concurrency,
        "method": args.method,
        "capture": args.capture,
        "max_payload": args.max_payload,
        "instance_type": args.instance_type,
        "backend": args.backend,
    }
    if getattr(args, "serverless", False):
        kwargs["serverless"] = True
    if getattr(args, "multi_model", False):
        kwargs["multi_model"] = True
    for key in ("keep_warm", "model_cache", "warmup"):
        if getattr(args, key, None) is not None:
            kwargs[key] = getattr(args, key)
    extra = ("inference_script", "source_dir", "predictor", "memory", "max_concurrency", "max_cost")
    for key in extra:
        if getattr(args, key, None) is not None:
            kwargs[key] = getattr(args, key)
    kwargs.update({k: getattr(args, k) for k in _DURATIONS if getattr(args, k) is not None})
    return kwargs


def batch_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`jupyter_serverless_ml.serving.batch_predict` (model, data excluded)."""
    return {
        "output": args.output,
        "workers": args.workers,
        "chunk_rows": args.chunk_rows,
        "format": args.format,
        "input_format": args.input_format,
        "on_error": args.on_error,
        "retries": args.retries,
        "method": args.method,
        "include_input": args.include_input,
        "csv_header": getattr(args, "csv_header", "auto"),
        "backend": args.backend,
        "max_cost": getattr(args, "max_cost", None),
    }
