"""Drift statistics: false alarm rate at the nominal level, shifts caught, values equal scipy's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import chebyshev, jensenshannon
from scipy.stats import chisquare, entropy, ks_2samp, wasserstein_distance

from jupyter_serverless_ml.platform.drift import checks, profiles, stats
from jupyter_serverless_ml.platform.drift.capture_reader import Window

SEEDS = 400


def _baseline(rng: np.random.Generator, n: int = 5000) -> dict:
    frame = pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "y": rng.normal(10, 2, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
        }
    )
    return profiles.profile_frame(frame, "train.csv", seed=int(rng.integers(1 << 30)))


def _window(frame: pd.DataFrame) -> Window:
    window = Window(0.0, 3600.0)
    window.records = frame.to_dict("records")
    return window


def _current(rng: np.random.Generator, n: int, **shift: float) -> pd.DataFrame:
    p = shift.get("mix")
    return pd.DataFrame(
        {
            "x": rng.normal(shift.get("mean", 0.0), shift.get("sd", 1.0), n),
            "y": rng.normal(10, 2, n),
            "plan": rng.choice(
                ["basic", "pro", "team"], n, p=[0.2, 0.3, 0.5] if p else [0.6, 0.3, 0.1]
            ),
        }
    )


@pytest.mark.parametrize("rows", [200, 3000])
def test_same_distribution_alarms_at_most_at_the_nominal_rate(rows: int) -> None:
    rng = np.random.default_rng(1)
    alarms = {"x": 0, "y": 0, "plan": 0}
    dataset = 0
    for _ in range(SEEDS):
        report = checks.check(_baseline(rng), _window(_current(rng, rows)))
        for feature in report["features"]:
            alarms[feature["feature"]] += bool(feature["drift"])
        dataset += bool(report["dataset"]["drift"])
    # p < 0.05 (KS, chi2) alarms 5% of the time by construction: allow sampling slack
    # (binomial sd at 400 seeds is 1.1%); distances on large samples should almost never
    for feature, count in alarms.items():
        assert count / SEEDS <= 0.05 + 0.035, (feature, count)
    assert dataset / SEEDS <= 0.05


@pytest.mark.parametrize("rows", [200, 3000])
@pytest.mark.parametrize(
    ("shift", "feature"),
    [({"mean": 0.5}, "x"), ({"sd": 1.8}, "x"), ({"mix": 1.0}, "plan")],
)
def test_a_shift_is_caught_on_its_feature_only(
    rows: int, shift: dict[str, float], feature: str
) -> None:
    rng = np.random.default_rng(7)
    caught = 0
    others = 0
    for _ in range(50):
        report = checks.check(_baseline(rng), _window(_current(rng, rows, **shift)))
        verdicts = {f["feature"]: f["drift"] for f in report["features"]}
        caught += verdicts[feature]
        others += sum(v for k, v in verdicts.items() if k != feature)
    assert caught >= 48
    assert others <= 8  # each other feature keeps its nominal false-alarm rate


def test_the_default_test_depends_on_the_sample_size() -> None:
    rng = np.random.default_rng(3)
    small = checks.check(_baseline(rng), _window(_current(rng, 500)))
    large = checks.check(_baseline(rng), _window(_current(rng, 5000)))
    assert {f["feature"]: f["test"] for f in small["features"]} == {
        "x": "ks",
        "y": "ks",
        "plan": "chi2",
    }
    assert {f["feature"]: f["test"] for f in large["features"]} == {
        "x": "wasserstein",
        "y": "wasserstein",
        "plan": "linf",
    }


def test_numeric_statistics_equal_scipy() -> None:
    rng = np.random.default_rng(11)
    base, cur = rng.normal(0, 1, 2000), rng.normal(0.3, 1.2, 700)
    ks = stats.compare_numeric(base, cur, "ks")
    assert ks["statistic"] == pytest.approx(ks_2samp(base, cur).pvalue)
    assert ks["ks_statistic"] == pytest.approx(ks_2samp(base, cur).statistic)
    w = stats.compare_numeric(base, cur, "wasserstein")
    assert w["statistic"] == pytest.approx(wasserstein_distance(base, cur) / np.std(base))
    edges = np.concatenate([[-np.inf], np.quantile(base, np.linspace(0.1, 0.9, 9)), [np.inf]])
    expected = np.histogram(base, edges)[0] / len(base)
    actual = np.histogram(cur, edges)[0] / len(cur)
    js = stats.compare_numeric(base, cur, "jensenshannon")
    assert js["statistic"] == pytest.approx(jensenshannon(expected, actual, base=2), rel=1e-3)
    assert js["psi"] == pytest.approx(
        entropy(actual, expected) + entropy(expected, actual), rel=1e-3
    )
    # the textbook PSI formula gives the same number
    assert js["psi"] == pytest.approx(
        float(np.sum((actual - expected) * np.log(actual / expected))), rel=1e-3
    )


def test_categorical_statistics_equal_scipy() -> None:
    base = {"a": 600, "b": 300, "c": 100}
    cur = {"a": 40, "b": 30, "c": 30}
    chi = stats.compare_categorical(base, cur, "chi2")
    assert chi["statistic"] == pytest.approx(chisquare([40, 30, 30], [60, 30, 10]).pvalue)
    assert chi["drift"]
    linf = stats.compare_categorical(base, cur, "linf")
    assert linf["statistic"] == pytest.approx(chebyshev([0.6, 0.3, 0.1], [0.4, 0.3, 0.3]))
    assert linf["statistic"] == pytest.approx(0.2)


def test_thresholds_and_tests_are_configurable_per_feature() -> None:
    rng = np.random.default_rng(5)
    rules = {"features": {"x": {"test": "psi", "threshold": 10.0}, "plan": {"ignore": True}}}
    report = checks.check(_baseline(rng), _window(_current(rng, 3000, mean=0.5)), rules=rules)
    x = next(f for f in report["features"] if f["feature"] == "x")
    assert x["test"] == "psi" and x["threshold"] == 10.0 and not x["drift"]
    assert "plan" not in {f["feature"] for f in report["features"]}
    with pytest.raises(ValueError, match="unknown numeric drift test"):
        stats.compare_numeric(np.zeros(3), np.zeros(3), "chi2")


def test_schema_problems_are_conditions() -> None:
    rng = np.random.default_rng(9)
    current = _current(rng, 300).drop(columns=["y"]).assign(extra=1.0)
    current["x"] = current["x"].astype(object)
    current.loc[:4, "x"] = "oops"
    report = checks.check(_baseline(rng), _window(current))
    assert report["schema"]["missing"] == ["y"]
    assert report["schema"]["extra"] == ["extra"]
    assert report["schema"]["wrong_type"]["x"] == 5
    breached = {(c["kind"], c["feature"], c["test"]) for c in report["conditions"] if c["breached"]}
    assert {
        ("schema", "y", "missing"),
        ("schema", "extra", "extra"),
        ("schema", "x", "type"),
    } <= breached


def test_dataset_drift_when_half_the_features_drift() -> None:
    rng = np.random.default_rng(13)
    current = _current(rng, 3000, mean=1.0, mix=1.0)
    report = checks.check(_baseline(rng), _window(current))
    assert report["dataset"]["drifted"] == 2 and report["dataset"]["drift"]
    one = checks.check(_baseline(rng), _window(_current(rng, 3000, mean=1.0)))
    assert one["dataset"]["drifted"] == 1 and not one["dataset"]["drift"]


def test_too_few_rows_is_not_a_verdict() -> None:
    rng = np.random.default_rng(2)
    report = checks.check(_baseline(rng), _window(_current(rng, 10)))
    assert report["verdict"] == "not enough data" and report["conditions"] == []


def test_monitors_breach_their_limits_only_when_set() -> None:
    rng = np.random.default_rng(17)
    window = _window(_current(rng, 100))
    window.statuses = [200] * 16 + [500, 503, 400, 200]
    window.latencies_ms = list(np.linspace(1.0, 100.0, 20))
    rules = {"latency_p95_ms": 50.0, "error_rate": 0.05, "cold_start_ms": 2000.0}
    report = checks.check(_baseline(rng), window, rules=rules, cold_starts_ms=[350.0, 1200.0])
    monitors = {m["monitor"]: m for m in report["monitors"]}
    assert monitors["latency_p95_ms"]["value"] == pytest.approx(
        np.percentile(window.latencies_ms, 95)
    )
    assert monitors["latency_p95_ms"]["breached"]
    assert monitors["error_rate"]["value"] == pytest.approx(2 / 20)  # 5xx only: 400 is the caller's
    assert monitors["error_rate"]["breached"]
    assert (
        monitors["cold_start_ms"]["value"] == 1200.0 and not monitors["cold_start_ms"]["breached"]
    )
    breached = {c["test"] for c in report["conditions"] if c["kind"] == "monitor" and c["breached"]}
    assert breached == {"latency_p95_ms", "error_rate"}
    assert report["verdict"] == "ok"  # monitors alert, they are not drift
    unset = checks.check(_baseline(rng), window, cold_starts_ms=[1200.0])
    assert all(not m["breached"] for m in unset["monitors"])
    assert not [c for c in unset["conditions"] if c["kind"] == "monitor"]


def test_a_training_baseline_profiles_every_tabular_channel(tmp_path: Path) -> None:
    from jupyter_serverless_ml.platform.drift.service import training_profile

    rng = np.random.default_rng(19)
    _current(rng, 300).to_csv(tmp_path / "train.csv", index=False)
    _current(rng, 120, mean=2.0).to_parquet(tmp_path / "valid.parquet")
    (tmp_path / "notes.txt").write_text("not a table")
    job = {
        "spec": {
            "channels": {
                "validation": str(tmp_path / "valid.parquet"),
                "train": str(tmp_path / "train.csv"),
                "notes": str(tmp_path / "notes.txt"),
            }
        },
        "started_at": 1.0,
    }
    profile = training_profile(job)
    assert profile is not None and profile["channel"] == "train" and profile["rows"] == 300
    assert "sample" in profile["columns"]["x"]  # the baseline itself keeps its sample
    valid = profile["channels"]["validation"]
    assert set(profile["channels"]) == {"validation"} and valid["rows"] == 120
    assert valid["columns"]["x"]["mean"] == pytest.approx(2.0, abs=0.3)
    assert (
        "sample" not in valid["columns"]["x"] and valid["columns"]["plan"]["kind"] == "categorical"
    )
    assert "changed after the job started" in profile["note"]  # the files are newer than that
    assert training_profile({"spec": {"channels": {"n": str(tmp_path / "notes.txt")}}}) is None
