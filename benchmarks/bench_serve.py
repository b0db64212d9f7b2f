"""Benchmarks for serving and batch prediction (issues 3 and 10).

Every figure is a ratio against a baseline measured in the same run; results go
to benchmarks/results/serve.json and serve.md. Run with `make bench`;
``BENCH_ONLY=router,batch`` runs some parts only.

- cold_start: from a request at zero replicas to its response, vs (a) the fork
  floor: a warm parent that imported scikit-learn forks a child that loads the
  model and serves its first HTTP 200, and (b) a fresh `python` that imports the
  libraries, loads the model and serves its first 200. Medians of 5.
- router: throughput and latency percentiles through the platform (router + one
  replica) vs the physical floor: `floor_server.py`, one uvicorn+uvloop process
  that decodes the JSON body straight into numpy and calls ``predict``. Both are
  driven by `wrk` (C, keep-alive, a Lua script for the POST body; skipped with
  a note when wrk is not installed) at concurrency 1 and 8: alternating pairs of
  runs, medians of the per-pair ratios and differences.
- multi_replica_p50: p50 with two replicas vs one at concurrency 8.
- autoscale_step: from a step to 8 concurrent clients to a second replica
  serving, with test settings (0.1 s metrics interval, 0.3 s panic window).
- batch: %batch_predict (2 workers requested) vs reading, predicting and writing
  the same Parquet file in one process: LogisticRegression on 10M rows, a
  100-tree RandomForest on 1M rows, and the fixed overhead (a 1,000-row job,
  ours minus the same work in one process).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import loadgen  # noqa: E402
import wrk  # noqa: E402
from bare_server import make_app, serve  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
PAIRS = int(os.environ.get("BENCH_PAIRS", "5"))
BATCH_ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "10000000"))
FOREST_ROWS = int(os.environ.get("BENCH_FOREST_ROWS", "1000000"))
#: which parts to run (comma-separated): cold,router,multi,autoscale,batch
ONLY = set(os.environ.get("BENCH_ONLY", "cold,router,multi,autoscale,batch").split(","))


def post_once(
    port: int, body: bytes, path: str, token: str | None = None, timeout: float = 60
) -> float:
    """Connect, POST, read the whole answer; seconds until the 200 arrived."""
    import http.client

    started = time.perf_counter()
    deadline = started + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return time.perf_counter() - started
            raise RuntimeError(f"HTTP {response.status}")
        except ConnectionRefusedError:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.005)


def fork_floor(model_dir: str, body: bytes) -> float:
    """Fork a warm parent; the child loads the model and serves; time to the first 200."""
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            serve(make_app(model_dir), sock)
        finally:
            os._exit(0)
    try:
        post_once(port, body, "/")
        return time.perf_counter() - started
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sock.close()


def fresh_process(model_dir: str, body: bytes, work: Path) -> float:
    port_file = work / f"port-{time.time_ns()}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "bare_server.py"), model_dir, str(port_file)],
        stdin=subprocess.DEVNULL,
    )
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.002)
        post_once(int(port_file.read_text()), body, "/")
        return time.perf_counter() - started
    finally:
        proc.kill()
        proc.wait()


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def bench_cold_start(
    serving: Any, model_dir: str, body: bytes, port: int, token: str, work: Path
) -> dict[str, Any]:
    ep = serving.deploy(
        "cancer",
        name="cold",
        min_replicas=0,
        idle_timeout=0.3,
        metrics_interval=0.1,
        panic_window=0.2,
        window=0.5,
    )
    ours, floor, fresh = [], [], []
    for _ in range(RUNS):
        wait_for(lambda: ep.refresh().record.replicas == 0 and ep.record.variants[0].starting == 0)
        ours.append(post_once(port, body, "/endpoints/cold/invocations", token))
        floor.append(fork_floor(model_dir, body))
        fresh.append(fresh_process(model_dir, body, work))
    serving.undeploy("cold")
    result = {
        "ours_s": statistics.median(ours),
        "fork_floor_s": statistics.median(floor),
        "fresh_process_s": statistics.median(fresh),
        "runs": RUNS,
    }
    result["vs_fork_floor"] = result["ours_s"] / result["fork_floor_s"]
    result["vs_fresh_process"] = result["ours_s"] / result["fresh_process_s"]
    return result


def _floor(model_dir: str, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start the floor server (floor_server.py) on the model's joblib file; its port."""
    port_file = work / f"floor-port-{time.time_ns()}"
    model_file = next(Path(model_dir).rglob("*.joblib"))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "floor_server.py"), str(model_file), str(port_file)],
        stdin=subprocess.DEVNULL,
    )
    wait_for(lambda: port_file.exists() and bool(port_file.read_text()))
    return proc, int(port_file.read_text())


