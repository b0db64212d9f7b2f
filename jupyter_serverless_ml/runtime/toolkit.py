"""What the SageMaker training toolkit and Vertex AI give a training script, computed here.

Inside a SageMaker framework container the training toolkit
(``sagemaker-training`` on PyPI) reads ``/opt/ml/input/config/*.json`` and turns
it into ``SM_*`` variables and the script's command line; Vertex AI sets
``AIP_*``, ``CLOUD_ML_*``, ``CLUSTER_SPEC`` and ``TF_CONFIG``. This module does
the same from the same inputs, so a script sees what it would see there:

- :func:`to_cmd_args`: the toolkit's argument mapping (keys sorted, ``-x`` for a
  one-letter key, ``--key`` otherwise, ``str()`` of the value, a dict as
  ``k=v,k2=v2``), or ``style="json"`` for the SageMaker SDK v3 ``ModelTrainer``
  driver (keys in order, ``--key``, JSON for everything but strings);
- :func:`env_value`: the toolkit's environment encoding (strings as they are,
  anything else as compact, key-sorted JSON);
- :func:`split_hyperparameters`: ``sagemaker_*`` entries are the framework's,
  not the script's (``SM_FRAMEWORK_PARAMS``), as the toolkit splits them;
- :func:`toolkit_environment` and :func:`vertex_environment`.

Standard library only: this runs inside the job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SAGEMAKER_PREFIX = "sagemaker_"
# the toolkit's own settings: removed from the script's hyperparameters, not framework params
RESERVED = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
)
GROUP = "homogeneousCluster"
NETWORK_INTERFACE = "eth0"
HP_STYLES = ("toolkit", "json")
LOG_LEVEL_INFO = 20


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def to_cmd_args(hyperparameters: Mapping[str, Any], style: str = "toolkit") -> list[str]:
    """The script's command-line arguments for ``hyperparameters`` (see the module docstring)."""
    args: list[str] = []
    if style == "json":
        for key, value in hyperparameters.items():
            args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
        return args
    if style != "toolkit":
        raise ValueError(f"hyperparameter style {style!r}: use one of {', '.join(HP_STYLES)}")
    for key in sorted(hyperparameters):
        name = _text(key)
        value = hyperparameters[key]
        mapped = isinstance(value, Mapping)
        text = ",".join(f"{k}={v}" for k, v in sorted(value.items())) if mapped else _text(value)
        args += [("--" if len(name) > 1 else "-") + name if name else "", text]
    return args


def env_value(value: Any) -> str:
    """A value as the toolkit writes it into an environment variable."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def split_hyperparameters(
    hyperparameters: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(the script's hyperparameters, framework parameters, the toolkit's own settings)."""
    user: dict[str, Any] = {}
    framework: dict[str, Any] = {}
    reserved: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        if key in RESERVED:
            reserved[key] = value
        elif key.startswith(SAGEMAKER_PREFIX):
            framework[key] = value
        else:
            user[key] = value
    return user, framework, reserved


