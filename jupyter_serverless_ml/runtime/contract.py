"""The SageMaker / Vertex training-container contract, in one place.

Layout under the ML root (``/opt/ml`` in a sandbox or container)::

    code/                         the bundle's code (cwd of the job)
    input/config/hyperparameters.json, inputdataconfig.json, resourceconfig.json
    input/data/<channel>/         one directory per data channel
    model/                        SM_MODEL_DIR = AIP_MODEL_DIR
    output/failure                failure reason
    output/data/                  SM_OUTPUT_DATA_DIR
    output/metrics.jsonl          metrics written by log_metric()

:func:`job_environment` gives the environment variables a job gets;
:func:`write_config` writes the JSON files SageMaker writes, and
:func:`environment_from_config` rebuilds the variables from them (used when a
bundle runs in a real container without SageMaker's training toolkit).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ML_ROOT = "/opt/ml"


def job_environment(
    root: str,
    channels: list[str],
    hyperparameters: Mapping[str, Any],
    *,
    hosts: list[str] | None = None,
    current_host: str = "algo-1",
    num_cpus: int = 1,
    num_gpus: int = 0,
    channel_files: Mapping[str, str] | None = None,
    job_name: str = "",
) -> dict[str, str]:
    """The environment variables of a job whose ML root is ``root``."""
    hosts = hosts or ["algo-1"]
    model_dir = f"{root}/model"
    env = {
        "SM_MODEL_DIR": model_dir,
        "AIP_MODEL_DIR": model_dir,
        "AIP_CHECKPOINT_DIR": f"{root}/checkpoints",
        "AIP_TENSORBOARD_LOG_DIR": f"{root}/output/tensorboard",
        "SM_INPUT_DIR": f"{root}/input",
        "SM_INPUT_CONFIG_DIR": f"{root}/input/config",
        "SM_INPUT_DATA_CONFIG": json.dumps({c: {"TrainingInputMode": "File"} for c in channels}),
        "SM_OUTPUT_DIR": f"{root}/output",
        "SM_OUTPUT_DATA_DIR": f"{root}/output/data",
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(dict(hyperparameters)),
        "SM_USER_ARGS": json.dumps([f"--{k}={v}" for k, v in hyperparameters.items()]),
        "SM_HOSTS": json.dumps(hosts),
        "SM_CURRENT_HOST": current_host,
        "SM_NUM_CPUS": str(num_cpus),
        "SM_NUM_GPUS": str(num_gpus),
        "SM_TRAINING_JOB_NAME": job_name,
        "CLOUD_ML_JOB_ID": job_name,
        "JSML_METRICS_FILE": f"{root}/output/metrics.jsonl",
        "JSML_CHANNEL_FILES": json.dumps(dict(channel_files or {})),
        "JSML_CODE_DIR": f"{root}/code",
    }
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = f"{root}/input/data/{name}"
    for key, value in hyperparameters.items():
        env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def write_config(
    root: Path,
    channels: list[str],
    hyperparameters: Mapping[str, Any],
    hosts: list[str],
    current_host: str,
) -> None:
    """Write ``input/config/*.json`` as SageMaker does (hyperparameter values as strings)."""
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    as_strings = {k: v if isinstance(v, str) else json.dumps(v) for k, v in hyperparameters.items()}
    (config / "hyperparameters.json").write_text(json.dumps(as_strings, indent=2))
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {
                c: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}
                for c in channels
            },
            indent=2,
        )
    )
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": current_host, "hosts": hosts}, indent=2)
    )


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def environment_from_config(root: str = ML_ROOT) -> dict[str, str]:
    """Rebuild the job environment from ``root``'s config files (missing files mean empty)."""
    config = Path(root) / "input" / "config"

    def read(name: str) -> dict[str, Any]:
        path = config / name
        return dict(json.loads(path.read_text())) if path.exists() else {}

    hps = {
        k: _loads(v) if isinstance(v, str) else v for k, v in read("hyperparameters.json").items()
    }
    resources = read("resourceconfig.json")
    data_dir = Path(root) / "input" / "data"
    files = {}
    for name in read("inputdataconfig.json"):
        entries = list((data_dir / name).iterdir()) if (data_dir / name).is_dir() else []
        if len(entries) == 1 and entries[0].is_file():
            files[name] = entries[0].name
    return job_environment(
        root,
        list(read("inputdataconfig.json")),
        hps,
        hosts=resources.get("hosts"),
        current_host=resources.get("current_host", "algo-1"),
        num_cpus=os.cpu_count() or 1,
        channel_files=files,
    )


def ensure_environment() -> None:
    """Fill in contract variables a container runtime did not set, from the config files
    under ``$JSML_ML_ROOT`` (default ``/opt/ml``)."""
    if "SM_MODEL_DIR" in os.environ:
        return
    for key, value in environment_from_config(os.environ.get("JSML_ML_ROOT", ML_ROOT)).items():
        os.environ.setdefault(key, value)
