"""The price catalog: on-demand list prices of SageMaker and Vertex AI, with their sources.

``prices.json`` (package data) holds one entry per cloud, service, region and item
(an instance or machine type, an accelerator, serverless GB-seconds and requests,
storage GB-months), each with its unit, its USD price, the page it comes from and
the date. ``jsml pricing update`` writes fresher entries to ``$JSML_HOME/prices.json``
(see :mod:`.price_lists`); those take precedence over the shipped ones.

Services: SageMaker ``training``, ``hosting`` (real-time endpoints), ``serverless``,
``batch`` (batch transform), ``storage`` (S3); Vertex AI ``training`` (custom
training), ``prediction`` (online prediction node hours), ``batch``, ``storage`` (GCS).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .equivalence import equivalent
from .instance_types import INSTANCE_TYPES

DATA_FILE = Path(__file__).with_name("prices.json")
OVERRIDE_NAME = "prices.json"
CLOUDS = ("sagemaker", "vertex")
#: what a resource kind is billed as, per cloud
SERVICE = {
    "training": {"sagemaker": "training", "vertex": "training"},
    "endpoint": {"sagemaker": "hosting", "vertex": "prediction"},
    "batch": {"sagemaker": "batch", "vertex": "batch"},
}
# rates for a type neither listed nor equivalent to a listed one: per vCPU-, GiB-, GPU-hour
SHAPE_RATES = {"sagemaker": (0.0450, 0.0060, 0.60), "vertex": (0.0380, 0.0051, 0.45)}


@dataclass(frozen=True)
class Price:
    """One catalog entry."""

    cloud: str
    service: str
    region: str
    item: str
    unit: str
    usd: float
    source: str
    date: str


def override_path() -> Path:
    """Where ``jsml pricing update`` writes refreshed prices (``$JSML_HOME/prices.json``)."""
    home = os.environ.get("JSML_HOME") or str(Path.home() / ".jupyter_serverless_ml")
    return Path(home).expanduser() / OVERRIDE_NAME


def _entries(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    prices = data.get("prices") if isinstance(data, dict) else None
    return [p for p in prices or [] if isinstance(p, dict)]


@lru_cache(maxsize=4)
def _catalog(override: Path, mtime: float) -> dict[tuple[str, str, str, str], Price]:
    table: dict[tuple[str, str, str, str], Price] = {}
    for entry in [*_entries(DATA_FILE), *_entries(override)]:
        try:
            price = Price(
                str(entry["cloud"]),
                str(entry["service"]),
                str(entry["region"]),
                str(entry["item"]),
                str(entry["unit"]),
                float(entry["usd"]),
                str(entry.get("source", "")),
                str(entry.get("date", "")),
            )
        except (KeyError, TypeError, ValueError):
            continue
        table[(price.cloud, price.service, price.region, price.item)] = price
    return table


def catalog() -> dict[tuple[str, str, str, str], Price]:
    """Every price, keyed by (cloud, service, region, item); refreshed entries win."""
    path = override_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return _catalog(path, mtime)


@lru_cache(maxsize=1)
def _meta() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text())
    return data


def default_region(cloud: str) -> str:
    """The region priced when none is given (``JSML_PRICE_REGION_<CLOUD>`` overrides)."""
    env = os.environ.get(f"JSML_PRICE_REGION_{cloud.upper()}")
    return env or str(_meta()["defaults"][cloud])


def spot_discount(cloud: str) -> float:
    """The share spot capacity saves where no billed figure exists (see prices.json)."""
    return float(_meta()["spot_discount"][cloud])


def regions(cloud: str) -> list[str]:
    """Regions the catalog prices for ``cloud``."""
    return sorted({k[2] for k in catalog() if k[0] == cloud})


def lookup(cloud: str, service: str, item: str, region: str | None = None) -> Price | None:
    """One entry, in ``region`` (else the default region); None when not listed."""
    table = catalog()
    found = table.get((cloud, service, region or default_region(cloud), item))
    if found is None and region:
        found = table.get((cloud, service, default_region(cloud), item))
    return found


def cloud_of(instance_type: str) -> str:
    """The cloud whose type ``instance_type`` is (``ml.*``: SageMaker; else Vertex AI)."""
    return "sagemaker" if instance_type.startswith("ml.") else "vertex"


def _by_shape(instance_type: str, cloud: str) -> float:
    shape = INSTANCE_TYPES.get(instance_type) or INSTANCE_TYPES["ml.m5.large"]
    vcpu, gib, gpu = SHAPE_RATES[cloud]
    return round(shape.vcpus * vcpu + shape.memory_gib * gib + shape.gpus * gpu, 4)


def hourly(
    instance_type: str, cloud: str, service: str = "training", region: str | None = None
) -> float:
    """USD per hour of one ``instance_type`` (or its equivalent) for ``service`` on ``cloud``.

    A type of the other cloud is priced as its equivalent (see :mod:`.equivalence`),
    a Vertex machine with an accelerator as the machine plus the accelerator; a type
    the catalog does not list by its vCPUs, memory and GPUs at the cloud's rates.
    """
    target = equivalent(instance_type, cloud)
    parts = target.split("+")
    total = 0.0
    for part in parts:
        price = lookup(cloud, service, part, region)
        if price is None and service != "training":
            price = lookup(cloud, "training", part, region)
        if price is None:
            return _by_shape(instance_type, cloud)
        total += price.usd
    return round(total, 6)


def serverless_rates(region: str | None = None) -> tuple[float, float]:
    """SageMaker Serverless Inference: USD per GB-second of compute and per request."""
    compute = lookup("sagemaker", "serverless", "compute", region)
    requests = lookup("sagemaker", "serverless", "requests", region)
    return (compute.usd if compute else 0.00002, requests.usd if requests else 0.0000002)


def storage_rate(cloud: str, region: str | None = None) -> float:
    """USD per GB-month of standard object storage (S3 for SageMaker, GCS for Vertex)."""
    item = "s3-standard" if cloud == "sagemaker" else "gcs-standard"
    price = lookup(cloud, "storage", item, region)
    return price.usd if price else 0.023


def sources() -> list[dict[str, Any]]:
    """Each (cloud, service, region) priced, with its source page and dates."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for price in catalog().values():
        row = seen.setdefault(
            (price.cloud, price.service, price.region),
            {
                "cloud": price.cloud,
                "service": price.service,
                "region": price.region,
                "source": price.source,
                "dates": set(),
                "items": 0,
            },
        )
        row["dates"].add(price.date)
        row["items"] += 1
    return [dict(r, dates=sorted(r["dates"])) for _, r in sorted(seen.items())]


__all__ = [
    "CLOUDS",
    "SERVICE",
    "Price",
    "catalog",
    "cloud_of",
    "default_region",
    "hourly",
    "lookup",
    "override_path",
    "regions",
    "serverless_rates",
    "sources",
    "spot_discount",
    "storage_rate",
]
