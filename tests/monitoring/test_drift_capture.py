"""Reading captured requests for drift: the columnar decoder gives what the request bodies
hold, whatever their shape; a cache decodes only what was appended; nothing a replica
wrote is trusted (links, FIFOs, torn and garbage lines)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance

from jupyter_serverless_ml.platform.drift import checks, stats
from jupyter_serverless_ml.platform.drift.capture_reader import CaptureCache, read_window

COLUMNS = ["a", "b", "c"]


def line(body: str, output: str = "", ts: float | None = None, **fields: Any) -> str:
    record = {
        "ts": time.time() if ts is None else ts,
        "endpoint": "ep",
        "variant": "v1",
        "model": "m:1",
        "content_type": "application/json",
        "status": 200,
        "latency_ms": 1.5,
        "input": body,
        "output": output,
        **fields,
    }
    return json.dumps(record) + "\n"


def rows(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0, 1, (n, 3)).round(6)


def write(path: Path, lines: list[str], mode: str = "w") -> None:
    with open(path, mode) as fh:
        fh.writelines(lines)


def test_every_body_shape_decodes_to_its_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    parts = [rows(rng, n) for n in (5, 4, 3, 2, 6, 3, 2, 1)]
    as_records = [dict(zip(COLUMNS, r, strict=True)) for r in parts[5].tolist()]
    lines = [
        line(json.dumps({"instances": parts[0].tolist()}), json.dumps({"predictions": [1] * 5})),
        line(json.dumps(parts[1].tolist(), separators=(",", ":")), json.dumps([0, 1, 0, 1])),
        line(json.dumps({"inputs": parts[2].tolist()}, indent=2), '{"outputs": [[0.2, 0.8]]}'),
        line(json.dumps({"data": parts[3].tolist()}), "0.5 0.25"),
        line(
            "\n".join(",".join(map(str, r)) for r in parts[4].tolist()),
            json.dumps([2.0] * 6),
            content_type="text/csv",
        ),
        line(json.dumps({"instances": as_records}), json.dumps({"predictions": ["x", "y", "z"]})),
        line(json.dumps({"dataframe_split": {"columns": COLUMNS, "data": parts[6].tolist()}})),
        line(
            "\n".join(json.dumps(r) for r in parts[7].tolist()),
            content_type="application/jsonlines",
        ),
    ]
    write(tmp_path / "capture-1.jsonl", lines)
    window = read_window(tmp_path, time.time() - 60)
    assert window.requests == 8 and window.undecodable == 0
    # the common shapes took the columnar path, the rest the stdlib one
    assert sum(len(b) for b in window.blocks) == 5 + 4 + 2
    assert window.rows and window.records
    assert window.row_count == sum(len(p) for p in parts)
    frame, odd = window.frame(COLUMNS)
    assert odd == []
    got = frame[COLUMNS].astype(float).sort_values(COLUMNS).to_numpy()
    want = pd.DataFrame(np.concatenate(parts), columns=COLUMNS).sort_values(COLUMNS).to_numpy()
    np.testing.assert_allclose(got, want)
    outputs = window.output_values().tolist()
    assert sorted(v for v in outputs if isinstance(v, str)) == ["x", "y", "z"]
    numbers = sorted(float(v) for v in outputs if not isinstance(v, str))
    assert numbers == sorted([1.0] * 5 + [0, 1, 0, 1, 0.8, 0.5, 0.25] + [2.0] * 6)


def test_bad_bodies_are_counted_and_wrong_types_kept_for_the_schema_check(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    good = rows(rng, 40)
    lines = [line(json.dumps({"instances": good[i : i + 10].tolist()})) for i in range(0, 40, 10)]
    lines += [
        line(json.dumps({"instances": [[1.0, "oops", 3.0], [None, 2.0, 1.0]]})),
        line(json.dumps({"instances": [[1.0, 2.0]]})),  # narrower than the model's inputs
        line("{not json"),
        line(json.dumps({"instances": [[1.0, 2.0, 3.0]], "x": [[4]]})),  # extra key: fine
        line(json.dumps({"instances": [[9.0, 9.0, 9.0]]}), status=500),
        line(
            json.dumps({"instances": [[7.0, 7.0, 7.0]]}),
            content_type="application/json; jsml-baseline=1",
        ),
        line(json.dumps({"instances": [[8.0, 8.0, 8.0]]}), model="other:2"),
        "this line is not a record\n",
        '{"ts": "soon", "input": "[[1,2,3]]"}\n',
    ]
    write(tmp_path / "capture-1.jsonl", lines)
    window = read_window(tmp_path, time.time() - 60, model="m:1")
    assert window.undecodable == 3  # {not json, and the two lines that are no records
    assert window.requests == 9  # the baseline's record and other:2 are left out
    assert sorted(window.statuses) == [200] * 8 + [500]
    frame, odd = window.frame(COLUMNS)
    assert odd == [2]
    assert len(frame) == 40 + 2 + 1
    report = checks.compare_column(
        {"kind": "numeric", "sample": list(range(100)), "count": 100}, frame["b"], {}
    )
    assert report["wrong_type"] == 1  # "oops"


def test_the_cache_decodes_only_what_was_appended(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    path = tmp_path / "capture-1.jsonl"
    first = [line(json.dumps({"instances": rows(rng, 50).tolist()})) for _ in range(20)]
    write(path, first)
    cache = CaptureCache()
    assert cache.read(tmp_path, time.time() - 60).row_count == 1000
    decoded = cache.bytes_decoded
    assert decoded == path.stat().st_size
    assert cache.read(tmp_path, time.time() - 60).row_count == 1000
    assert cache.bytes_decoded == decoded  # nothing new: nothing decoded

    extra = line(json.dumps({"instances": rows(rng, 7).tolist()}))
    write(path, [extra, extra[:30]], mode="a")  # one whole line and a torn one
    window = cache.read(tmp_path, time.time() - 60)
    assert window.row_count == 1007 and window.undecodable == 0
    assert cache.bytes_decoded == decoded + len(extra)
    write(path, [extra[30:]], mode="a")  # the torn line is finished
    assert cache.read(tmp_path, time.time() - 60).row_count == 1014

    os.unlink(path)  # rotated away and replaced (a new inode)
    write(path, first[:2])
    assert cache.read(tmp_path, time.time() - 60).row_count == 100
    os.unlink(path)
    assert cache.read(tmp_path, time.time() - 60).row_count == 0
    write(path, first[:1])
    cache.read(tmp_path, time.time() - 60)
    cache.keep_only([tmp_path / "other-endpoint"])  # this endpoint was deleted
    before = cache.bytes_decoded
    assert cache.read(tmp_path, time.time() - 60).row_count == 50
    assert cache.bytes_decoded == before + path.stat().st_size  # decoded afresh


def test_a_window_selects_by_time_from_the_cache(tmp_path: Path) -> None:
    now = time.time()
    write(
        tmp_path / "capture-1.jsonl",
        [
            line("[[1,1,1]]", ts=now - 500),
            line("[[2,2,2]]", ts=now - 100),
            line("[[3,3,3]]", ts=now),
        ],
    )
    cache = CaptureCache()
    assert cache.read(tmp_path, now - 1000, now + 1).row_count == 3
    recent = cache.read(tmp_path, now - 200, now + 1)
    assert recent.requests == 2 and sorted(recent.frame(COLUMNS)[0]["a"]) == [2.0, 3.0]


def test_links_and_fifos_a_replica_made_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.jsonl"
    write(secret, [line("[[5,5,5]]")])
    capture = tmp_path / "capture"
    capture.mkdir()
    (capture / "link.jsonl").symlink_to(secret)
    os.mkfifo(capture / "fifo.jsonl")  # opening it for reading would block a naive reader
    write(capture / "real.jsonl", [line("[[1,2,3]]")])
    window = read_window(capture, time.time() - 60)
    assert window.requests == 1 and window.frame(COLUMNS)[0]["a"].tolist() == [1.0]
    linked_dir = tmp_path / "linked"
    linked_dir.symlink_to(capture)
    assert read_window(linked_dir, time.time() - 60).requests == 0


def test_at_most_max_bytes_are_read(tmp_path: Path) -> None:
    now = time.time()
    lines = [line("[[1,2,3]]", ts=now) for _ in range(100)]  # all of one length
    write(tmp_path / "capture-1.jsonl", lines)
    window = read_window(tmp_path, time.time() - 60, max_bytes=len(lines[0]) * 10 + 5)
    assert window.requests == 10


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_wasserstein_on_atoms_matches_scipy_on_every_value(shift: float) -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(0, 1, 2000)
    current = rng.normal(shift, 1.3, 100_000)
    exact = wasserstein_distance(base, current)
    fast = stats.wasserstein(base, np.sort(current))
    assert fast == pytest.approx(exact, abs=1e-3)
    result = stats.compare_numeric(base, current, "wasserstein")
    assert result["statistic"] == pytest.approx(exact / np.std(base), abs=1e-3)
    small = rng.normal(shift, 1, 5000)  # below EXACT_UP_TO: scipy on the values themselves
    assert stats.wasserstein(base, np.sort(small)) == wasserstein_distance(base, small)
