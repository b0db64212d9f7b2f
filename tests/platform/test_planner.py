"""The batch planner as pure functions: no worker, file or store."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_serverless_ml.platform.batch import planner


def cut(rows: dict[str, int], chunk: int) -> list[dict[str, Any]]:
    """Shards as the worker's plan cuts them: per file, at most ``chunk`` rows each."""
    shards: list[dict[str, Any]] = []
    for path, count in rows.items():
        for start in range(0, count, chunk):
            shards.append(
                {
                    "index": len(shards),
                    "file": path,
                    "format": "csv",
                    "start": start,
                    "stop": min(count, start + chunk),
                }
            )
    return shards


def done(shard: dict[str, Any], ext: str = "parquet", size: int = 100) -> dict[str, Any]:
    rows = shard["stop"] - shard["start"]
    return dict(
        shard,
        part=planner.part_name(shard["index"], ext),
        status="done",
        attempts=1,
        rows_in=rows,
        rows_out=rows,
        rows_failed=0,
        bytes=size,
    )


def test_a_fresh_plan_has_every_shard_pending() -> None:
    plan = planner.plan_shards(cut({"a.csv": 250, "b.csv": 100}, 100), [], {}, "parquet")
    assert [(s["file"], s["start"], s["stop"]) for s in plan.shards] == [
        ("a.csv", 0, 100),
        ("a.csv", 100, 200),
        ("a.csv", 200, 250),
        ("b.csv", 0, 100),
    ]
    assert [s["part"] for s in plan.shards] == [f"part-0000{i}.parquet" for i in range(4)]
    assert all(s["status"] == "pending" and s["attempts"] == 0 for s in plan.shards)
    assert plan.rows_total == 350
    assert plan.pending == plan.shards and plan.done == []


def test_finished_shards_with_their_part_files_are_kept() -> None:
    shards = cut({"a.csv": 300}, 100)
    previous = [done(shards[0]), done(shards[1]), dict(shards[2], status="failed")]
    sizes = {"part-00000.parquet": 100, "part-00001.parquet": 100}
    plan = planner.plan_shards(shards, previous, sizes, "parquet")
    assert [s["status"] for s in plan.shards] == ["done", "done", "pending"]
    assert plan.shards[0] == previous[0]
    assert [s["index"] for s in plan.pending] == [2]
    assert plan.pending[0]["attempts"] == 0


@pytest.mark.parametrize(
    "sizes",
    [
        {},  # the part file is gone
        {"part-00000.parquet": 99},  # it was truncated or rewritten
    ],
)
def test_a_finished_shard_is_redone_without_its_part_file(sizes: dict[str, int]) -> None:
    shards = cut({"a.csv": 100}, 100)
    plan = planner.plan_shards(shards, [done(shards[0])], sizes, "parquet")
    assert [s["status"] for s in plan.shards] == ["pending"]


def test_a_finished_shard_with_other_rows_is_redone() -> None:
    before = done(cut({"a.csv": 100}, 100)[0])
    now = cut({"a.csv": 120}, 120)  # the input grew: the shard covers more rows
    plan = planner.plan_shards(now, [before], {"part-00000.parquet": 100}, "parquet")
    assert plan.pending == plan.shards


@pytest.mark.parametrize(
    ("requested", "pending", "files", "predict", "read", "expected"),
    [
        (4, 10, 10, None, 0.0, 4),  # one worker per file: nothing is read twice
        (4, 2, 10, None, 0.0, 2),  # never more workers than shards
        (4, 0, 1, None, 0.0, 0),  # nothing to do
        (1, 10, 1, 5.0, 0.1, 1),
        (4, 10, 1, None, 0.5, 4),  # no timing sample: as requested
        (4, 10, 1, 8.0, 1.0, 4),  # 6 s of prediction saved for 1 s of reading
        (4, 10, 1, 1.0, 1.0, 1),  # 0.75 s saved for 1 s of reading: one worker
        (4, 10, 2, 1.0, 1.0, 1),
        (2, 10, 2, 1.0, 1.0, 2),  # one file each
    ],
)
def test_workers_to_use(
    requested: int, pending: int, files: int, predict: float | None, read: float, expected: int
) -> None:
    assert planner.workers_to_use(requested, pending, files, predict, read) == expected


def test_the_workers_record_rounds_and_uses_at_least_one() -> None:
    assert planner.workers_record(4, 0, 0.123456, None) == {
        "requested": 4,
        "used": 1,
        "read_seconds": 0.1235,
        "predict_seconds_estimate": None,
    }
    assert planner.workers_record(4, 3, 1.0, 2.000049)["predict_seconds_estimate"] == 2.0


def test_progress_counts_only_finished_shards() -> None:
    shards = cut({"a.csv": 300}, 100)
    finished = [
        dict(done(shards[0]), rows_failed=3),
        done(shards[1]),
        dict(shards[2], status="pending"),
    ]
    assert planner.progress(finished, 300) == {
        "rows_in": 300,
        "rows_out": 200,
        "rows_failed": 3,
        "shards_done": 2,
    }


def test_shard_replies_are_judged_by_their_row_counts() -> None:
    shard = dict(cut({"in.csv": 250}, 100)[2], attempts=3)
    assert planner.count_mismatch(shard, {"rows_in": 50, "rows_out": 50}) is None
    assert planner.count_mismatch(shard, {"rows_in": 50, "rows_out": 49}) == (
        "shard 2: 49 rows written for 50 rows read; the part file was not accepted"
    )
    assert planner.shard_failure(shard, {"error": "boom", "retryable": True}) == (
        "shard 2 (rows 201-250 of in.csv) failed after 3 attempts: boom"
    )
    assert planner.shard_failure(shard, {"error": "bad row"}) == (
        "shard 2 (rows 201-250 of in.csv) failed: bad row"
    )
