"""%%tune refuses the same impossible limits %%train does, before any trial is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_serverless_ml import tuning
from jupyter_serverless_ml.errors import UsageError


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_disk": "10"}, r"--max-disk must be at least 1M, not '10'"),
        ({"max_processes": 0}, r"--max-processes must be 1 or more, not 0"),
    ],
)
def test_impossible_limits_are_refused_before_a_study_starts(
    home: Path, limits: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        tuning.tune(
            "log_metric('score', hp.x)\nmodel = {}\n",
            name="limited",
            params={"x": "uniform(0,1)"},
            objective="score",
            trials=2,
            namespace={},
            wait=False,
            **limits,  # type: ignore[arg-type]
        )
    assert [s.name for s in tuning.studies()] == []
