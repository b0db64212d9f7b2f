"""Traffic splits as pure functions: no endpoint, replica or store."""

from __future__ import annotations

import pytest

from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.platform.serving import traffic


def test_naming_every_variant_sets_the_split_as_given() -> None:
    split = traffic.shift("ep", {"v1": 100.0, "v2": 0.0}, ["v1", "v2"], {"v1": 25, "v2": 75})
    assert split == {"v1": 25, "v2": 75}
    assert sum(split.values()) == 100


def test_unnamed_variants_share_the_rest_in_proportion() -> None:
    current = {"a": 60.0, "b": 30.0, "c": 10.0}
    split = traffic.shift("ep", current, ["a", "b", "c"], {"a": 20})
    assert split == {"a": 20, "b": 60.0, "c": 20.0}  # b:c stays 3:1 over the 80 left
    assert sum(split.values()) == pytest.approx(100)


def test_unnamed_variants_without_traffic_share_the_rest_equally() -> None:
    split = traffic.shift("ep", {"a": 100.0}, ["a", "b", "c"], {"a": 40})
    assert split == {"a": 40, "b": 30.0, "c": 30.0}


def test_shares_are_rounded_and_still_sum_to_100() -> None:
    split = traffic.shift("ep", {"a": 100.0}, ["a", "b", "c", "d"], {"a": 0})
    assert split == {"a": 0, "b": 33.333333, "c": 33.333333, "d": 33.333333}
    assert sum(split.values()) == pytest.approx(100, abs=1e-5)


def test_zero_weight_moves_all_traffic_to_the_others() -> None:
    split = traffic.shift("ep", {"v1": 90.0, "v2": 10.0}, ["v1", "v2"], {"v1": 0})
    assert split == {"v1": 0, "v2": 100.0}
    assert traffic.routable(split) == {"v2": 100.0}


def test_zero_for_every_variant_is_refused() -> None:
    with pytest.raises(UsageError, match=r"must sum to 100 when every variant is named \(got 0\)"):
        traffic.shift("ep", {"v1": 100.0}, ["v1"], {"v1": 0})


def test_unknown_variants_are_refused_with_the_known_ones() -> None:
    with pytest.raises(UsageError, match="endpoint ep has no variant v9; its variants: v1, v2"):
        traffic.shift("ep", {"v1": 100.0, "v2": 0.0}, ["v1", "v2"], {"v9": 10})


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"v1": 80, "v2": 30}, "sum to at most 100"),
        ({"v1": -5}, "must be 0-100"),
        ({"v1": 50, "v2": 40}, "must sum to 100 when every variant is named"),
    ],
)
def test_weights_out_of_range_are_refused(weights: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        traffic.shift("ep", {"v1": 100.0, "v2": 0.0}, ["v1", "v2"], weights)


def test_a_new_variant_asks_for_all_traffic_unless_told() -> None:
    assert traffic.new_variant_share(None) == 100.0
    assert traffic.new_variant_share(10) == 10.0
    for bad in (-1, 101):
        with pytest.raises(UsageError, match="must be between 0 and 100"):
            traffic.new_variant_share(bad)


def test_a_new_variant_with_a_share_scales_the_others_down() -> None:
    split = traffic.shift("ep", {"v1": 70.0, "v2": 30.0}, ["v1", "v2", "v3"], {"v3": 10})
    assert split == {"v3": 10, "v1": 63.0, "v2": 27.0}


def test_rollback_returns_to_each_earlier_split_in_turn() -> None:
    history: list[dict[str, float]] = []
    first = {"v1": 100.0}
    history = traffic.remember(history, first)
    second = {"v1": 50.0, "v2": 50.0}
    history = traffic.remember(history, second)
    split, history = traffic.roll_back("ep", history, ["v1", "v2"])
    assert split == second
    split, history = traffic.roll_back("ep", history, ["v1", "v2"])
    assert split == {"v1": 100.0, "v2": 0.0}  # a variant added since gets nothing
    assert history == []
    with pytest.raises(UsageError, match="no earlier traffic split"):
        traffic.roll_back("ep", history, ["v1", "v2"])


def test_rollback_drops_variants_that_are_gone() -> None:
    split, _ = traffic.roll_back("ep", [{"old": 30.0, "v1": 70.0}], ["v1"])
    assert split == {"v1": 70.0}


def test_remember_copies_and_the_record_keeps_the_latest() -> None:
    current = {"v1": 100.0}
    history = traffic.remember([], current)
    current["v1"] = 0.0
    assert history == [{"v1": 100.0}]
    long = [{"v1": float(i)} for i in range(traffic.HISTORY_KEPT + 5)]
    assert traffic.kept(long) == long[-traffic.HISTORY_KEPT :]


def test_describe_shows_each_weight_as_a_percentage() -> None:
    assert traffic.describe({"v1": 90.0, "v2": 10.5}) == "v1=90%, v2=10.5%"
