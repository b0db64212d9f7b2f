"""Benchmarks for serving and batch prediction (issue 3).

Every figure is a ratio against a baseline measured in the same run; results go
to benchmarks/results/serve.json and serve.md. Run with `make bench`.

- cold_start: from a request at zero replicas to its response, vs (a) the fork
  floor: a warm parent that imported scikit-learn forks a child that loads the
  model and serves its first HTTP 200, and (b) a fresh `python` that imports the
  libraries, loads the model and serves its first 200. Medians of 5.
- router_overhead: throughput and p50 through the platform (router + one replica)
  vs a bare uvicorn+uvloop process serving the same model with the same codec,
  at concurrency 1, 8 and 64 (keep-alive load generator; five alternating pairs
  of 1.5 s runs, medians of the per-pair ratios and differences).
- multi_replica_p50: p50 with two replicas vs one at concurrency 8.
- autoscale_step: from a step to 8 concurrent clients to a second replica
  serving, with test settings (0.1 s metrics interval, 0.3 s panic window).
- batch: rows/s of %batch_predict vs reading, predicting and writing the same
  Parquet file in one process: LogisticRegression on 1M rows (2 workers), and a
  100-tree RandomForest on 1M rows with 2 workers vs one process.
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
from bare_server import make_app, serve  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "1.5"))
PAIRS = int(os.environ.get("BENCH_PAIRS", "5"))
BATCH_ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "1000000"))


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


def bench_router(
    serving: Any, model_dir: str, body: bytes, port: int, token: str, work: Path
) -> dict[str, Any]:
    port_file = work / "bare-port"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "bare_server.py"), model_dir, str(port_file)],
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: port_file.exists() and bool(port_file.read_text()))
        bare_port = int(port_file.read_text())
        serving.deploy(
            "cancer", name="one", min_replicas=1, max_replicas=1, capture=0, target_concurrency=1000
        )
        serving.deploy(
            "cancer", name="two", min_replicas=2, max_replicas=2, capture=0, target_concurrency=1000
        )
        bare_request = loadgen.request_bytes(
            "127.0.0.1", bare_port, "/", body, {"Content-Type": "application/json"}
        )
        auth = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        one = loadgen.request_bytes("127.0.0.1", port, "/endpoints/one/invocations", body, auth)
        two = loadgen.request_bytes("127.0.0.1", port, "/endpoints/two/invocations", body, auth)
        rows = []
        for concurrency in (1, 8, 64):
            # alternating short runs, medians of the pairs: the machine's own drift
            # (+-0.5 ms at concurrency 1 here) cancels out of each pair
            pairs = []
            for _ in range(PAIRS):
                bare = loadgen.run("127.0.0.1", bare_port, bare_request, concurrency, SECONDS)
                ours = loadgen.run("127.0.0.1", port, one, concurrency, SECONDS)
                pairs.append((bare, ours))
            rows.append(
                {
                    "concurrency": concurrency,
                    "bare": {
                        k: statistics.median(b[k] for b, _ in pairs)
                        for k in ("rps", "p50_ms", "p95_ms")
                    },
                    "ours": {
                        k: statistics.median(o[k] for _, o in pairs)
                        for k in ("rps", "p50_ms", "p95_ms")
                    },
                    "throughput_ratio": statistics.median(o["rps"] / b["rps"] for b, o in pairs),
                    "added_p50_ms": statistics.median(o["p50_ms"] - b["p50_ms"] for b, o in pairs),
                    "pairs": len(pairs),
                }
            )
        single = loadgen.run("127.0.0.1", port, one, 8, SECONDS)
        double = loadgen.run("127.0.0.1", port, two, 8, SECONDS)
        serving.undeploy("one")
        serving.undeploy("two")
    finally:
        proc.kill()
        proc.wait()
    return {
        "router": rows,
        "multi_replica": {
            "one_replica": single,
            "two_replicas": double,
            "p50_ratio": double["p50_ms"] / single["p50_ms"],
        },
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


def bench_batch(serving: Any, work: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from jupyter_serverless_ml import batch_predict

    rng = np.random.default_rng(0)
    columns = [f"f{i}" for i in range(10)]
    frame = pd.DataFrame(rng.normal(size=(BATCH_ROWS, 10)), columns=columns)
    label = (frame.f0 + frame.f1 - frame.f2 > 0).astype(int)
    source = work / "rows.parquet"
    frame.to_parquet(source)
    results = {}
    models = {
        "logistic_regression": LogisticRegression().fit(frame[:20000], label[:20000]),
        "random_forest_100": RandomForestClassifier(
            n_estimators=100, max_depth=10, random_state=0
        ).fit(frame[:20000], label[:20000]),
    }
    os.sync()
    pd.read_parquet(source)  # both sides read from a warm page cache
    for name, model in models.items():
        registered = f"batch-{name.replace('_', '-')}"
        serving.deploy(model, name=registered).undeploy()
        in_process, ours = [], []
        for run in range(3):  # alternating, medians
            started = time.perf_counter()
            data = pd.read_parquet(source)
            out = pd.DataFrame({"prediction": model.predict(data[columns])})
            out.to_parquet(work / f"{name}-inprocess.parquet", index=False)
            in_process.append(time.perf_counter() - started)
            started = time.perf_counter()
            job = batch_predict(registered, source, output=work / f"{name}-out-{run}", workers=2)
            ours.append(time.perf_counter() - started)
            assert job.record.rows_done == BATCH_ROWS
        used = job.manifest["workers"]["used"]
        best_in, best_ours = statistics.median(in_process), statistics.median(ours)
        results[name] = {
            "rows": BATCH_ROWS,
            "in_process_s": best_in,
            "ours_s": best_ours,
            "in_process_rows_per_s": BATCH_ROWS / best_in,
            "ours_rows_per_s": BATCH_ROWS / best_ours,
            "ratio": best_in / best_ours,
            "workers_requested": 2,
            "workers_used": used,
        }
    return results


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
    try:
        serving.deploy(model, name="cancer", min_replicas=1).undeploy()
        home = Path(os.environ["JSML_HOME"])
        model_dir = str(home / "artifacts" / "models" / "cancer" / "1")
        running = client.running(home)
        assert running is not None
        port, token = running.port, state.token(home)
        body = json.dumps({"instances": data.frame[features].head(2).values.tolist()}).encode()
        results: dict[str, Any] = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "cold_start": bench_cold_start(serving, model_dir, body, port, token, work),
        }
        results.update(bench_router(serving, model_dir, body, port, token, work))
        results["autoscale_step"] = bench_autoscale(serving, body, port, token)
        results["batch"] = bench_batch(serving, work)
    finally:
        with contextlib.suppress(Exception):
            client.stop(Path(os.environ["JSML_HOME"]), timeout=10)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "serve.json").write_text(json.dumps(results, indent=2) + "\n")
    cold, multi, step, batch = (
        results["cold_start"],
        results["multi_replica"],
        results["autoscale_step"],
        results["batch"],
    )
    lines = [
        "| measure | this run | target |",
        "|---|---|---|",
        f"| cold start from zero, vs fork floor ({cold['fork_floor_s'] * 1000:.0f} ms) | "
        f"{cold['ours_s'] * 1000:.0f} ms = {cold['vs_fork_floor']:.2f}x | <= 2x |",
        f"| cold start, vs fresh python ({cold['fresh_process_s']:.2f} s) | "
        f"{cold['vs_fresh_process']:.3f}x | <= 0.1x |",
    ]
    for row in results["router"]:
        lines.append(
            f"| router throughput at concurrency {row['concurrency']} | "
            f"{row['ours']['rps']:.0f} vs {row['bare']['rps']:.0f} req/s = "
            f"{row['throughput_ratio']:.2f}x | >= 0.9x at 8 |"
        )
        lines.append(
            f"| router added p50 at concurrency {row['concurrency']} | "
            f"{row['added_p50_ms']:+.3f} ms | <= 0.2 ms |"
        )
    lines += [
        f"| p50 two replicas vs one (concurrency 8) | {multi['p50_ratio']:.2f}x | <= 1.5x |",
        f"| step load to second replica serving | {step['seconds_to_second_replica']:.2f} s | "
        "<= 2 s |",
    ]
    for name, row in batch.items():
        target = ">= 0.8x" if name == "logistic_regression" else ">= 1.3x"
        lines.append(
            f"| batch {name}, {row['rows']:,} rows, --workers 2 ({row['workers_used']} "
            "used) vs one process | "
            f"{row['ours_rows_per_s']:,.0f} vs {row['in_process_rows_per_s']:,.0f} "
            f"rows/s = {row['ratio']:.2f}x | {target} |"
        )
    (HERE / "results" / "serve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
