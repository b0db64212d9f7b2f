"""Batch transform's semantics: headerless CSV is data, every input column can be kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_serverless_ml import batch, serving
from jupyter_serverless_ml.errors import Conflict, JobFailed
from jupyter_serverless_ml.runtime import batch as runtime_batch
from jupyter_serverless_ml.runtime import csv_input


@pytest.fixture(scope="module")
def iris(platform_home: Path) -> dict[str, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris(as_frame=True)
    features = data.frame[data.feature_names]
    model = LogisticRegression(max_iter=500).fit(features, data.target)
    serving.deploy(model, name="iris").undeploy()  # registers iris:1
    return {"features": features, "model": model}


def _parts(directory: Path) -> pd.DataFrame:
    parts = sorted(p for p in directory.iterdir() if p.name.startswith("part-"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def test_a_headerless_csv_is_all_data(iris: dict[str, Any], tmp_path: Path) -> None:
    features, model = iris["features"], iris["model"]
    source = tmp_path / "iris.csv"
    features.to_csv(source, header=False, index=False)  # batch transform's layout: 150 lines
    job = batch.batch_predict("iris", source, output=tmp_path / "out", chunk_rows=40)
    out = _parts(tmp_path / "out")
    assert len(out) == 150 == sum(s["rows_out"] for s in job.manifest["shards"])
    assert out.prediction.tolist() == model.predict(features).tolist()


def test_include_input_keeps_every_column_to_join_back(
    iris: dict[str, Any], tmp_path: Path
) -> None:
    features, model = iris["features"], iris["model"]
    frame = features.assign(customer_id=[f"c{i}" for i in range(150)], region=7)
    for kind in ("csv", "parquet"):
        source = tmp_path / f"in.{kind}"
        frame.to_csv(source, index=False) if kind == "csv" else frame.to_parquet(source)
        batch.batch_predict("iris", source, output=tmp_path / kind, include_input=True)
        out = _parts(tmp_path / kind)
        assert list(out.customer_id) == list(frame.customer_id), kind
        assert (out.region == 7).all() and len(out) == 150
        joined = frame.merge(out[["customer_id", "prediction"]], on="customer_id")
        assert joined.prediction.tolist() == model.predict(features).tolist()


def test_csv_header_modes(tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("1,2\n3,4\n5,6\n")
    named = tmp_path / "named.csv"
    named.write_text("a,b\n3,4\n")
    assert not csv_input.has_header(str(numbers))  # a first line of numbers is never a header
    assert csv_input.has_header(str(named))
    assert csv_input.has_header(str(numbers), "yes") and not csv_input.has_header(str(named), "no")
    for mode, rows in (("auto", 3), ("yes", 2), ("no", 3)):
        plan = runtime_batch.plan({"input": str(numbers), "chunk_rows": 10, "csv_header": mode})
        assert plan["files"][0]["rows"] == rows, mode
    frame, _ = runtime_batch.read_rows(str(numbers), "csv", ["x", "y"], 0, 3, header=False)
    assert list(frame.columns) == ["x", "y"] and frame.x.tolist() == [1, 3, 5]
    with pytest.raises(runtime_batch.InputError, match="auto, yes, no"):
        runtime_batch.plan({"input": str(numbers), "chunk_rows": 10, "csv_header": "maybe"})
    assert np.isclose(runtime_batch.count_rows(str(named), "csv", header=True), 1)


def test_csv_header_reaches_the_workers(iris: dict[str, Any], tmp_path: Path) -> None:
    features, model = iris["features"], iris["model"]
    numbers = tmp_path / "numbers.csv"
    features.to_csv(numbers, header=False, index=False)  # 150 lines of numbers
    named = tmp_path / "named.csv"
    features.to_csv(named, index=False)
    job = batch.batch_predict("iris", named, output=tmp_path / "yes", csv_header="yes")
    assert job.record.rows_total == len(_parts(tmp_path / "yes")) == 150
    assert job.manifest["csv_header"] == "yes"
    with pytest.raises(JobFailed, match="lacks feature column"):  # told so: a header
        batch.batch_predict("iris", numbers, output=tmp_path / "yes2", csv_header="yes")
    assert batch.batch_jobs(limit=1)[0].record.rows_total == 149
    with pytest.raises(JobFailed, match=r"row 1 of .*not a number"):  # told so: data
        batch.batch_predict("iris", named, output=tmp_path / "no", csv_header="no")
    job = batch.batch_predict("iris", numbers, output=tmp_path / "auto")
    assert job.record.rows_total == 150 and job.manifest["csv_header"] == "auto"
    assert _parts(tmp_path / "auto").prediction.tolist() == model.predict(features).tolist()
    with pytest.raises(Conflict, match="csv_header"):  # a rerun must read the input alike
        batch.batch_predict("iris", numbers, output=tmp_path / "auto", csv_header="yes")