def resource_config(hosts: list[str], current_host: str, instance_type: str) -> dict[str, Any]:
    """``resourceconfig.json`` as SageMaker writes it for a homogeneous cluster."""
    return {
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_group_name": GROUP,
        "hosts": list(hosts),
        "instance_groups": [
            {"instance_group_name": GROUP, "instance_type": instance_type, "hosts": list(hosts)}
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def input_data_config(channels: list[str]) -> dict[str, Any]:
    """``inputdataconfig.json`` for File-mode channels."""
    return {
        c: {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        for c in channels
    }


def toolkit_environment(
    root: str,
    channels: list[str],
    hyperparameters: Mapping[str, Any],
    *,
    hosts: list[str],
    current_host: str,
    instance_type: str,
    num_cpus: int,
    num_gpus: int,
    entry_point: str = "",
    job_name: str = "",
    hp_style: str = "toolkit",
) -> dict[str, str]:
    """Every variable the SageMaker training toolkit's ``Environment.to_env_vars`` defines."""
    user, framework, reserved = split_hyperparameters(hyperparameters)
    entry = str(reserved.get("sagemaker_program") or entry_point)
    resources = resource_config(hosts, current_host, instance_type)
    groups = {GROUP: resources["instance_groups"][0]}
    channel_dirs = {c: f"{root}/input/data/{c}" for c in sorted(channels)}
    log_level = reserved.get("sagemaker_container_log_level", LOG_LEVEL_INFO)
    values: dict[str, Any] = {
        "additional_framework_parameters": framework,
        "channel_input_dirs": channel_dirs,
        "current_host": current_host,
        "current_instance_group": GROUP,
        "current_instance_group_hosts": list(hosts),
        "current_instance_type": instance_type,
        "distribution_hosts": [],
        "distribution_instance_groups": [],
        "framework_module": None,
        "hosts": list(hosts),
        "hyperparameters": user,
        "input_config_dir": f"{root}/input/config",
        "input_data_config": input_data_config(sorted(channels)),
        "input_dir": f"{root}/input",
        "instance_groups": [GROUP],
        "instance_groups_dict": groups,
        "is_hetero": False,
        "is_master": current_host == hosts[0],
        "is_modelparallel_enabled": None,
        "is_smddpmprun_installed": False,
        "is_smddprun_installed": False,
        "job_name": job_name or None,
        "log_level": log_level,
        "master_hostname": hosts[0],
        "model_dir": f"{root}/model",
        "module_dir": str(reserved.get("sagemaker_submit_directory") or f"{root}/code"),
        "module_name": entry[:-3] if entry.endswith(".py") else entry,
        "network_interface_name": NETWORK_INTERFACE,
        "num_cpus": num_cpus,
        "num_gpus": num_gpus,
        "num_neurons": 0,
        "output_data_dir": f"{root}/output/data",
        "output_dir": f"{root}/output",
        "output_intermediate_dir": f"{root}/output/intermediate",
        "resource_config": resources,
        "topology": [],
        "user_entry_point": entry or None,
    }
    exported = {
        "hosts": values["hosts"],
        "network_interface_name": NETWORK_INTERFACE,
        "hps": user,
        "user_entry_point": values["user_entry_point"],
        "framework_params": framework,
        "resource_config": resources,
        "input_data_config": values["input_data_config"],
        "output_data_dir": values["output_data_dir"],
        "channels": sorted(channels),
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_instance_group": GROUP,
        "current_instance_group_hosts": values["current_instance_group_hosts"],
        "instance_groups": values["instance_groups"],
        "instance_groups_dict": groups,
        "distribution_instance_groups": [],
        "is_hetero": False,
        "module_name": values["module_name"],
        "log_level": log_level,
        "framework_module": None,
        "input_dir": values["input_dir"],
        "input_config_dir": values["input_config_dir"],
        "output_dir": values["output_dir"],
        "num_cpus": num_cpus,
        "num_gpus": num_gpus,
        "num_neurons": 0,
        "model_dir": values["model_dir"],
        "module_dir": values["module_dir"],
        "training_env": values,
        "user_args": to_cmd_args(user, hp_style),
        "output_intermediate_dir": values["output_intermediate_dir"],
    }
    for name, path in channel_dirs.items():
        exported[f"channel_{name}"] = path
    for key, value in user.items():
        exported[f"hp_{key}"] = value
    env = {f"SM_{key.upper()}": env_value(value) for key, value in exported.items()}
    env.update(
        SM_TRAINING_JOB_NAME=job_name,
        TRAINING_JOB_NAME=job_name,
        CURRENT_HOST=current_host,
    )
    return env


def vertex_environment(
    root: str,
    channels: Mapping[str, str],
    *,
    hosts: list[str],
    current_host: str,
    job_name: str = "",
    project: str = "local",
    address: str = "127.0.0.1",
    base_port: int = 2222,
) -> dict[str, str]:
    """What Vertex AI custom training sets: ``AIP_*`` directories (with their trailing
    slash), ``CLOUD_ML_*``, and ``CLUSTER_SPEC``/``TF_CONFIG`` (replica 0 is the chief,
    workerpool0; the others are workerpool1, each at ``address:base_port+rank``).

    ``channels`` maps channel names to their paths; ``train``/``training``,
    ``validation`` and ``test`` also become ``AIP_{TRAINING,VALIDATION,TEST}_DATA_URI``.
    """
    rank = hosts.index(current_host) if current_host in hosts else 0
    peers = [f"{address}:{base_port + i}" for i in range(len(hosts))]
    cluster = {"workerpool0": peers[:1]}
    tf_cluster = {"chief": peers[:1]}
    if len(peers) > 1:
        cluster["workerpool1"] = peers[1:]
        tf_cluster["worker"] = peers[1:]
    pool, tf_type, index = (
        ("workerpool0", "chief", 0) if rank == 0 else ("workerpool1", "worker", rank - 1)
    )
    job = {"job_id": job_name, "project": project}
    env = {
        "AIP_MODEL_DIR": f"{root}/model/",
        "AIP_CHECKPOINT_DIR": f"{root}/checkpoints/",
        "AIP_TENSORBOARD_LOG_DIR": f"{root}/output/tensorboard/",
        "CLOUD_ML_PROJECT_ID": project,
        "CLOUD_ML_JOB_ID": job_name,
        "CLUSTER_SPEC": json.dumps(
            {
                "cluster": cluster,
                "environment": "cloud",
                "task": {"type": pool, "index": index},
                "job": json.dumps(job),
            }
        ),
        "TF_CONFIG": json.dumps(
            {
                "cluster": tf_cluster,
                "environment": "cloud",
                "task": {"type": tf_type, "index": index},
                "job": job,
            }
        ),
    }
    for names, variable in (
        (("train", "training"), "AIP_TRAINING_DATA_URI"),
        (("validation",), "AIP_VALIDATION_DATA_URI"),
        (("test",), "AIP_TEST_DATA_URI"),
    ):
        for name in names:
            if name in channels:
                env[variable] = channels[name]
                break
    return env
