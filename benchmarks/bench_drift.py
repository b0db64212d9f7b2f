"""A drift check over 100,000 captured rows and 20 features in under 1 s.

Writes 1,000 capture records of 100 rows each (the replica's JSONL format) for an
endpoint, then times the whole check as the daemon runs it: reading and decoding
the capture files (a fresh :class:`CaptureCache`) plus every statistic
(:func:`checks.check`, 20 features against a 100,000-row training profile). The
floor, measured in the same run, is a bare ``json.loads`` of the same files (each
record, then its request body): the ratio says what the whole check costs against
merely decoding its input with the stdlib. Also timed: the scheduled case, where the
daemon's cache already holds the file and 1,000 more rows were appended (only they
are decoded). Results: benchmarks/results/drift.json and drift.md.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jupyter_serverless_ml.platform.drift import checks, profiles
from jupyter_serverless_ml.platform.drift.capture_reader import CaptureCache

ROWS, FEATURES, PER_REQUEST, REPEATS = 100_000, 20, 100, 5
APPENDED = 1_000
RESULTS = Path(__file__).parent / "results"


def records(values: np.ndarray, now: float) -> list[str]:
    """Capture lines (as a replica writes them) of ``values``, 100 rows a request."""
    lines = []
    for start in range(0, len(values), PER_REQUEST):
        rows = values[start : start + PER_REQUEST].round(6).tolist()
        record = {
            "ts": now,
            "endpoint": "bench",
            "variant": "v1",
            "model": "bench:1",
            "content_type": "application/json",
            "status": 200,
            "latency_ms": 0.4,
            "input": json.dumps({"instances": rows}),
            "output": json.dumps({"predictions": [0.5] * len(rows)}),
        }
        lines.append(json.dumps(record) + "\n")
    return lines


def drifted_values(rng: np.random.Generator, rows: int) -> np.ndarray:
    values = rng.normal(0, 1, (rows, FEATURES))
    values[:, 0] += 0.5  # one feature drifted
    return values


def write_capture(directory: Path, lines: list[str]) -> Path:
    directory.mkdir(parents=True)
    path = directory / "capture-r1-0001.jsonl"
    path.write_text("".join(lines))
    return path


def main() -> None:
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(FEATURES)]
    baseline = profiles.profile_frame(
        pd.DataFrame(rng.normal(0, 1, (ROWS, FEATURES)), columns=names), "train"
    )
    with tempfile.TemporaryDirectory() as tmp:
        lines = records(drifted_values(rng, ROWS), time.time())
        floors, checks_s, scheduled_s = [], [], []
        report: dict = {}
        for repeat in range(REPEATS):
            directory = Path(tmp) / f"bench{repeat}"
            path = write_capture(directory, lines)
            started = time.perf_counter()
            with open(path, "rb") as fh:
                for line in fh:
                    json.loads(json.loads(line)["input"])
            floors.append(time.perf_counter() - started)
            cache = CaptureCache()
            started = time.perf_counter()
            window = cache.read(directory, 0.0, time.time() + 1)
            report = checks.check(baseline, window, names)
            checks_s.append(time.perf_counter() - started)
            assert report["rows"] == ROWS, report["rows"]
            with open(path, "a") as fh:  # the next scheduled check: 1,000 new rows
                fh.writelines(records(drifted_values(rng, APPENDED), time.time()))
            before = cache.bytes_decoded
            started = time.perf_counter()
            window = cache.read(directory, 0.0, time.time() + 1)
            again = checks.check(baseline, window, names)
            scheduled_s.append(time.perf_counter() - started)
            new_bytes = cache.bytes_decoded - before
            assert again["rows"] == window.row_count > ROWS and new_bytes < path.stat().st_size / 50
    drifted = [f["feature"] for f in report["features"] if f["drift"]]
    check_s, floor_s = statistics.median(checks_s), statistics.median(floors)
    result = {
        "rows": report["rows"],
        "features": FEATURES,
        "check_s_median": check_s,
        "floor_json_s_median": floor_s,
        "ratio_to_floor": check_s / floor_s,
        "scheduled_check_s_median": statistics.median(scheduled_s),
        "scheduled_new_rows": APPENDED,
        "target_s": 1.0,
        "met": check_s < 1.0,
        "drifted": drifted,
        "tests": sorted({f["test"] for f in report["features"]}),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    assert report["rows"] == ROWS and drifted == ["f0"], result
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "drift.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "drift.md").write_text(
        "# Drift check\n\n"
        "| measure | this run | target |\n|---|---|---|\n"
        f"| {ROWS:,} captured rows x {FEATURES} features, decode + every statistic "
        f"(median of {REPEATS}) | {check_s:.3f} s | < 1 s ({'met' if result['met'] else 'NOT met'}) |\n"
        f"| the same vs bare stdlib JSON decoding of the capture ({floor_s:.3f} s) "
        f"| {result['ratio_to_floor']:.2f}x | |\n"
        f"| scheduled check: cache warm, {APPENDED:,} rows appended "
        f"| {result['scheduled_check_s_median']:.3f} s | |\n\n"
        f"Drifted: {', '.join(drifted)} (tests: {', '.join(result['tests'])}). "
        f"Machine: {result['cpus']} CPUs, 1-minute load average {result['load_average_1m']} "
        "(other work ran on it).\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
