"""%cost shows its table once (not the dict under it), and --max-cost refuses what is not
a budget (nan, inf, zero, negative) in the magics before anything is sent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from IPython.lib.pretty import pretty

from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.frontends import cli
from jupyter_serverless_ml.monitoring.cost_api import Advice, CostReport


def _report(**extra: Any) -> CostReport:
    zero = {"instance_hours": 0.0, "local": 0.0, "sagemaker": 0.0, "vertex": 0.0, "billed": 0.0}
    row = dict(zero, key="training", count=1, instance_hours=0.5, sagemaker=0.0576)
    return CostReport(
        by="resource", groups=[row], total=dict(zero, sagemaker=0.0576), items=[{}],
        budgets_hit=[], note="local resources cost nothing", **extra,
    )  # fmt: skip


def test_a_cost_report_displays_as_its_table() -> None:
    report = _report(errors=["vertex: the vertex backend needs a project"])
    shown = pretty(report)
    assert shown == report.text() and shown.splitlines()[1].startswith("training")
    assert "'instance_hours'" not in shown  # the dict is not dumped under the table
    html = report._repr_html_()
    assert "not counted: vertex: the vertex backend needs a project" in html
    assert "$0.0576" in html


def test_advice_displays_as_its_lines() -> None:
    advice = Advice(
        endpoint="churn", requests=10, window_hours=1.0, captured=10, capture_percent=100.0,
        replicas=1, instance_type="ml.m5.large", provisioned_usd=0.115,
        provisioned_usd_month=83.95, memory_gb=2.0, serverless_usd=0.0001,
        serverless_usd_month=0.07, cold_starts=1, cold_start_seconds=0.4,
        added_cold_start_seconds=0.4, recommend="serverless", reason="cheaper",
    )  # fmt: skip
    assert pretty(advice) == advice.text() and "'recommend'" not in pretty(advice)


def test_percent_cost_returns_the_report_without_printing_it_too(
    ipython: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    report = ipython.run_line_magic("cost", "--by day")
    assert isinstance(report, CostReport) and report["by"] == "day"
    assert capsys.readouterr().out == ""  # shown once, by the cell's display of the result
    data, _ = ipython.display_formatter.format(report)
    assert data["text/plain"] == report.text()


@pytest.mark.parametrize("amount", ["nan", "inf", "0", "-1", "abc"])
def test_max_cost_that_is_not_a_budget_is_refused_by_every_magic(
    ipython: Any, home: Path, amount: str
) -> None:
    with pytest.raises(UsageError, match=rf"--max-cost: '{amount}' is not a budget; give a"):
        ipython.run_cell_magic("train", f"--name capped --max-cost {amount}", "x = 1\n")
    with pytest.raises(UsageError, match=rf"'{amount}' is not a budget"):
        ipython.run_line_magic("deploy", f"capped:1 --max-cost {amount}")
    csv = home / "rows.csv"
    csv.write_text("a\n1\n")
    with pytest.raises(UsageError, match=rf"'{amount}' is not a budget"):
        ipython.run_line_magic(
            "batch_predict", f"capped:1 {csv} --output {home.parent / 'out'} --max-cost {amount}"
        )


def test_jsml_refuses_nan_as_a_budget(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["deploy", "capped:1", "--max-cost", "nan"])
    assert stopped.value.code == 2
    assert "'nan' is not a budget" in capsys.readouterr().err


@pytest.mark.parametrize("memory", [0, -1, 0.5, 2.5, 7, 1000, float("nan")])
def test_advice_refuses_a_memory_size_serverless_does_not_offer(memory: float) -> None:
    from jupyter_serverless_ml.monitoring.cost_api import cost_advice

    with pytest.raises(UsageError, match=r"memory is 1, 2, 3, 4, 5 or 6 GB .*--memory-gb 2"):
        cost_advice("any-endpoint", memory)  # refused before any backend is asked


def test_pricing_update_names_a_file_it_cannot_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JSML_HOME", str(tmp_path / "home"))
    (tmp_path / "not.json").write_text("<html>rate limited</html>")
    (tmp_path / "list.json").write_text("[1, 2]")
    cases = {
        ("--aws-file", "missing.json"): "--aws-file .*missing.json: cannot read it",
        ("--aws-file", "not.json"): "AmazonSageMaker\\) is not JSON",
        ("--gcp-file", "list.json"): "Vertex AI\\) is a JSON list, not a price list object",
    }
    for (option, name), expected in cases.items():
        code = cli.main(["pricing", "update", option, str(tmp_path / name), "--offline"])
        assert code == 2
        assert re.search(expected, capsys.readouterr().err)
    assert not (tmp_path / "home" / "prices.json").exists()  # nothing half-written


def test_the_platforms_advice_route_refuses_it_too(home: Path) -> None:
    from jupyter_serverless_ml.platform import client

    platform = client.ensure_running(home)
    with pytest.raises(UsageError, match="memory is 1, 2, 3, 4, 5 or 6 GB"):
        platform.get("/v1/costs/advice/any-endpoint", memory_gb="64")


def test_a_budget_stop_reads_stopped_once() -> None:
    from jupyter_serverless_ml.errors import JobFailed

    reason = "stopped: budget of $0.0020 reached (ledger $0.0034; --max-cost)"
    error = JobFailed("pricey-1", "Stopped", reason)
    assert str(error).startswith("job pricey-1 stopped: budget of $0.0020 reached")
    assert error.reason == reason  # the record's reason is kept as it is


def test_a_backend_named_twice_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_serverless_ml.monitoring import cost_api

    asked: list[str | None] = []
    row = {"kind": "training", "name": "churn", "backend": "local", "instance_hours": 1.0,
           "local": 0.0, "sagemaker": 0.115, "vertex": 0.095, "billed": 0.0,
           "ended_at": 1e12}  # fmt: skip

    def ledger(name: str | None, since: float) -> dict[str, Any]:
        asked.append(name)
        return {"items": [dict(row)]}

    monkeypatch.setattr(cost_api, "_ledger", ledger)
    report = cost_api.cost(backend=["local", "local"])
    assert asked == ["local"] and len(report["items"]) == 1
    assert report.total["sagemaker"] == pytest.approx(0.115)


def test_a_deployment_undeployed_at_once_is_in_the_ledger(home: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import jupyter_serverless_ml as jsml
    from jupyter_serverless_ml import serving

    X = np.random.default_rng(1).normal(size=(50, 2))
    fitted = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    # deployed and undeployed well inside one round of the cost service (5 s by default)
    serving.deploy(fitted, name="brief-ep", min_replicas=0).undeploy()
    rows = [i for i in jsml.cost()["items"] if i["name"] == "brief-ep"]
    assert len(rows) == 1 and rows[0]["kind"] == "endpoint"
