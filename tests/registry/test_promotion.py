"""Stages, approval and the promotion gate on the local platform, through the API, the magics,
the CLI and the platform's HTTP routes; %deploy NAME@production and %rollback --production."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import registry
from jupyter_serverless_ml.errors import NotFound, UsageError
from jupyter_serverless_ml.frontends import cli
from jupyter_serverless_ml.registry import PromotionRefused

CELL = (
    "import pandas as pd\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "df = pd.read_csv(channel('train'))\n"
    "cols = list(df.columns[: hp.features])\n"
    "model = LogisticRegression(max_iter=300).fit(df[cols], df.target)\n"
    "log_metric('accuracy', model.score(df[cols], df.target))\n"
)


@pytest.fixture(scope="module")
def versions(platform_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """cancer-reg:1 (30 features, good) and cancer-reg:2 (one feature, worse), trained as jobs."""
    from sklearn.datasets import load_breast_cancer

    data = tmp_path_factory.mktemp("reg") / "train.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(data, index=False)
    good = jsml.train(CELL, name="cancer-reg", data={"train": str(data)}, hp={"features": 30})
    worse = jsml.train(CELL, name="cancer-reg", data={"train": str(data)}, hp={"features": 1})
    assert good.status == worse.status == "Completed"
    return {"data": data, "good": good, "worse": worse}


def test_versions_carry_metrics_and_lineage(versions: dict[str, Any]) -> None:
    v1 = registry.model("cancer-reg:1")
    assert v1.stage == "none" and v1.approval == "PendingManualApproval"
    assert v1.metrics["accuracy"] > 0.9 > registry.model("cancer-reg:2").metrics["accuracy"]
    lineage = v1.lineage
    assert lineage["job"] == versions["good"].id and lineage["source"] == "job"
    assert lineage["bundle_hash"] == versions["good"].record.bundle_hash
    assert lineage["hyperparameters"] == {"features": 30}
    digest = hashlib.sha256(b"train.csv\0" + versions["data"].read_bytes()).hexdigest()
    assert lineage["data"]["train"]["sha256"] == digest
    assert lineage["user"] and lineage["registered_at"] > 0
    shown = repr(v1)
    assert "[none, PendingManualApproval]" in shown and f"sha256 {digest[:16]}" in shown
    assert "parameters features=30" in shown


def test_the_gate_refuses_a_failing_metric_and_a_worse_model(versions: dict[str, Any]) -> None:
    with pytest.raises(
        PromotionRefused, match=r"cancer-reg:2 has accuracy=0\.\d+, which fails accuracy>=0\.9"
    ):
        registry.promote("cancer-reg:2", "production", require="accuracy>=0.9")
    with pytest.raises(PromotionRefused, match="has no metric 'f1'"):
        registry.promote("cancer-reg:1", "production", require="f1>=0.5")
    first = registry.promote("cancer-reg:1", "production", require="accuracy>=0.9")
    assert first.stage == "production" and first.approval == "Approved"
    with pytest.raises(PromotionRefused, match=r"worse than cancer-reg:1 \(production\)"):
        registry.promote(
            "cancer-reg:2", "production", require="accuracy>=0.5", compare="production"
        )
    assert registry.model("cancer-reg@production").version == 1  # nothing moved
    with pytest.raises(UsageError, match="--compare production compares on the gate's metrics"):
        registry.promote("cancer-reg:2", "production", compare="production")
    with pytest.raises(UsageError, match="stage 'prod' is not one of"):
        registry.promote("cancer-reg:2", "prod")
    with pytest.raises(UsageError, match="--compare 'prod' is not a stage to compare with"):
        registry.promote("cancer-reg:2", "staging", compare="prod")  # said before the gate
    assert registry.model("cancer-reg:2").stage == "none"


def test_stages_move_and_the_holder_is_archived(versions: dict[str, Any]) -> None:
    registry.promote("cancer-reg:1", "production")
    staged = registry.promote("cancer-reg:2", "staging")
    assert staged.stage == "staging" and staged.approval == "PendingManualApproval"
    assert registry.model("cancer-reg@staging").version == 2
    moved = registry.promote("cancer-reg:2", "production", reason="manual override")
    assert moved.stage == "production"
    assert registry.model("cancer-reg:1").stage == "archived"
    assert registry.previous_production(jsml.backends.get_backend(), "cancer-reg").version == 1
    with pytest.raises(NotFound, match="no version of cancer-reg is in staging"):
        registry.model("cancer-reg@staging")
    rejected = registry.reject("cancer-reg:2", reason="leaks the label")
    assert rejected.approval == "Rejected" and rejected.stage == "archived"
    with pytest.raises(PromotionRefused, match="was Rejected; approve it first"):
        registry.promote("cancer-reg:2", "production")
    assert registry.approve("cancer-reg:2").approval == "Approved"
    registry.promote("cancer-reg:1", "production")


def test_magics_and_cli(versions: dict[str, Any], ipython: Any, capsys: Any) -> None:
    shown = ipython.run_line_magic("model", "cancer-reg@production")
    assert shown.version == 1 and shown.stage == "production"
    listing = ipython.run_line_magic("models", "cancer-reg")
    assert "production" in repr(listing) and "accuracy=" in repr(listing)
    with pytest.raises(PromotionRefused, match="worse than cancer-reg:1"):
        ipython.run_line_magic(
            "promote", 'cancer-reg:2 production --require "accuracy>=0.1" --compare production'
        )
    assert cli.main(["promote", "cancer-reg:2", "production", "--require", "accuracy>=0.99"]) == 2
    assert "which fails accuracy>=0.99" in capsys.readouterr().err
    assert cli.main(["promote", "cancer-reg:2", "staging", "--require", "accuracy>=0.5"]) == 0
    assert "cancer-reg:2 is now in staging" in capsys.readouterr().out
    assert ipython.run_line_magic("reject", "cancer-reg:2 --reason nope").approval == "Rejected"
    assert cli.main(["approve", "cancer-reg:2"]) == 0
    assert cli.main(["model", "cancer-reg:2", "--json"]) == 0
    assert '"approval": "Approved"' in capsys.readouterr().out


def test_deploy_by_stage_and_rollback_to_the_previous_production(
    versions: dict[str, Any], ipython: Any
) -> None:
    registry.promote("cancer-reg:2", "production")
    registry.promote("cancer-reg:1", "production")  # 2 is now the previous production version
    endpoint = ipython.run_line_magic("deploy", "cancer-reg@production --name reg-prod")
    try:
        assert [(v.model_name, v.model_version) for v in endpoint.record.variants] == [
            ("cancer-reg", 1)
        ]
        back = ipython.run_line_magic("rollback", "reg-prod --production")
        serving = {v.model_version: v.traffic for v in back.record.variants}
        assert serving[2] == 100 and serving.get(1, 0) == 0
        assert registry.model("cancer-reg@production").version == 2
        assert registry.model("cancer-reg:1").stage == "archived"
        answer = back.predict([[14.0]])
        assert len(answer) == 1
    finally:
        jsml.undeploy("reg-prod")


def test_references_without_a_name_or_version_and_unknown_models(
    versions: dict[str, Any], ipython: Any
) -> None:
    with pytest.raises(UsageError, match=r"'@production': give the model's name"):
        ipython.run_line_magic("model", "@production")
    with pytest.raises(UsageError, match=r"'cancer-reg:': give a version after ':'"):
        ipython.run_line_magic("model", "cancer-reg:")  # it was the newest version, silently
    with pytest.raises(NotFound, match=r"no model 'nosuch'; registered models: .*cancer-reg"):
        ipython.run_line_magic("deploy", "nosuch@production")
    assert ipython.run_line_magic("model", "cancer-reg").version == 2
    assert registry.set_approval("cancer-reg:2", "approved").approval == "Approved"


def test_rollback_keeps_the_endpoints_replica_bounds(
    versions: dict[str, Any], ipython: Any
) -> None:
    registry.promote("cancer-reg:1", "production")  # 2 is the previous production version
    ipython.run_line_magic(
        "deploy", "cancer-reg@production --name reg-zero --min-replicas 0 --max-replicas 2"
    )
    try:
        back = ipython.run_line_magic("rollback", "reg-zero --production")
        (variant,) = [v for v in back.record.variants if v.model_version == 2]
        # the endpoint scaled to zero before; the version rolled back to must too
        assert (variant.min_replicas, variant.max_replicas, variant.traffic) == (0, 2, 100)
        assert registry.model("cancer-reg@production").version == 2
    finally:
        jsml.undeploy("reg-zero")


def test_platform_routes_refuse_bad_input(versions: dict[str, Any]) -> None:
    from jupyter_serverless_ml.platform import client

    platform = client.ensure_running(Path(jsml.config.home()))
    with pytest.raises(UsageError, match="not one of none, staging"):
        platform.post("/v1/models/cancer-reg/1/stage", {"stage": "prod"})
    with pytest.raises(UsageError, match="needs"):
        platform.post("/v1/models/cancer-reg/1/approval", {})
    with pytest.raises(NotFound):
        platform.post("/v1/models/cancer-reg/99/stage", {"stage": "staging"})
    events = platform.get("/v1/model-events/cancer-reg")["events"]
    assert any(e["reason"] == "leaks the label" and e["approval"] == "Rejected" for e in events)
