"""Benchmark: the cost ledger and request capture add nothing measurable to serving (issue 12).

Two platforms run side by side, each with one endpoint serving the same
LogisticRegression (one replica):

- *off*: accrual off (``JSML_COST_INTERVAL=0``), no capture, no budget;
- *ledger*: the ledger written every 0.25 s (20 times the default rate) and a
  ``--max-cost`` budget the guard checks each round, no capture;
- *on*: the same, and every request captured (``--capture 100``).

``wrk`` (C, keep-alive) drives each at concurrency 1 in alternating pairs of runs
(the machine's drift cancels out of each pair; the order rotates); the figures are
the medians of the per-round p50 differences, ledger minus off and on minus off. Target: within 0.05 ms. Results go to
benchmarks/results/costs.json and costs.md. ``BENCH_PAIRS`` and ``BENCH_SECONDS``
change the number and length of the runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import wrk  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
PAIRS = int(os.environ.get("BENCH_PAIRS", "7"))
TARGET_MS = 0.05
SIDES = {
    "off": {"interval": "0", "capture": 0, "max_cost": None},
    "ledger": {"interval": "0.25", "capture": 0, "max_cost": 1000.0},
    "on": {"interval": "0.25", "capture": 100, "max_cost": 1000.0},
}


def start_side(name: str, model: Any, work: Path) -> dict[str, Any]:
    """A platform home of its own with the side's settings, and its endpoint serving."""
    from jupyter_serverless_ml import backends, serving
    from jupyter_serverless_ml.platform import client, state

    side = SIDES[name]
    home = work / name
    home.mkdir()
    os.environ["JSML_HOME"] = str(home)
    os.environ["JSML_COST_INTERVAL"] = str(side["interval"])  # the daemon started next reads it
    backends.reset()
    serving.deploy(
        model,
        name="priced",
        min_replicas=1,
        max_replicas=1,
        capture=side["capture"],
        target_concurrency=1000,
        max_cost=side["max_cost"],
    )
    running = client.running(home)
    assert running is not None
    return {
        "home": home,
        "url": f"http://127.0.0.1:{running.port}/endpoints/priced/invocations",
        "headers": {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {state.token(home)}",
        },
    }


def ledger_rounds(home: Path) -> dict[str, Any]:
    """What the ledger of ``home`` holds for the endpoint (proof that accrual ran)."""
    import sqlite3

    db = sqlite3.connect(home / "platform.db")
    try:
        row = db.execute(
            "SELECT COUNT(*), MAX(updated_at) - MIN(started_at), MAX(seconds) FROM ledger "
            "WHERE kind = 'endpoint'"
        ).fetchone()
    finally:
        db.close()
    return {"rows": row[0], "span_s": row[1], "replica_seconds": row[2]}


def captured_bytes(home: Path) -> int:
    """Bytes of captured requests under ``home`` (proof that capture ran)."""
    root = home / "capture"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def main() -> int:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from jupyter_serverless_ml.platform import client

    if not wrk.available():
        print("costs benchmark skipped: wrk is not installed (apt-get install wrk)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="jsml-bench-costs-"))
    data = load_breast_cancer(as_frame=True)
    features = list(data.feature_names)
    model = LogisticRegression(max_iter=5000).fit(data.frame[features], data.frame.target)
    body = json.dumps({"instances": data.frame[features].head(2).values.tolist()}).encode()
    sides: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "settings": SIDES,
    }
    try:
        for name in SIDES:
            sides[name] = start_side(name, model, work)
        for side in sides.values():  # warm both
            wrk.run(side["url"], body, side["headers"], 1, 1)
        pairs = []
        names = list(SIDES)
        for i in range(PAIRS):
            order = names[i % len(names) :] + names[: i % len(names)]
            run = {
                n: wrk.run(sides[n]["url"], body, sides[n]["headers"], 1, SECONDS) for n in order
            }
            pairs.append(run)
        time.sleep(0.6)  # one more accrual round for the proof below
        keys = ("rps", "p50_ms", "p90_ms", "p99_ms")
        results["concurrency_1"] = {
            "off": {k: statistics.median(p["off"][k] for p in pairs) for k in keys},
            "on": {k: statistics.median(p["on"][k] for p in pairs) for k in keys},
            "added_p50_ms": statistics.median(
                p["on"]["p50_ms"] - p["off"]["p50_ms"] for p in pairs
            ),
            "added_p50_ms_each_pair": [p["on"]["p50_ms"] - p["off"]["p50_ms"] for p in pairs],
            "throughput_ratio": statistics.median(p["on"]["rps"] / p["off"]["rps"] for p in pairs),
            "ledger": {k: statistics.median(p["ledger"][k] for p in pairs) for k in keys},
            "ledger_added_p50_ms": statistics.median(
                p["ledger"]["p50_ms"] - p["off"]["p50_ms"] for p in pairs
            ),
            "errors": sum(p[n]["errors"] for p in pairs for n in SIDES),
            "pairs": len(pairs),
            "seconds_each": SECONDS,
        }
        results["on_side_did_its_work"] = {
            "ledger": ledger_rounds(sides["on"]["home"]),
            "captured_bytes": captured_bytes(sides["on"]["home"]),
        }
        results["off_side_ledger"] = ledger_rounds(sides["off"]["home"])
    finally:
        for side in sides.values():
            with contextlib.suppress(Exception):
                client.stop(side["home"], timeout=10)
    row = results["concurrency_1"]
    results["within_target"] = abs(row["added_p50_ms"]) <= TARGET_MS
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "costs.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    lines = report(results)
    (HERE / "results" / "costs.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def report(results: dict[str, Any]) -> list[str]:
    """The Markdown table of costs.md."""
    row = results["concurrency_1"]
    done = results["on_side_did_its_work"]
    return [
        "| measure | this run | target |",
        "|---|---|---|",
        f"| serving p50 at concurrency 1, ledger every 0.25 s + capture 100% + budget vs "
        f"all off (off p50 {row['off']['p50_ms']:.3f} ms; median of {row['pairs']} pairs) | "
        f"{row['added_p50_ms']:+.3f} ms | within {TARGET_MS} ms |",
        f"| of which the ledger alone (every 0.25 s + budget, no capture) | "
        f"{row['ledger_added_p50_ms']:+.3f} ms | within {TARGET_MS} ms |",
        f"| throughput at concurrency 1, on vs off | {row['on']['rps']:.0f} vs "
        f"{row['off']['rps']:.0f} req/s = {row['throughput_ratio']:.2f}x | - |",
        f"| the on side's ledger rows / captured bytes (it did its work) | "
        f"{done['ledger']['rows']} / {done['captured_bytes']:,} | > 0 / > 0 |",
    ]


if __name__ == "__main__":
    sys.exit(main())
