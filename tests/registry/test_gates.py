"""The promotion gate as pure functions: requirements and the comparison with a stage holder."""

from __future__ import annotations

import pytest

from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.registry.gates import parse_requirement, refusals


def test_requirements_parse_and_say_which_way_is_better() -> None:
    need = parse_requirement("accuracy >= 0.9")
    assert (need.metric, need.op, need.threshold, need.higher_is_better) == (
        "accuracy",
        ">=",
        0.9,
        True,
    )
    assert need.met_by(0.9) and not need.met_by(0.89)
    loss = parse_requirement("val/loss<0.3")
    assert not loss.higher_is_better and loss.met_by(0.29) and not loss.met_by(0.3)
    for bad in ("accuracy", "accuracy=>0.9", "accuracy>=high", "accuracy>=inf", ">=0.9"):
        with pytest.raises(UsageError, match="--require"):
            parse_requirement(bad)


def test_a_failing_metric_and_a_missing_one_are_refused_with_why() -> None:
    gate = [parse_requirement("accuracy>=0.9"), parse_requirement("loss<=0.5")]
    assert refusals("m:2", {"accuracy": 0.95, "loss": 0.1}, gate) == []
    reasons = refusals("m:2", {"accuracy": 0.8}, gate)
    assert reasons[0] == "m:2 has accuracy=0.8, which fails accuracy>=0.9"
    assert "m:2 has no metric 'loss' (its metrics: accuracy)" in reasons[1]


def test_worse_than_the_compared_version_is_refused_in_the_gates_direction() -> None:
    gate = [parse_requirement("accuracy>=0.5"), parse_requirement("loss<=1")]
    prod = ("m:1 (production)", {"accuracy": 0.9, "loss": 0.2})
    assert refusals("m:2", {"accuracy": 0.9, "loss": 0.2}, gate, prod) == []  # equal is not worse
    assert refusals("m:2", {"accuracy": 0.95, "loss": 0.1}, gate, prod) == []
    reasons = refusals("m:2", {"accuracy": 0.85, "loss": 0.3}, gate, prod)
    assert reasons == [
        "m:2 has accuracy=0.85, worse than m:1 (production) (accuracy=0.9; higher is better)",
        "m:2 has loss=0.3, worse than m:1 (production) (loss=0.2; lower is better)",
    ]
    # a compared version without the metric is no obstacle
    assert refusals("m:2", {"accuracy": 0.6, "loss": 0.9}, gate, ("m:1", {})) == []


def test_a_doubled_operator_or_a_bad_number_shows_the_form() -> None:
    with pytest.raises(UsageError, match=r"'>>' is not an operator; write METRIC OP VALUE"):
        parse_requirement("acc>>0.9")
    with pytest.raises(UsageError, match=r"'<<=' is not an operator"):
        parse_requirement("loss<<=0.3")
    with pytest.raises(UsageError, match=r"'high' is not a number; write METRIC OP VALUE"):
        parse_requirement("accuracy>=high")