def _pairs(floor: Any, ours: Any, concurrency: int, pairs: int) -> dict[str, Any]:
    """Alternating runs of the floor and ours; medians of each side and of the per-pair
    ratios and differences (the machine's drift cancels out of each pair)."""
    runs = []
    for _ in range(pairs):
        runs.append((floor(concurrency), ours(concurrency)))
    keys = ("rps", "p50_ms", "p90_ms", "p99_ms")
    return {
        "concurrency": concurrency,
        "floor": {k: statistics.median(f[k] for f, _ in runs) for k in keys},
        "ours": {k: statistics.median(o[k] for _, o in runs) for k in keys},
        "throughput_ratio": statistics.median(o["rps"] / f["rps"] for f, o in runs),
        "added_p50_ms": statistics.median(o["p50_ms"] - f["p50_ms"] for f, o in runs),
        "errors": sum(o["errors"] + f["errors"] for f, o in runs),
        "pairs": len(runs),
    }


def bench_router(
    serving: Any, model_dir: str, body: bytes, port: int, token: str, work: Path
) -> dict[str, Any]:
    """The platform's endpoint (router + one replica) against the physical floor, by wrk."""
    if not wrk.available():
        print("router benchmark skipped: wrk is not installed (apt-get install wrk)")
        return {"router": [], "router_skipped": "wrk is not installed"}
    proc, floor_port = _floor(model_dir, work)
    try:
        serving.deploy(
            "cancer", name="one", min_replicas=1, max_replicas=1, capture=0, target_concurrency=1000
        )
        json_type = {"Content-Type": "application/json"}
        auth = {**json_type, "Authorization": f"Bearer {token}"}
        ours_url = f"http://127.0.0.1:{port}/endpoints/one/invocations"
        floor_url = f"http://127.0.0.1:{floor_port}/"
        wrk.run(ours_url, body, auth, 1, 1)  # warm both
        wrk.run(floor_url, body, json_type, 1, 1)
        rows = [
            _pairs(
                lambda c: wrk.run(floor_url, body, json_type, c, SECONDS),
                lambda c: wrk.run(ours_url, body, auth, c, SECONDS),
                concurrency,
                PAIRS,
            )
            for concurrency in (1, 8)
        ]
        serving.undeploy("one")
    finally:
        proc.kill()
        proc.wait()
    return {"router": rows}


def bench_multi_replica(serving: Any, body: bytes, port: int, token: str) -> dict[str, Any]:
    """p50 at concurrency 8 with two replicas vs one (the Python load generator)."""
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    results = {}
    for name, count in (("one", 1), ("two", 2)):
        serving.deploy(
            "cancer",
            name=name,
            min_replicas=count,
            max_replicas=count,
            capture=0,
            target_concurrency=1000,
        )
        request = loadgen.request_bytes(
            "127.0.0.1", port, f"/endpoints/{name}/invocations", body, auth
        )
        results[name] = loadgen.run("127.0.0.1", port, request, 8, SECONDS)
        serving.undeploy(name)
    return {
        "one_replica": results["one"],
        "two_replicas": results["two"],
        "p50_ratio": results["two"]["p50_ms"] / results["one"]["p50_ms"],
    }


