"""Search spaces: the text form, its validation, grids and Optuna distributions (no processes)."""

from __future__ import annotations

import re

import pytest

from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.platform.tuning import space


def test_each_kind_parses_to_its_json_form() -> None:
    parsed = space.parse_space(
        [
            "C=loguniform(1e-3,10)",
            "ratio=uniform(0, 1)",
            "depth=int(2,10)",
            "leaves=int(8,64,8)",
            "penalty=choice(l1,l2)",
            "k=choice(1, 2.5, true)",
        ]
    )
    assert parsed["C"] == {"kind": "loguniform", "low": 0.001, "high": 10.0}
    assert parsed["ratio"] == {"kind": "uniform", "low": 0.0, "high": 1.0}
    assert parsed["depth"] == {"kind": "int", "low": 2, "high": 10, "step": 1}
    assert parsed["leaves"]["step"] == 8
    assert parsed["penalty"] == {"kind": "choice", "values": ["l1", "l2"]}
    assert parsed["k"]["values"] == [1, 2.5, True]
    assert space.describe(parsed["C"]) == "loguniform(0.001,10)"


def test_a_mapping_takes_text_lists_and_json() -> None:
    parsed = space.parse_space(
        {
            "C": "loguniform(1e-3,10)",
            "penalty": ["l1", "l2"],
            "x": {"kind": "uniform", "low": 0, "high": 2},
        }
    )
    assert parsed["penalty"]["values"] == ["l1", "l2"]
    assert parsed["x"] == {"kind": "uniform", "low": 0.0, "high": 2.0}


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("C", "NAME=DISTRIBUTION"),
        ("C=normal(0,1)", "loguniform(LOW,HIGH)"),
        ("C=loguniform(0,10)", "LOW > 0"),
        ("C=uniform(5,1)", "LOW < HIGH"),
        ("C=uniform(a,1)", "not a number"),
        ("C=uniform(1)", "LOW,HIGH"),
        ("C=uniform(0,inf)", "finite"),
        ("d=int(1.5,4)", "whole numbers"),
        ("d=int(1,4,0)", "step must be 1 or more"),
        ("p=choice()", "needs values"),
        ("p=choice(a,a)", "must differ"),
        ("1x=uniform(0,1)", "not an identifier"),
    ],
)
def test_bad_specs_say_what_to_write(item: str, says: str) -> None:
    with pytest.raises(UsageError, match=r"(?s).*" + re.escape(says)):
        space.parse_space([item])


def test_a_space_needs_a_parameter_and_each_once() -> None:
    with pytest.raises(UsageError, match="at least one --param"):
        space.parse_space([])
    with pytest.raises(UsageError, match="given twice"):
        space.parse_space(["x=uniform(0,1)", "x=uniform(0,2)"])
    with pytest.raises(UsageError, match="kind"):
        space.check_space({"x": {"kind": "normal"}})
    with pytest.raises(UsageError, match="strings, numbers or booleans"):
        space.check_space({"x": {"kind": "choice", "values": [[1, 2]]}})


def test_grid_lists_every_point_and_refuses_continuous_parameters() -> None:
    parsed = space.parse_space(["d=int(2,10,2)", "p=choice(a,b,3)"])
    assert space.grid(parsed) == {"d": [2, 4, 6, 8, 10], "p": ["a", "b", 3]}
    assert space.grid_size(parsed) == 15
    with pytest.raises(UsageError, match="--strategy grid needs values it can list: C"):
        space.grid(space.parse_space(["C=loguniform(1e-3,1)"]))


def test_distributions_are_optunas() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    found = space.distributions(
        space.parse_space(["C=loguniform(1e-3,10)", "d=int(2,10,2)", "p=choice(l1,l2)"])
    )
    assert found["C"] == FloatDistribution(1e-3, 10, log=True)
    assert found["d"] == IntDistribution(2, 10, step=2)
    assert found["p"] == CategoricalDistribution(["l1", "l2"])
