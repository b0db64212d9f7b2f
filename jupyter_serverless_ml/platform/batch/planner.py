"""Planning a batch prediction job: pure functions, no I/O, no processes.

The first worker reads the input and cuts it into shards of at most
``chunk_rows`` rows (``jsml_runtime.batch.plan``, on the serving side); from
that plan, the output's previous manifest and the part files already there,
this module decides which shards are still to do, how many workers to run, and
how a shard's reply is judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def part_name(index: int, ext: str) -> str:
    """The part file a shard writes: ``part-00007.parquet``."""
    return f"part-{index:05d}.{ext}"


@dataclass
class ShardPlan:
    """Every shard of a job, those a previous run finished kept as they were."""

    shards: list[dict[str, Any]]

    @property
    def rows_total(self) -> int:
        """Input rows over all shards."""
        return sum(s["stop"] - s["start"] for s in self.shards)

    @property
    def done(self) -> list[dict[str, Any]]:
        """The shards finished (in an earlier run or this one)."""
        return [s for s in self.shards if s["status"] == "done"]

    @property
    def pending(self) -> list[dict[str, Any]]:
        """The shards still to do, in input order (the same dicts as in :attr:`shards`)."""
        return [s for s in self.shards if s["status"] != "done"]


def plan_shards(
    planned: Iterable[Mapping[str, Any]],
    previous: Iterable[Mapping[str, Any]],
    part_sizes: Mapping[str, int],
    ext: str,
) -> ShardPlan:
    """The shards to run, given the worker's plan and what an earlier run left.

    ``planned``: the shards cut from the input (index, file, format, start, stop).
    ``previous``: the shards of the output's earlier manifest. ``part_sizes``: the
    sizes of the part files in the output directory, by name. A shard an earlier
    run finished is kept (not redone) when its part file is there with the size
    and row count recorded; every other shard starts pending with no attempts.
    """
    old = {s["index"]: s for s in previous}
    shards = []
    for shard in planned:
        entry: dict[str, Any] = dict(
            shard, part=part_name(shard["index"], ext), status="pending", attempts=0
        )
        before = old.get(shard["index"])
        if (
            before
            and before.get("status") == "done"
            and entry["part"] in part_sizes
            and part_sizes[entry["part"]] == before.get("bytes")
            and before.get("rows_out") == shard["stop"] - shard["start"]
        ):
            entry = dict(before)
        shards.append(entry)
    return ShardPlan(shards)


def workers_to_use(
    requested: int,
    pending: int,
    files: int,
    predict_seconds: float | None,
    read_seconds: float,
) -> int:
    """How many workers to run for ``pending`` shards (0 when none is pending).

    At most ``requested`` and one per pending shard. When there are fewer input
    files than workers, each extra worker reads a file another one reads too; if
    the timing sample says the prediction time saved, ``predict_seconds * (1 -
    1/workers)``, is less than the ``read_seconds`` it costs, one worker is used.
    """
    wanted = min(requested, pending)
    if (
        wanted > 1
        and files < wanted
        and predict_seconds is not None
        and predict_seconds * (1 - 1 / wanted) < read_seconds
    ):
        wanted = 1  # another worker would spend more reading the file again than it saves
    return wanted


def workers_record(
    requested: int, wanted: int, read_seconds: float, predict_seconds: float | None
) -> dict[str, Any]:
    """What the manifest says about the workers: requested, used, and the timing sample."""
    return {
        "requested": requested,
        "used": max(1, wanted),
        "read_seconds": round(read_seconds, 4),
        "predict_seconds_estimate": None if predict_seconds is None else round(predict_seconds, 4),
    }


def progress(shards: Iterable[Mapping[str, Any]], rows_total: int) -> dict[str, int]:
    """The manifest's totals: rows in, rows written, rows failed, shards done."""
    finished = [s for s in shards if s["status"] == "done"]
    return {
        "rows_in": rows_total,
        "rows_out": sum(s["rows_out"] for s in finished),
        "rows_failed": sum(s.get("rows_failed", 0) for s in finished),
        "shards_done": len(finished),
    }


def shard_failure(shard: Mapping[str, Any], reply: Mapping[str, Any]) -> str:
    """Why a shard failed for good, from the worker's error reply."""
    attempts = f" after {shard['attempts']} attempts" if reply.get("retryable") else ""
    return (
        f"shard {shard['index']} (rows {shard['start'] + 1}-{shard['stop']} of {shard['file']}) "
        f"failed{attempts}: {reply.get('error')}"
    )


def count_mismatch(shard: Mapping[str, Any], reply: Mapping[str, Any]) -> str | None:
    """Why a shard's part file is refused (rows read or written differ from the shard's), or None."""
    expected = shard["stop"] - shard["start"]
    if reply["rows_in"] != expected or reply["rows_out"] != expected:
        return (
            f"shard {shard['index']}: {reply['rows_out']} rows written for "
            f"{expected} rows read; the part file was not accepted"
        )
    return None


__all__ = [
    "ShardPlan",
    "count_mismatch",
    "part_name",
    "plan_shards",
    "progress",
    "shard_failure",
    "workers_record",
    "workers_to_use",
]
