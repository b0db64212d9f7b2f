"""The instance types a job may name, and what they mean locally.

Locally an instance type sets ``SM_NUM_CPUS``/``SM_NUM_GPUS`` and is recorded for
cost accounting; the host's resources are shared. ``--memory`` sets a hard limit.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True)
class InstanceType:
    """A cloud machine shape: vCPUs, memory (GiB) and GPUs."""

    name: str
    vcpus: int
    memory_gib: float
    gpus: int = 0


_CATALOG = [
    InstanceType("ml.t3.medium", 2, 4),
    InstanceType("ml.t3.large", 2, 8),
    InstanceType("ml.m5.large", 2, 8),
    InstanceType("ml.m5.xlarge", 4, 16),
    InstanceType("ml.m5.2xlarge", 8, 32),
    InstanceType("ml.m5.4xlarge", 16, 64),
    InstanceType("ml.c5.xlarge", 4, 8),
    InstanceType("ml.c5.2xlarge", 8, 16),
    InstanceType("ml.r5.large", 2, 16),
    InstanceType("ml.r5.xlarge", 4, 32),
    InstanceType("ml.g4dn.xlarge", 4, 16, 1),
    InstanceType("ml.g5.xlarge", 4, 16, 1),
    InstanceType("ml.g5.2xlarge", 8, 32, 1),
    InstanceType("ml.p3.2xlarge", 8, 61, 1),
    InstanceType("n1-standard-4", 4, 15),
    InstanceType("n1-standard-8", 8, 30),
    InstanceType("n1-highmem-8", 8, 52),
    InstanceType("e2-standard-4", 4, 16),
    InstanceType("e2-standard-8", 8, 32),
    InstanceType("a2-highgpu-1g", 12, 85, 1),
    InstanceType("local", 0, 0),
]
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
        raise UsageError(
            f"unknown instance type {name!r}; {hint}known types: {', '.join(INSTANCE_TYPES)}"
        ) from None
