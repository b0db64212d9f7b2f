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

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import toolkit

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
    instance_type: str = "local",
    entry_point: str = "",
    hp_style: str = "toolkit",
) -> dict[str, str]:
    """The environment variables of a job whose ML root is ``root``: everything the
    SageMaker training toolkit and Vertex AI define (:mod:`.toolkit`), plus the
    runtime's own ``JSML_*`` (metrics file, channel files, code directory, and the
    typed hyperparameters the runner recomputes the rest from)."""
    hosts = hosts or ["algo-1"]
    channel_paths = {c: f"{root}/input/data/{c}" for c in channels}
    env = toolkit.toolkit_environment(
        root,
        list(channels),
        hyperparameters,
        hosts=hosts,
        current_host=current_host,
        instance_type=instance_type,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        entry_point=entry_point,
        job_name=job_name,
        hp_style=hp_style,
    )
    env.update(
        toolkit.vertex_environment(
            root, channel_paths, hosts=hosts, current_host=current_host, job_name=job_name
        )
    )
    env.update(
        JSML_METRICS_FILE=f"{root}/output/metrics.jsonl",
        JSML_CHANNEL_FILES=json.dumps(dict(channel_files or {})),
        JSML_CODE_DIR=f"{root}/code",
        JSML_HYPERPARAMETERS=json.dumps(dict(hyperparameters)),
    )
    return env


def write_config(
    root: Path,
    channels: list[str],
    hyperparameters: Mapping[str, Any],
    hosts: list[str],
    current_host: str,
    instance_type: str = "local",
) -> None:
    """Write ``input/config/*.json`` as SageMaker does (hyperparameter values as strings)."""
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    as_strings = {k: v if isinstance(v, str) else json.dumps(v) for k, v in hyperparameters.items()}
    (config / "hyperparameters.json").write_text(json.dumps(as_strings, indent=2))
    (config / "inputdataconfig.json").write_text(
        json.dumps(toolkit.input_data_config(list(channels)), indent=2)
    )
    write_resource_config(root, hosts, current_host, instance_type)


def write_resource_config(
    root: Path, hosts: list[str], current_host: str, instance_type: str
) -> None:
    """Write ``input/config/resourceconfig.json`` (atomically: ranks may rewrite it)."""
    path = root / "input" / "config" / "resourceconfig.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(
        json.dumps(toolkit.resource_config(hosts, current_host, instance_type), indent=2)
    )
    os.replace(temporary, path)


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
        instance_type=str(resources.get("current_instance_type") or "local"),
        job_name=os.environ.get("TRAINING_JOB_NAME", ""),
    )


def ensure_environment() -> None:
    """Fill in contract variables a container runtime did not set, from the config files
    under ``$JSML_ML_ROOT`` (default ``/opt/ml``)."""
    if "SM_MODEL_DIR" in os.environ:
        return
    for key, value in environment_from_config(os.environ.get("JSML_ML_ROOT", ML_ROOT)).items():
        os.environ.setdefault(key, value)


_VERTEX_OWNED = frozenset({"CLOUD_ML_PROJECT_ID", "CLOUD_ML_JOB_ID", "CLUSTER_SPEC", "TF_CONFIG"})


def complete_environment(config: Mapping[str, Any]) -> None:
    """Recompute the toolkit's and Vertex's variables inside the job, as the training toolkit
    does in a framework container: from what the platform set (this rank's host, the
    typed hyperparameters) and the bundle's config (instance type, entry point, argument
    style). An instance type in ``resourceconfig.json`` other than ``local`` (a cloud's)
    wins over the bundle's."""
    env = os.environ
    if "SM_MODEL_DIR" not in env:
        return
    root = str(Path(env["SM_MODEL_DIR"]).parent)
    resources_file = Path(root) / "input" / "config" / "resourceconfig.json"
    try:
        resources = dict(json.loads(resources_file.read_text()))
    except (OSError, ValueError):
        resources = {}
    given = str(resources.get("current_instance_type") or "")
    instance_type = (
        given if given not in ("", "local") else str(config.get("instance_type") or "local")
    )
    hosts = list(json.loads(env.get("SM_HOSTS") or "[]")) or ["algo-1"]
    current_host = env.get("SM_CURRENT_HOST") or hosts[0]
    hps = json.loads(env.get("JSML_HYPERPARAMETERS") or env.get("SM_HPS") or "{}")
    entry = str(config.get("entry_point") or config.get("cell_file") or "")
    fresh = job_environment(
        root,
        list(json.loads(env.get("SM_CHANNELS") or "[]")),
        hps,
        hosts=hosts,
        current_host=current_host,
        num_cpus=int(env.get("SM_NUM_CPUS") or os.cpu_count() or 1),
        num_gpus=int(env.get("SM_NUM_GPUS") or 0),
        channel_files=json.loads(env.get("JSML_CHANNEL_FILES") or "{}"),
        job_name=env.get("SM_TRAINING_JOB_NAME") or env.get("TRAINING_JOB_NAME") or "",
        instance_type=instance_type,
        entry_point=entry,
        hp_style=str(config.get("hp_args") or "toolkit"),
    )
    master_port = env.get("MASTER_PORT")
    if master_port and master_port.isdigit():
        fresh.update(
            {
                k: v
                for k, v in toolkit.vertex_environment(
                    root,
                    {c: f"{root}/input/data/{c}" for c in json.loads(fresh["SM_CHANNELS"])},
                    hosts=hosts,
                    current_host=current_host,
                    job_name=fresh["CLOUD_ML_JOB_ID"],
                    address=env.get("MASTER_ADDR") or "127.0.0.1",
                    base_port=int(master_port) + 1,
                ).items()
                if k in ("CLUSTER_SPEC", "TF_CONFIG")
            }
        )
    if env.get("CLOUD_ML_PROJECT_ID") not in (None, "", "local"):
        # on Vertex AI itself: what Vertex set (its storage paths, the cluster) is the truth
        for key in [k for k in fresh if k in _VERTEX_OWNED or k.startswith("AIP_")]:
            if env.get(key):
                del fresh[key]
    env.update(fresh)
    if given != instance_type and env.get("RANK", "0") == "0" and resources_file.parent.is_dir():
        # a read-only config directory is fine: the variables are what scripts read
        with contextlib.suppress(OSError):
            write_resource_config(
                Path(root), hosts, str(resources.get("current_host") or hosts[0]), instance_type
            )
