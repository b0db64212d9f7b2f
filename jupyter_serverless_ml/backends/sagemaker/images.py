"""Which container image a bundle runs in on SageMaker.

In order: the ``image`` setting (``%backend sagemaker --image URI``, e.g. the
bundle's own Dockerfile built and pushed to ECR); the bundle's ``--framework``
(``sklearn==1.2-1``); else the SageMaker framework container whose Python and
library version match the bundle's (from :mod:`jupyter_serverless_ml.catalog.frameworks`).
A bundle no framework container can run (captured values load only on the same
Python minor version) is refused before anything is created, saying what to do.

The image's registry account differs per region: it is read from the SageMaker
SDK's own table (``sagemaker/core/image_uri_config/<framework>.json``) when the
SDK is installed, without importing it (that costs seconds).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ...catalog import frameworks
from ...errors import UsageError

#: the distribution that decides the framework container, per catalog framework
LIBRARIES = {"sklearn": "scikit-learn", "xgboost": "xgboost", "pytorch": "torch"}
_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/")


@functools.cache
def _sdk_table(name: str) -> dict[str, Any]:
    """The SageMaker SDK's image table of a framework (empty when the SDK is not installed)."""
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        return {}
    for base in spec.submodule_search_locations:
        for sub in ("core/image_uri_config", "image_uri_config"):
            path = Path(base) / sub / f"{name}.json"
            if path.is_file():
                return dict(json.loads(path.read_text()))
    return {}


def regional(image: str, framework: str, region: str, scope: str = "training") -> str:
    """``image`` (a catalog URI for us-east-1) rewritten for ``region``'s registry."""
    match = _IMAGE.match(image)
    if match is None or match["region"] == region:
        return image
    sdk_name = {"sklearn": "sklearn", "xgboost": "xgboost", "pytorch": "pytorch"}.get(framework)
    table = _sdk_table(sdk_name or framework)
    section = table.get(scope, table)
    account: str | None = None
    for entry in (section.get("versions") or {}).values():
        account = (entry.get("registries") or {}).get(region)
        if account:
            break
    if account is None:
        raise UsageError(
            f"no {framework} framework image is known for region {region}; "
            "give one with %backend sagemaker --image URI"
        )
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}/" + image[match.end() :]


def _pins(requirements: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in requirements:
        name, sep, version = line.partition("==")
        if sep:
            out[name.strip().lower().replace("_", "-")] = version.strip()
    return out


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def choose(
    config: Mapping[str, Any],
    requirements: Iterable[str],
    region: str,
    override: str | None = None,
    scope: str = "training",
) -> tuple[str, str]:
    """The image URI for a bundle and why it was chosen (a line for the job's log)."""
    if override:
        return override, "the image setting"
    chosen = config.get("framework") or {}
    if chosen.get("name"):
        entry = frameworks.framework(f"{chosen['name']}=={chosen['version']}")
        return regional(entry.image, entry.name, region, scope), f"--framework {entry.spec}"
    python = _minor(str(config.get("python") or ""))
    pins = _pins(requirements)
    tried: list[str] = []
    for spec in frameworks.known():
        entry = frameworks.framework(spec)
        library = LIBRARIES.get(entry.name)
        if library not in pins:
            continue
        wanted = next((r for r in entry.requirements if r.startswith(f"{library}==")), "")
        tried.append(f"{entry.spec} (Python {entry.python}, {wanted})")
        if _minor(entry.python) == python and _minor(wanted.partition("==")[2]) == _minor(
            pins[library]
        ):
            return regional(entry.image, entry.name, region, scope), (
                f"the framework container {entry.spec} matches Python {entry.python} "
                f"and {library} {pins[library]}"
            )
    have = ", ".join(f"{lib} {pins[lib]}" for lib in LIBRARIES.values() if lib in pins)
    raise UsageError(
        f"no SageMaker framework container runs this bundle (Python "
        f"{config.get('python')}{', ' + have if have else ''}; known: "
        f"{'; '.join(tried) or ', '.join(frameworks.known())}). Build the bundle's Dockerfile "
        "(jsml bundle export JOB DIR), push it to ECR and use it with %backend sagemaker "
        "--image ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG, or train in a kernel whose "
        "Python and library versions match one of them"
    )


__all__ = ["LIBRARIES", "choose", "regional"]
