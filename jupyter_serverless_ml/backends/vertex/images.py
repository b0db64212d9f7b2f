"""Which machine, accelerator and prebuilt container a Vertex job or model gets.

A SageMaker instance type (``ml.m5.large``, the default) becomes the cheapest
Vertex machine type with at least its vCPUs and memory; a GPU type gets the
accelerator Vertex attaches to that machine family. The training image is a
Vertex prebuilt training container whose Python is the bundle's (captured values
only load on the same minor version); a model is served by the prebuilt
prediction container of its flavor and library version.
"""

from __future__ import annotations

from ...catalog.instance_types import INSTANCE_TYPES, instance_type
from ...catalog.pricing import hourly
from ...errors import UsageError

#: Prebuilt training containers by the Python they run (CPU, GPU); see
#: https://cloud.google.com/vertex-ai/docs/training/pre-built-containers
TRAINING_IMAGES = {
    "3.10": (
        "us-docker.pkg.dev/vertex-ai/training/tf-cpu.2-15.py310:latest",
        "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-15.py310:latest",
    ),
    "3.11": (
        "us-docker.pkg.dev/vertex-ai/training/tf-cpu.2-17.py311:latest",
        "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py311:latest",
    ),
}
#: machine family -> the accelerator it is sold with
FAMILY_ACCELERATORS = {
    "a2-highgpu": "NVIDIA_TESLA_A100",
    "a2-megagpu": "NVIDIA_TESLA_A100",
    "a2-ultragpu": "NVIDIA_A100_80GB",
    "a3-highgpu": "NVIDIA_H100_80GB",
    "g2-standard": "NVIDIA_L4",
}
#: SageMaker GPU families -> what an n1 machine gets attached instead
SAGEMAKER_GPUS = {"g4dn": "NVIDIA_TESLA_T4", "p3": "NVIDIA_TESLA_V100", "p2": "NVIDIA_TESLA_K80"}
DEFAULT_BATCH_MACHINE = "n1-standard-4"
_VERTEX_PREFIXES = ("n1-", "n2-", "n2d-", "e2-", "c2-", "c2d-", "a2-", "a3-", "g2-", "m1-")


def is_vertex_type(name: str) -> bool:
    """True for a Compute Engine machine type name."""
    return name.startswith(_VERTEX_PREFIXES)


def machine_spec(name: str, gpus: int = 0) -> dict[str, object]:
    """``MachineSpec`` fields for an instance type of either cloud."""
    shape = instance_type(name)
    if is_vertex_type(shape.name):
        family = shape.name.rsplit("-", 1)[0]
        accelerator = FAMILY_ACCELERATORS.get(family)
        spec: dict[str, object] = {"machine_type": shape.name}
        if accelerator and shape.gpus:
            spec.update(accelerator_type=accelerator, accelerator_count=shape.gpus)
        elif gpus:
            spec.update(accelerator_type="NVIDIA_TESLA_T4", accelerator_count=gpus)
        return spec
    wanted_gpus = max(gpus, shape.gpus)
    candidates = [
        t
        for t in INSTANCE_TYPES.values()
        if t.name.startswith(("n1-standard-", "n1-highmem-", "e2-standard-", "e2-highmem-"))
        and t.vcpus >= shape.vcpus
        and t.memory_gib >= shape.memory_gib
        and (not wanted_gpus or t.name.startswith("n1-"))
    ]
    if not candidates:
        raise UsageError(
            f"no Vertex AI machine type has the {shape.vcpus} vCPUs and {shape.memory_gib:g} GiB "
            f"of {name}; name one with --instance-type (e.g. n1-highmem-96)"
        )
    best = min(candidates, key=lambda t: (hourly(t.name, "vertex"), t.vcpus, t.name))
    spec = {"machine_type": best.name}
    if wanted_gpus:
        family = name.split(".")[1] if name.count(".") >= 2 else ""
        spec.update(
            accelerator_type=SAGEMAKER_GPUS.get(family, "NVIDIA_TESLA_T4"),
            accelerator_count=wanted_gpus,
        )
    return spec


def training_image(python: str, gpu: bool, override: str | None = None) -> str:
    """The prebuilt training container for the bundle's Python (``override`` wins)."""
    if override:
        return override
    minor = ".".join(python.split(".")[:2])
    images = TRAINING_IMAGES.get(minor)
    if images is None:
        raise UsageError(
            f"Vertex AI has no prebuilt training container for Python {minor} known here "
            f"(known: {', '.join(sorted(TRAINING_IMAGES))}); run the kernel on one of those, or "
            "give a container with that Python: %backend vertex --training-image URI"
        )
    return images[1 if gpu else 0]


def prediction_image(flavor: str, libraries: dict[str, str], override: str | None = None) -> str:
    """The prebuilt prediction container that loads a model of ``flavor`` (``override`` wins)."""
    if override:
        return override
    framework, dist = {
        "sklearn": ("sklearn", "scikit-learn"),
        "xgboost": ("xgboost", "xgboost"),
    }.get(flavor, ("", ""))
    version = str(libraries.get(dist) or "")
    why = ""
    if framework and version:
        from google.cloud.aiplatform import helpers

        minor = ".".join(version.split(".")[:2])
        try:
            return str(
                helpers.get_prebuilt_prediction_container_uri(
                    framework=framework, framework_version=minor, accelerator="cpu"
                )
            )
        except ValueError as exc:
            why = f": {str(exc).split(' See ')[0]}"
    raise UsageError(
        f"Vertex AI has no prebuilt prediction container for this {flavor} model"
        + (f" ({dist} {version})" if version else "")
        + why
        + "; train with a supported version, or give a serving container that loads it "
        "(e.g. built from the bundle's Dockerfile): %backend vertex --serving-image URI"
    )