def bench_autoscale(serving: Any, body: bytes, port: int, token: str) -> dict[str, Any]:
    serving.deploy(
        "cancer",
        name="step",
        min_replicas=1,
        max_replicas=4,
        target_concurrency=1,
        metrics_interval=0.1,
        panic_window=0.3,
        window=1.0,
        capture=0,
    )
    request = loadgen.request_bytes(
        "127.0.0.1",
        port,
        "/endpoints/step/invocations",
        body,
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    load = threading.Thread(target=loadgen.run, args=("127.0.0.1", port, request, 8, 4.0, 0))
    started = time.time()
    load.start()
    ep = serving.endpoint("step")
    wait_for(lambda: ep.refresh().record.replicas >= 2, timeout=15)
    seconds = time.time() - started
    load.join()
    colds = [e for e in ep.events("cold_start") if e["ts"] >= started]
    serving.undeploy("step")
    return {
        "seconds_to_second_replica": seconds,
        "cold_start_event_after_s": (colds[0]["ts"] - started) if colds else None,
    }


def _batch_pair(
    model: Any, registered: str, source: Path, rows: int, work: Path, runs: int = 3
) -> dict[str, Any]:
    """%batch_predict (2 workers) vs one process reading, predicting and writing the same
    Parquet file, alternating runs, medians."""
    import pandas as pd

    from jupyter_serverless_ml import batch_predict

    in_process, ours = [], []
    for run in range(runs):
        started = time.perf_counter()
        data = pd.read_parquet(source)
        out = pd.DataFrame({"prediction": model.predict(data[list(model.feature_names_in_)])})
        out.to_parquet(work / f"{registered}-inprocess.parquet", index=False)
        in_process.append(time.perf_counter() - started)
        del data, out
        started = time.perf_counter()
        job = batch_predict(registered, source, output=work / f"{registered}-{rows}-{run}")
        ours.append(time.perf_counter() - started)
        assert job.record.rows_done == rows, job.record
    best_in, best_ours = statistics.median(in_process), statistics.median(ours)
    return {
        "rows": rows,
        "in_process_s": best_in,
        "ours_s": best_ours,
        "in_process_rows_per_s": rows / best_in,
        "ours_rows_per_s": rows / best_ours,
        "ratio": best_in / best_ours,
        "workers_requested": 2,
        "workers_used": job.manifest["workers"]["used"],
        "runs": runs,
    }


def bench_batch(serving: Any, work: Path) -> dict[str, Any]:
    """LogisticRegression on BATCH_ROWS rows, a 100-tree forest on FOREST_ROWS, and the
    fixed overhead: a 1,000-row job, ours minus one process doing the same."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    columns = [f"f{i}" for i in range(10)]
    frame = pd.DataFrame(rng.normal(size=(max(BATCH_ROWS, FOREST_ROWS), 10)), columns=columns)
    label = (frame.f0 + frame.f1 - frame.f2 > 0).astype(int)
    sources = {}
    for rows in sorted({BATCH_ROWS, FOREST_ROWS, 1000}):
        sources[rows] = work / f"rows-{rows}.parquet"
        frame.iloc[:rows].to_parquet(sources[rows])
    linear = LogisticRegression().fit(frame[:20000], label[:20000])
    forest = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).fit(
        frame[:20000], label[:20000]
    )
    del frame, label
    serving.deploy(linear, name="batch-linear").undeploy()
    serving.deploy(forest, name="batch-forest").undeploy()
    os.sync()
    for source in sources.values():
        pd.read_parquet(source)  # both sides read from a warm page cache
    small = _batch_pair(linear, "batch-linear", sources[1000], 1000, work, runs=5)
    small["overhead_s"] = small["ours_s"] - small["in_process_s"]
    return {
        "fixed_overhead": small,
        "logistic_regression": _batch_pair(
            linear, "batch-linear", sources[BATCH_ROWS], BATCH_ROWS, work
        ),
        "random_forest_100": _batch_pair(
            forest, "batch-forest", sources[FOREST_ROWS], FOREST_ROWS, work
        ),
    }


def main() -> int:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    work = Path(tempfile.mkdtemp(prefix="jsml-bench-serve-"))
    os.environ["JSML_HOME"] = str(work / "home")
    from jupyter_serverless_ml import serving
    from jupyter_serverless_ml.platform import client, state

    data = load_breast_cancer(as_frame=True)
    features = list(data.feature_names)
    model = LogisticRegression(max_iter=5000).fit(data.frame[features], data.frame.target)
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}
    }
    try:
        serving.deploy(model, name="cancer", min_replicas=1).undeploy()
        home = Path(os.environ["JSML_HOME"])
        model_dir = str(home / "artifacts" / "models" / "cancer" / "1")
        running = client.running(home)
        assert running is not None
        port, token = running.port, state.token(home)
        body = json.dumps({"instances": data.frame[features].head(2).values.tolist()}).encode()
        if "cold" in ONLY:
            results["cold_start"] = bench_cold_start(serving, model_dir, body, port, token, work)
        if "router" in ONLY:
            results.update(bench_router(serving, model_dir, body, port, token, work))
        if "multi" in ONLY:
            results["multi_replica"] = bench_multi_replica(serving, body, port, token)
        if "autoscale" in ONLY:
            results["autoscale_step"] = bench_autoscale(serving, body, port, token)
        if "batch" in ONLY:
            results["batch"] = bench_batch(serving, work)
    finally:
        with contextlib.suppress(Exception):
            client.stop(Path(os.environ["JSML_HOME"]), timeout=10)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "serve.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = report(results)
    (HERE / "results" / "serve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def report(results: dict[str, Any]) -> list[str]:
    """The Markdown table of serve.md: each measure, this run's figure, its target."""
    lines = ["| measure | this run | target |", "|---|---|---|"]
    cold = results.get("cold_start")
    if cold:
        lines += [
            f"| cold start from zero, vs fork floor ({cold['fork_floor_s'] * 1000:.0f} ms) | "
            f"{cold['ours_s'] * 1000:.0f} ms = {cold['vs_fork_floor']:.2f}x | <= 2x |",
            f"| cold start, vs fresh python ({cold['fresh_process_s']:.2f} s) | "
            f"{cold['vs_fresh_process']:.3f}x | <= 0.1x |",
        ]
    for row in results.get("router", []):
        c = row["concurrency"]
        target = ">= 0.8x" if c == 1 else ">= 1.0x"
        lines.append(
            f"| endpoint throughput at concurrency {c}, vs the floor server (wrk) | "
            f"{row['ours']['rps']:.0f} vs {row['floor']['rps']:.0f} req/s = "
            f"{row['throughput_ratio']:.2f}x | {target} |"
        )
        if c == 1:
            lines.append(
                f"| endpoint added p50 at concurrency 1 (floor p50 "
                f"{row['floor']['p50_ms']:.3f} ms) | {row['added_p50_ms']:+.3f} ms | <= +0.1 ms |"
            )
    multi = results.get("multi_replica")
    if multi:
        lines.append(
            f"| p50 two replicas vs one (concurrency 8) | {multi['p50_ratio']:.2f}x | <= 1.5x |"
        )
    step = results.get("autoscale_step")
    if step:
        lines.append(
            f"| step load to second replica serving | {step['seconds_to_second_replica']:.2f} s "
            "| <= 2 s |"
        )
    for name, row in results.get("batch", {}).items():
        if name == "fixed_overhead":
            lines.append(
                f"| batch fixed overhead ({row['rows']:,} rows: {row['ours_s']:.3f} s vs "
                f"{row['in_process_s']:.3f} s in one process) | {row['overhead_s']:.3f} s "
                "| <= 0.15 s |"
            )
            continue
        target = ">= 0.9x" if name == "logistic_regression" else ">= 1.3x"
        lines.append(
            f"| batch {name}, {row['rows']:,} rows, --workers 2 ({row['workers_used']} "
            "used) vs one process | "
            f"{row['ours_rows_per_s']:,.0f} vs {row['in_process_rows_per_s']:,.0f} "
            f"rows/s = {row['ratio']:.2f}x | {target} |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
