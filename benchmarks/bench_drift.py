"""A drift check over 100,000 captured rows and 20 features in under 1 s.

Writes 1,000 capture records of 100 rows each (the replica's JSONL format) for an
endpoint, then times the whole check as the daemon runs it: reading and decoding
the capture files (:func:`read_window`) plus every statistic (:func:`checks.check`,
20 features against a 100,000-row training profile). The floor, measured in the same
run, is a bare ``json.loads`` of the same files: the ratio says what the check adds
over reading its input. Results: benchmarks/results/drift.json and drift.md.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jupyter_serverless_ml.platform.drift import checks, profiles
from jupyter_serverless_ml.platform.drift.capture_reader import read_window

ROWS, FEATURES, PER_REQUEST, REPEATS = 100_000, 20, 100, 5
RESULTS = Path(__file__).parent / "results"


def write_capture(directory: Path, rng: np.random.Generator) -> None:
    directory.mkdir(parents=True)
    values = rng.normal(0, 1, (ROWS, FEATURES))
    values[:, 0] += 0.5  # one feature drifted
    now = time.time()
    with open(directory / "capture-r1-0001.jsonl", "w") as fh:
        for start in range(0, ROWS, PER_REQUEST):
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
            fh.write(json.dumps(record) + "\n")


def main() -> None:
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(FEATURES)]
    baseline = profiles.profile_frame(
        pd.DataFrame(rng.normal(0, 1, (ROWS, FEATURES)), columns=names), "train"
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "bench"
        write_capture(directory, rng)
        floors, checks_s = [], []
        report: dict = {}
        for _ in range(REPEATS):
            started = time.perf_counter()
            with open(directory / "capture-r1-0001.jsonl", "rb") as fh:
                for line in fh:
                    json.loads(json.loads(line)["input"])
            floors.append(time.perf_counter() - started)
            started = time.perf_counter()
            window = read_window(directory, 0.0, time.time() + 1)
            report = checks.check(baseline, window, names)
            checks_s.append(time.perf_counter() - started)
    drifted = [f["feature"] for f in report["features"] if f["drift"]]
    result = {
        "rows": report["rows"],
        "features": FEATURES,
        "check_s_median": statistics.median(checks_s),
        "floor_json_s_median": statistics.median(floors),
        "ratio_to_floor": statistics.median(checks_s) / statistics.median(floors),
        "target_s": 1.0,
        "met": statistics.median(checks_s) < 1.0,
        "drifted": drifted,
        "tests": sorted({f["test"] for f in report["features"]}),
    }
    assert report["rows"] == ROWS and drifted == ["f0"], result
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "drift.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "drift.md").write_text(
        f"# Drift check\n\n{ROWS:,} captured rows x {FEATURES} features: "
        f"{result['check_s_median']:.3f} s median of {REPEATS} (target < 1 s; "
        f"{'met' if result['met'] else 'NOT met'}); bare JSON decoding of the same capture "
        f"{result['floor_json_s_median']:.3f} s (ratio {result['ratio_to_floor']:.2f}x). "
        f"Drifted: {', '.join(drifted)}.\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
