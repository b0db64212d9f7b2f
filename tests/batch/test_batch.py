"""Batch prediction: formats, shards in order, resume, bad rows, crashed workers."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import serving_models
from serving_models import CRASH, Doubler

from jupyter_serverless_ml import batch, serving
from jupyter_serverless_ml.errors import Conflict, JobFailed, UsageError

cloudpickle.register_pickle_by_value(serving_models)


@pytest.fixture(scope="module")
def models(platform_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1000, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame.a + frame.b > 0).astype(int)
    model = LogisticRegression().fit(frame[["a", "b", "c"]], frame.label)
    serving.deploy(model, name="clf").undeploy()  # registers clf:1
    # in /tmp, which is the zygote's own in the sandbox: the workers of one batch share it
    marker = Path("/tmp") / f"jsml-crashed-{uuid.uuid4().hex}"
    serving.deploy(Doubler(marker=str(marker)), name="dbl").undeploy()  # registers dbl:1
    return {"frame": frame, "model": model, "marker": marker}


def read_output(directory: Path) -> pd.DataFrame:
    parts = sorted(p for p in directory.iterdir() if p.name.startswith("part-"))
    readers = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".jsonl": lambda p: pd.read_json(p, lines=True),
    }
    return pd.concat([readers[p.suffix](p) for p in parts], ignore_index=True)


def test_parquet_in_shards_in_input_order(models: dict[str, Any], tmp_path: Path) -> None:
    frame, model = models["frame"], models["model"]
    frame.to_parquet(tmp_path / "in.parquet")
    lines: list[str] = []
    job = batch.batch_predict(
        "clf",
        tmp_path / "in.parquet",
        output=tmp_path / "out",
        chunk_rows=300,
        workers=2,
        progress=lines.append,
    )
    out = read_output(tmp_path / "out")
    assert out.prediction.tolist() == model.predict(frame[["a", "b", "c"]]).tolist()
    manifest = job.manifest
    assert (manifest["rows_in"], manifest["rows_out"], manifest["status"]) == (
        1000,
        1000,
        "Completed",
    )
    assert [s["rows_out"] for s in manifest["shards"]] == [300, 300, 300, 100]
    assert all(s["status"] == "done" and s["seconds"] >= 0 for s in manifest["shards"])
    assert "Completed 1,000/1,000 rows (100%)" in lines[-1]


def test_a_directory_of_csv_and_jsonl_with_probabilities(
    models: dict[str, Any], tmp_path: Path
) -> None:
    frame, model = models["frame"], models["model"]
    source = tmp_path / "shards"
    source.mkdir()
    frame.iloc[:400].to_csv(source / "0.csv", index=False)
    frame.iloc[400:].to_json(source / "1.jsonl", orient="records", lines=True)
    batch.batch_predict(
        "clf",
        source,
        output=tmp_path / "out",
        format="csv",
        method="predict_proba",
        include_input=True,
        chunk_rows=250,
    )
    out = read_output(tmp_path / "out")
    expected = model.predict_proba(frame[["a", "b", "c"]])
    assert len(out) == 1000
    assert np.allclose(out[["proba_0", "proba_1"]].to_numpy(), expected)
    assert np.allclose(out.a.to_numpy(), frame.a.to_numpy())


def test_a_rerun_does_only_the_missing_shards(models: dict[str, Any], tmp_path: Path) -> None:
    frame = models["frame"]
    frame.to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out"
    batch.batch_predict("clf", tmp_path / "in.parquet", output=out, chunk_rows=200, format="jsonl")
    times = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    (out / "part-00002.jsonl").unlink()
    job = batch.batch_predict(
        "clf", tmp_path / "in.parquet", output=out, chunk_rows=200, format="jsonl"
    )
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    assert sorted(after) == sorted(times)
    redone = [name for name in after if after[name] != times.get(name)]
    assert redone == ["part-00002.jsonl"]
    assert job.manifest["rows_out"] == 1000 and len(read_output(out)) == 1000
    with pytest.raises(Conflict, match="holds the results of another batch"):
        batch.batch_predict("clf", tmp_path / "in.parquet", output=out, chunk_rows=100)


def test_a_bad_row_fails_the_job_with_its_number(models: dict[str, Any], tmp_path: Path) -> None:
    frame = models["frame"].copy()
    frame["b"] = frame["b"].astype(object)
    frame.loc[437, "b"] = "abc"
    frame.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(
        JobFailed, match=r"row 438 of .*in.csv: feature 'b' has 'abc', not a number"
    ):
        batch.batch_predict("clf", tmp_path / "in.csv", output=tmp_path / "fail", chunk_rows=300)
    job = batch.batch_predict(
        "clf", tmp_path / "in.csv", output=tmp_path / "skip", chunk_rows=300, on_error="skip"
    )
    out = read_output(tmp_path / "skip")
    assert len(out) == 1000 and job.manifest["rows_failed"] == 1
    assert pd.isna(out.prediction[437]) and "not a number" in out.error[437]
    assert out.error.drop(index=437).isna().all()


def test_malformed_jsonl_lines_and_model_errors_are_rows(
    models: dict[str, Any], tmp_path: Path
) -> None:
    lines = [json.dumps({"x": float(i), "y": 0.0}) for i in range(50)]
    lines[10] = "{not json"
    lines[20] = json.dumps({"x": -5.0, "y": 0.0})  # the model raises on negative input
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    batch.batch_predict(
        "dbl",
        tmp_path / "in.jsonl",
        output=tmp_path / "out",
        on_error="skip",
        format="jsonl",
        chunk_rows=50,
    )
    out = read_output(tmp_path / "out")
    assert len(out) == 50
    assert "line 11 is not a JSON object" in out.error[10]
    assert "negative input" in out.error[20]
    assert out.prediction[3] == 6.0 and out.error.notna().sum() == 2


def test_a_crashed_worker_is_replaced_and_its_shard_retried(
    models: dict[str, Any], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"x": np.arange(100, dtype=float), "y": 0.0})
    frame.loc[55, "x"] = CRASH
    frame.to_parquet(tmp_path / "in.parquet")
    job = batch.batch_predict(
        "dbl", tmp_path / "in.parquet", output=tmp_path / "out", chunk_rows=20, workers=2
    )
    shard = job.manifest["shards"][2]
    assert shard["attempts"] == 2 and shard["status"] == "done"  # a worker died on the first try
    assert read_output(tmp_path / "out").prediction.tolist() == (frame.x * 2).tolist()


def test_bad_batch_requests(models: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        batch.batch_predict("clf", tmp_path / "missing.parquet", output=tmp_path / "o")
    pd.DataFrame({"a": [1.0], "b": [0.0], "c": [0.0]}).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(UsageError, match="--format 'xml'"):
        batch.batch_predict("clf", tmp_path / "in.parquet", output=tmp_path / "o", format="xml")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty"):
        batch.batch_predict("clf", tmp_path / "in.parquet", output=tmp_path / "busy")
    assert os.listdir(tmp_path / "busy") == ["notes.txt"]


def test_an_empty_input_is_refused_at_submit(models: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(UsageError, match=r"is empty \(0 bytes\): there is nothing to predict"):
        batch.batch_predict("clf", tmp_path / "empty.csv", output=tmp_path / "o")
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.parquet").write_bytes(b"")
    with pytest.raises(UsageError, match="is empty"):
        batch.batch_predict("clf", tmp_path / "parts", output=tmp_path / "o")
    assert not (tmp_path / "o").exists() and batch.batch_jobs() is not None


def test_a_batch_inside_the_platform_home_is_refused(
    models: dict[str, Any], platform_home: Path, tmp_path: Path
) -> None:
    models["frame"].to_parquet(tmp_path / "in.parquet")
    with pytest.raises(UsageError, match="inside \\(or holds\\) the platform's home"):
        batch.batch_predict("clf", platform_home / "token", output=tmp_path / "o2")
    with pytest.raises(UsageError, match="platform's home"):
        batch.batch_predict("clf", tmp_path / "in.parquet", output=platform_home / "out")
    with pytest.raises(UsageError, match="platform's home"):
        batch.batch_predict("clf", tmp_path / "in.parquet", output=platform_home.parent)


def test_the_parquet_cursor_reads_any_range_across_row_groups(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jupyter_serverless_ml.runtime.batch import DataError, ParquetCursor

    table = pa.table({"x": np.arange(1000, dtype=float), "y": np.zeros(1000)})
    pq.write_table(table, tmp_path / "groups.parquet", row_group_size=128)
    cursor = ParquetCursor(str(tmp_path / "groups.parquet"), ["x"])
    assert len(cursor.offsets) == 9  # 8 row groups
    for start, stop in [(0, 300), (300, 600), (100, 130), (700, 1000), (250, 251), (0, 1000)]:
        frame = cursor.read(start, stop)
        assert list(frame.columns) == ["x"]
        assert frame.x.tolist() == list(map(float, range(start, stop)))
    with pytest.raises(DataError, match="fewer than planned"):
        cursor.read(900, 1100)
