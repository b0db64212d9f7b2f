"""Which Vertex AI machine stands for which SageMaker instance type, and back.

Local resources are free; they are priced at what the type asked (or its
equivalent on the other cloud) would bill. The table pairs types of about the
same vCPUs, memory and accelerator; ``+`` adds an accelerator to a Vertex machine.
A type not in the table is priced by its shape (vCPUs, memory, GPUs).
"""

from __future__ import annotations

#: (SageMaker instance type, Vertex AI machine type[+accelerator])
EQUIVALENTS: tuple[tuple[str, str], ...] = (
    ("ml.t3.medium", "e2-standard-2"),
    ("ml.t3.large", "e2-standard-2"),
    ("ml.m5.large", "n1-standard-2"),
    ("ml.m5.xlarge", "n1-standard-4"),
    ("ml.m5.2xlarge", "n1-standard-8"),
    ("ml.m5.4xlarge", "n1-standard-16"),
    ("ml.c5.xlarge", "n1-highcpu-4"),
    ("ml.c5.2xlarge", "n1-highcpu-8"),
    ("ml.r5.large", "n1-highmem-2"),
    ("ml.r5.xlarge", "n1-highmem-4"),
    ("ml.g4dn.xlarge", "n1-standard-4+NVIDIA_TESLA_T4"),
    ("ml.g5.xlarge", "g2-standard-4"),
    ("ml.p3.2xlarge", "n1-standard-8+NVIDIA_TESLA_V100"),
    # Vertex types without a closer SageMaker partner above
    ("ml.m5.xlarge", "e2-standard-4"),
    ("ml.m5.2xlarge", "e2-standard-8"),
)
_TO_VERTEX: dict[str, str] = {}
_TO_SAGEMAKER: dict[str, str] = {}
for _sm, _vx in EQUIVALENTS:
    _TO_VERTEX.setdefault(_sm, _vx)
    _TO_SAGEMAKER.setdefault(_vx, _sm)


def equivalent(instance_type: str, cloud: str) -> str:
    """``instance_type`` as ``cloud`` would run it (itself when it is that cloud's type,
    or when the table has no partner for it)."""
    if cloud == "vertex" and instance_type.startswith("ml."):
        return _TO_VERTEX.get(instance_type, instance_type)
    if cloud == "sagemaker" and not instance_type.startswith("ml."):
        return _TO_SAGEMAKER.get(instance_type, instance_type)
    return instance_type


def table() -> list[dict[str, str]]:
    """The equivalence table, for documentation and ``jsml pricing show``."""
    return [{"sagemaker": sm, "vertex": vx} for sm, vx in EQUIVALENTS]


__all__ = ["EQUIVALENTS", "equivalent", "table"]
