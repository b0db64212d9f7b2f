"""Refresh the price catalog from the providers' public price lists.

- AWS Price List bulk JSON for ``AmazonSageMaker`` (``products`` by SKU with
  ``attributes`` ``regionCode``, ``instanceName``, ``component``, ``usagetype``; on-demand
  prices under ``terms.OnDemand[sku][offer].priceDimensions[rate].pricePerUnit.USD``).
  Training, Hosting and Batch Transform instance-hours, and serverless inference
  (``ServerlessInf`` usage types: per second at a memory size, and per request).
- The Google Cloud Billing Catalog API's SKU list for Vertex AI (``skus[]`` with
  ``description``, ``category.usageType``, ``serviceRegions``, and
  ``pricingInfo[0].pricingExpression`` ``usageUnit`` and ``tieredRates[].unitPrice``
  ``units`` + ``nanos``). Vertex bills machines per vCPU-hour and GiB-hour of a family
  (``N1 Predefined Instance Core``, ``... Ram``) and accelerators per hour; a machine's
  price is its vCPUs and memory (``instance_types.json``) at its family's rates.

``jsml pricing update`` writes the result to ``$JSML_HOME/prices.json``, which
:mod:`.prices` prefers over the shipped catalog.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .instance_types import INSTANCE_TYPES
from .prices import override_path

AWS_URL = (
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/"
    "{region}/index.json"
)
GCP_URL = "https://cloudbilling.googleapis.com/v1/services/C7E2-9256-1C43/skus?key={key}"
_COMPONENT = {"training": "training", "hosting": "hosting", "batch transform": "batch"}
_GPU = re.compile(r"nvidia (tesla )?([a-z0-9]+)", re.I)
_FAMILY = re.compile(r"\b(N1|N2|N2D|E2|C2|A2|G2)\b")


def _today() -> str:
    return dt.date.today().isoformat()


def parse_aws(data: dict[str, Any], source: str = AWS_URL) -> list[dict[str, Any]]:
    """Catalog entries from an AWS Price List bulk JSON document for AmazonSageMaker."""
    on_demand = (data.get("terms") or {}).get("OnDemand") or {}
    date = str(data.get("publicationDate") or _today())[:10]
    out = []
    for sku, product in (data.get("products") or {}).items():
        attrs = product.get("attributes") or {}
        region = attrs.get("regionCode")
        usd = _aws_price(on_demand.get(sku) or {})
        if not region or usd is None:
            continue
        entry = {"cloud": "sagemaker", "region": region, "source": source, "date": date}
        usage = str(attrs.get("usagetype") or "")
        component = str(attrs.get("component") or "").lower()
        instance = attrs.get("instanceName") or attrs.get("instanceType")
        if "serverlessinf" in usage.lower():
            memory = re.search(r"Mem-(\d+)GB", usage)
            if "request" in usage.lower():
                out.append(
                    dict(entry, service="serverless", item="requests", unit="request", usd=usd)
                )
            elif memory:
                per_gbs = usd / int(memory.group(1))
                out.append(
                    dict(entry, service="serverless", item="compute", unit="GB-second", usd=per_gbs)
                )
        elif component in _COMPONENT and instance and str(instance).startswith("ml."):
            service = _COMPONENT[component]
            out.append(dict(entry, service=service, item=str(instance), unit="hour", usd=usd))
    return _dedupe(out)


def _aws_price(offers: dict[str, Any]) -> float | None:
    for offer in offers.values():
        for dimension in (offer.get("priceDimensions") or {}).values():
            try:
                return float(dimension["pricePerUnit"]["USD"])
            except (KeyError, TypeError, ValueError):
                continue
    return None


def _gcp_price(sku: dict[str, Any]) -> tuple[float, str] | None:
    try:
        expression = sku["pricingInfo"][0]["pricingExpression"]
        rate = expression["tieredRates"][-1]["unitPrice"]
        return int(rate.get("units") or 0) + int(rate.get("nanos") or 0) / 1e9, str(
            expression["usageUnit"]
        )
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def parse_gcp(data: dict[str, Any], source: str = GCP_URL) -> list[dict[str, Any]]:
    """Catalog entries from a Cloud Billing Catalog ``skus`` list of the Vertex AI service."""
    rates: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    out = []
    for sku in data.get("skus") or []:
        if (sku.get("category") or {}).get("usageType") != "OnDemand":
            continue
        text = str(sku.get("description") or "")
        lower = text.lower()
        service = (
            "batch"
            if "batch prediction" in lower
            else "prediction"
            if "prediction" in lower
            else "training"
            if "training" in lower
            else None
        )
        found = _gcp_price(sku)
        if service is None or found is None:
            continue
        usd, unit = found
        gpu = _GPU.search(text)
        family = _FAMILY.search(text)
        for region in sku.get("serviceRegions") or []:
            entry = {"cloud": "vertex", "service": service, "region": region, "source": source}
            if gpu and unit == "h":
                name = (
                    "NVIDIA_TESLA_" + gpu.group(2).upper()
                    if gpu.group(1)
                    else "NVIDIA_" + gpu.group(2).upper()
                )
                out.append(dict(entry, item=name, unit="hour", usd=usd, date=_today()))
            elif family and ("core" in lower or "ram" in lower):
                kind = "core" if "core" in lower else "ram"
                rates[(service, region, family.group(1).lower())][kind] = usd
    for (service, region, fam), pair in rates.items():
        if set(pair) != {"core", "ram"}:
            continue
        for shape in INSTANCE_TYPES.values():
            if shape.name.startswith(fam + "-") and not shape.gpus:
                usd = shape.vcpus * pair["core"] + shape.memory_gib * pair["ram"]
                out.append(
                    {
                        "cloud": "vertex",
                        "service": service,
                        "region": region,
                        "item": shape.name,
                        "unit": "hour",
                        "usd": round(usd, 6),
                        "source": source,
                        "date": _today(),
                    }
                )
    return _dedupe(out)


def _dedupe(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keyed = {(e["cloud"], e["service"], e["region"], e["item"]): e for e in entries}
    return [keyed[k] for k in sorted(keyed)]


def _fetch(url: str) -> dict[str, Any]:
    shown = url.split("?")[0]
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            raw = response.read()
    except OSError as exc:
        raise UsageError(
            f"could not fetch {shown} ({exc}); download it elsewhere and pass it with "
            "--aws-file/--gcp-file, with --offline"
        ) from None
    return _json_object(raw, shown)


def _json_object(raw: bytes | str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"{where} is not JSON ({exc}); give the price list's JSON") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where} is a JSON {type(data).__name__}, not a price list object")
    return data


def _read(path: str, option: str, what: str) -> dict[str, Any]:
    """A price-list file the user named, or a UsageError that says which and what it must be."""
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from None
    return _json_object(raw, f"{option} {path} ({what})")


def update(
    aws: str | None = None,
    gcp: str | None = None,
    regions: list[str] | None = None,
    fetch: bool = True,
) -> dict[str, Any]:
    """Parse the given price-list files (or, with ``fetch``, download them) and write the
    entries to ``$JSML_HOME/prices.json``; returns the path, the count and notes."""
    notes: list[str] = []
    entries: list[dict[str, Any]] = []
    if aws:
        data = _read(aws, "--aws-file", "the AWS Price List bulk JSON for AmazonSageMaker")
        entries += parse_aws(data, source=f"file:{aws}")
    elif fetch:
        for region in regions or ["us-east-1", "eu-west-1"]:
            url = AWS_URL.format(region=region)
            entries += parse_aws(_fetch(url), source=url)
    if gcp:
        data = _read(gcp, "--gcp-file", "the Cloud Billing Catalog skus JSON for Vertex AI")
        entries += parse_gcp(data, source=f"file:{gcp}")
    elif fetch:
        key = os.environ.get("GOOGLE_API_KEY")
        if key:
            entries += parse_gcp(_fetch(GCP_URL.format(key=key)), source=GCP_URL.split("?")[0])
        else:
            notes.append("Vertex AI not refreshed: set GOOGLE_API_KEY (Cloud Billing Catalog API)")
    if regions:
        entries = [e for e in entries if e["region"] in regions]
    if not entries:
        raise UsageError("no prices found: pass --aws-file/--gcp-file with price-list JSON")
    path = override_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = json.loads(path.read_text()).get("prices", [])
    except (OSError, ValueError):
        old = []
    merged = _dedupe([*old, *entries])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"prices": merged}, indent=1) + "\n")
    tmp.replace(path)
    return {"path": str(path), "count": len(entries), "notes": notes}


__all__ = ["parse_aws", "parse_gcp", "update"]
