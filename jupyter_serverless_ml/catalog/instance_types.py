"""The instance types a job may name, and what they mean locally.

Locally an instance type sets ``SM_NUM_CPUS``/``SM_NUM_GPUS`` and is recorded for
cost accounting; the host's resources are shared. ``--memory`` sets a hard limit.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError


@dataclass(frozen=True)
class InstanceType:
    """A cloud machine shape: vCPUs, memory (GiB) and GPUs."""

    name: str
    vcpus: int
    memory_gib: float
    gpus: int = 0


DATA_FILE = Path(__file__).with_name("instance_types.json")
"""Every SageMaker ``ml.*`` type (current and previous generation) and Vertex machine type,
with vCPUs, memory and GPUs, and the pages they come from (package data)."""


def _load() -> list[InstanceType]:
    data = json.loads(DATA_FILE.read_text())
    return [
        InstanceType(str(t["name"]), int(t["vcpus"]), float(t["memory_gib"]), int(t["gpus"]))
        for cloud in ("sagemaker", "vertex", "local")
        for t in data[cloud]
    ]


_CATALOG = _load()
INSTANCE_TYPES: dict[str, InstanceType] = {t.name: t for t in _CATALOG}
DEFAULT_INSTANCE_TYPE = "ml.m5.large"


def instance_type(name: str | None) -> InstanceType:
    """Look up an instance type; an unknown name is a UsageError suggesting close ones."""
    name = name or DEFAULT_INSTANCE_TYPE
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(INSTANCE_TYPES), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        family = name.rsplit(".", 1)[0] + "." if name.startswith("ml.") else name.split("-")[0]
        same = [t for t in INSTANCE_TYPES if t.startswith(family)] or [
            t for t in INSTANCE_TYPES if t.startswith("ml.m5.") or t.startswith("n1-standard")
        ]
        raise UsageError(
            f"unknown instance type {name!r}; {hint}types like it: {', '.join(same[:12])} "
            f"(all {len(INSTANCE_TYPES)}: jupyter_serverless_ml/catalog/instance_types.json)"
        ) from None
