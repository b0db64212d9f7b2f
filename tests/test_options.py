from pathlib import Path

import pytest

from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.options import (
    check_channels,
    parse_channels,
    parse_duration,
    parse_hyperparameters,
    parse_size,
    validate_name,
)


def test_hyperparameters_are_typed() -> None:
    hp = parse_hyperparameters(
        [
            "C=0.5",
            "n=3",
            "flag=true",
            "off=False",
            "name=abc",
            "layers=[64, 32]",
            'code="3"',
            'cfg={"a": 1}',
            "empty=",
        ]
    )
    assert hp == {
        "C": 0.5,
        "n": 3,
        "flag": True,
        "off": False,
        "name": "abc",
        "layers": [64, 32],
        "code": "3",
        "cfg": {"a": 1},
        "empty": "",
    }
    assert isinstance(hp["n"], int) and isinstance(hp["C"], float)


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("C", "--hp expects KEY=VALUE, got 'C'"),
        ("=3", "--hp expects KEY=VALUE"),
        ("1x=3", "not an identifier"),
        ("layers=[64,", "looks like JSON but does not parse"),
    ],
)
def test_bad_hyperparameters_say_what_to_write(bad: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment.replace("[", r"\[")):
        parse_hyperparameters([bad])


def test_channels_parse_and_resolve(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("a\n1\n")
    (tmp_path / "shards").mkdir()
    parsed = parse_channels(["train=train.csv", "extra=shards"])
    resolved = check_channels(parsed, base=tmp_path)
    assert resolved == {"train": str(tmp_path / "train.csv"), "extra": str(tmp_path / "shards")}


def test_missing_channel_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"data channel 'train': nope.csv does not exist"):
        check_channels({"train": "nope.csv"}, base=tmp_path)


def test_channel_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse_channels(["a=x", "a=y"])
    with pytest.raises(UsageError, match="--data expects KEY=VALUE"):
        parse_channels(["train"])
    with pytest.raises(UsageError, match="must start with a letter"):
        check_channels({"1x": str(tmp_path)})


def test_durations_and_sizes() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    assert parse_size("2G") == 2 * 1024**3
    assert parse_size("512M") == 512 * 1024**2
    assert parse_size("1.5GiB") == int(1.5 * 1024**3)
    with pytest.raises(UsageError, match=r"write e\.g\. 90s"):
        parse_duration("soon")
    with pytest.raises(UsageError, match=r"write e\.g\. 512M"):
        parse_size("lots")


def test_names() -> None:
    assert validate_name("churn-v2_1") == "churn-v2_1"
    for bad in ("", "-x", "a b", "x" * 49, "a/b"):
        with pytest.raises(UsageError, match="invalid name"):
            validate_name(bad)
