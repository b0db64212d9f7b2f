"""The price catalog (package data), the equivalence table and the price-list parsers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_serverless_ml.catalog import equivalence, price_lists, prices
from jupyter_serverless_ml.catalog.instance_types import INSTANCE_TYPES
from jupyter_serverless_ml.errors import UsageError

SAMPLES = Path(__file__).with_name("samples")


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JSML_HOME", str(tmp_path))


def test_every_entry_has_source_date_and_a_us_and_eu_region() -> None:
    data = json.loads(prices.DATA_FILE.read_text())
    for entry in data["prices"]:
        assert entry["source"].startswith("https://") and len(entry["date"]) == 10, entry
        assert entry["usd"] > 0
    for cloud, services in (
        ("sagemaker", {"training", "hosting", "serverless", "batch"}),
        ("vertex", {"training", "prediction", "batch"}),
    ):
        regions = prices.regions(cloud)
        assert any(r.startswith("us-") for r in regions) and any(
            r.startswith("eu") for r in regions
        )
        for region in regions:
            have = {
                e["service"]
                for e in data["prices"]
                if e["cloud"] == cloud and e["region"] == region
            }
            assert services <= have, (cloud, region, services - have)


def test_hourly_reads_the_catalog_and_prices_equivalents() -> None:
    entry = prices.lookup("sagemaker", "training", "ml.m5.large")
    assert entry is not None and prices.hourly("ml.m5.large", "sagemaker") == entry.usd
    n1 = prices.lookup("vertex", "training", "n1-standard-2")
    assert n1 is not None and prices.hourly("ml.m5.large", "vertex") == n1.usd
    machine = prices.lookup("vertex", "training", "n1-standard-4")
    t4 = prices.lookup("vertex", "training", "NVIDIA_TESLA_T4")
    assert machine and t4
    assert prices.hourly("ml.g4dn.xlarge", "vertex") == pytest.approx(machine.usd + t4.usd)
    eu = prices.lookup("vertex", "prediction", "n1-standard-2", "europe-west4")
    assert eu and prices.hourly("ml.m5.large", "vertex", "prediction", "europe-west4") == eu.usd
    # every equivalent names types the catalog knows
    for pair in equivalence.table():
        assert pair["sagemaker"] in INSTANCE_TYPES
        assert pair["vertex"].split("+")[0] in INSTANCE_TYPES


def test_aws_price_list_sample_parses() -> None:
    entries = price_lists.parse_aws(json.loads((SAMPLES / "aws_sagemaker_sample.json").read_text()))
    got = {(e["service"], e["region"], e["item"]): e["usd"] for e in entries}
    assert got == {
        ("training", "us-east-1", "ml.m5.large"): 0.115,
        ("hosting", "eu-west-1", "ml.m5.large"): 0.128,
        ("batch", "us-east-1", "ml.c5.xlarge"): 0.204,
        ("serverless", "us-east-1", "compute"): pytest.approx(0.00002),  # per second at 2 GB
        ("serverless", "us-east-1", "requests"): 0.0000002,
    }
    assert all(e["date"] == "2024-11-01" for e in entries)


def test_gcp_billing_catalog_sample_parses() -> None:
    entries = price_lists.parse_gcp(
        json.loads((SAMPLES / "gcp_vertex_skus_sample.json").read_text())
    )
    got = {(e["service"], e["region"], e["item"]): e["usd"] for e in entries}
    shape = INSTANCE_TYPES["n1-standard-4"]
    assert got[("training", "us-central1", "n1-standard-4")] == pytest.approx(
        shape.vcpus * 0.036455 + shape.memory_gib * 0.004886, abs=1e-6
    )
    assert got[("training", "us-central1", "NVIDIA_TESLA_T4")] == pytest.approx(0.4025)
    eu = INSTANCE_TYPES["n1-standard-2"]
    assert got[("prediction", "europe-west4", "n1-standard-2")] == pytest.approx(
        eu.vcpus * 0.0401 + eu.memory_gib * 0.00537, abs=1e-6
    )
    assert not any(e["region"] == "us-central1" and e["service"] == "prediction" for e in entries)


def test_update_writes_an_override_that_wins(tmp_path: Path) -> None:
    before = prices.hourly("ml.c5.xlarge", "sagemaker", "batch")
    sample = json.loads((SAMPLES / "aws_sagemaker_sample.json").read_text())
    sample["terms"]["OnDemand"]["SKU3"]["SKU3.JRTCKXETXF"]["priceDimensions"][
        "SKU3.JRTCKXETXF.6YS6EN2CT7"
    ]["pricePerUnit"]["USD"] = "9.5"
    changed = tmp_path / "aws.json"
    changed.write_text(json.dumps(sample))
    result = price_lists.update(aws=str(changed), fetch=False)
    assert result["count"] == 5 and Path(result["path"]) == prices.override_path()
    assert before != 9.5 and prices.hourly("ml.c5.xlarge", "sagemaker", "batch") == 9.5
    with pytest.raises(UsageError, match="no prices found"):
        price_lists.update(fetch=False)
