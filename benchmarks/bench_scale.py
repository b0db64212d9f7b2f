"""Benchmarks for serving at scale (issue 15): templates, shared pages, multi-model endpoints.

Every figure is against a baseline measured in the same run; results go to
benchmarks/results/scale.json and scale.md. Run with `make bench` (or alone:
``python benchmarks/bench_scale.py``; ``BENCH_ONLY=cold,memory,mme,miss`` runs
some parts only).

- cold: a request at zero replicas to its answer for a large RandomForest
  (150 trees on 60k rows x 20 features, about 185 MB), served from its template
  (``--keep-warm``, the default), vs (a) the fork floor of a *small* model (a warm
  parent forks a child that loads a LogisticRegression and serves its first 200),
  (b) a fresh load of the large model (the same fork floor with the forest: fork,
  load, first 200), (c) a fresh ``python`` doing the same, and (d) the endpoint with
  ``--no-keep-warm`` (each cold start loads the model: the behaviour before).
  Medians of ``BENCH_RUNS`` (5), alternating.
- memory: PSS of 4 replicas of the forest forked from its template (plus the
  template) vs one replica that loaded the model itself.
- mme: warm request p50 at concurrency 1 (wrk) of a multi-model endpoint (the
  target model in the ``X-Amzn-SageMaker-Target-Model`` header) vs a single-model
  endpoint of the same model; alternating pairs, median of the differences.
- miss: a multi-model request whose model is not loaded (a cache that holds one
  of two forests, alternating) vs loading that model in a process (``flavors.load``)
  plus a warm request.
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
from bench_serve import fork_floor, fresh_process, post_once, wait_for  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
PAIRS = int(os.environ.get("BENCH_PAIRS", "5"))
TREES = int(os.environ.get("BENCH_TREES", "150"))
ONLY = set(os.environ.get("BENCH_ONLY", "cold,memory,mme,miss").split(","))
FAST = {"metrics_interval": 0.1, "panic_window": 0.2, "window": 0.5, "idle_timeout": 0.3}


def _zero(ep: Any) -> None:
    wait_for(lambda: ep.refresh().record.replicas == 0 and ep.record.variants[0].starting == 0)


def bench_cold(
    serving: Any,
    small_dir: str,
    small_body: bytes,
    big_dir: str,
    big_body: bytes,
    port: int,
    token: str,
    work: Path,
) -> dict[str, Any]:
    warm = serving.deploy("forest", name="forest-warm", min_replicas=0, capture=0, **FAST)
    cold = serving.deploy(
        "forest", name="forest-cold", min_replicas=0, capture=0, keep_warm=False, **FAST
    )
    ours, before, small_floor, big_floor, fresh = [], [], [], [], []
    for _ in range(RUNS):
        _zero(warm)
        ours.append(post_once(port, big_body, "/endpoints/forest-warm/invocations", token))
        _zero(cold)
        before.append(post_once(port, big_body, "/endpoints/forest-cold/invocations", token))
        small_floor.append(fork_floor(small_dir, small_body))
        big_floor.append(fork_floor(big_dir, big_body))
        fresh.append(fresh_process(big_dir, big_body, work))
    template = warm.refresh().record.variants[0].details.get("template") or {}
    warm.undeploy()
    cold.undeploy()
    result = {
        "ours_s": statistics.median(ours),
        "no_keep_warm_s": statistics.median(before),
        "small_fork_floor_s": statistics.median(small_floor),
        "fresh_load_s": statistics.median(big_floor),
        "fresh_process_s": statistics.median(fresh),
        "template_pss_bytes": template.get("pss_bytes"),
        "runs": RUNS,
    }
    result["vs_small_fork_floor"] = result["ours_s"] / result["small_fork_floor_s"]
    result["before_vs_small_fork_floor"] = result["no_keep_warm_s"] / result["small_fork_floor_s"]
    result["vs_fresh_load"] = result["ours_s"] / result["fresh_load_s"]
    result["vs_fresh_process"] = result["ours_s"] / result["fresh_process_s"]
    return result


def _pss(ep: Any) -> tuple[int, list[int]]:
    variant = ep.refresh().record.variants[0]
    template = variant.details.get("template") or {}
    rows = variant.details.get("replica_memory") or []
    return int(template.get("pss_bytes") or 0), [int(r["pss_bytes"] or 0) for r in rows]


def bench_memory(serving: Any, big_body: bytes, port: int, token: str) -> dict[str, Any]:
    alone = serving.deploy("forest", name="forest-alone", keep_warm=False, capture=0)
    four = serving.deploy("forest", name="forest-four", min_replicas=4, max_replicas=4, capture=0)
    for _ in range(20):  # every replica answers a few requests first
        post_once(port, big_body, "/endpoints/forest-alone/invocations", token)
        post_once(port, big_body, "/endpoints/forest-four/invocations", token)
    _, (single,) = _pss(alone)
    template, replicas = _pss(four)
    alone.undeploy()
    four.undeploy()
    return {
        "one_replica_pss_bytes": single,
        "four_replicas_pss_bytes": sum(replicas),
        "template_pss_bytes": template,
        "replicas": len(replicas),
        "ratio_replicas": sum(replicas) / single,
        "ratio_with_template": (sum(replicas) + template) / single,
    }


def bench_mme(serving: Any, body: bytes, port: int, token: str) -> dict[str, Any]:
    if not wrk.available():
        return {"skipped": "wrk is not installed"}
    serving.deploy("cancer", name="single", capture=0, max_replicas=1)
    serving.deploy("cancer", name="mme", multi_model=True, capture=0, max_replicas=1)
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    target = {**auth, "X-Amzn-SageMaker-Target-Model": "cancer:1"}
    single_url = f"http://127.0.0.1:{port}/endpoints/single/invocations"
    mme_url = f"http://127.0.0.1:{port}/endpoints/mme/invocations"
    wrk.run(single_url, body, auth, 1, 1)
    wrk.run(mme_url, body, target, 1, 1)
    runs = [
        (wrk.run(single_url, body, auth, 1, SECONDS), wrk.run(mme_url, body, target, 1, SECONDS))
        for _ in range(PAIRS)
    ]
    serving.undeploy("single")
    serving.undeploy("mme")
    return {
        "single_p50_ms": statistics.median(s["p50_ms"] for s, _ in runs),
        "mme_p50_ms": statistics.median(m["p50_ms"] for _, m in runs),
        "added_p50_ms": statistics.median(m["p50_ms"] - s["p50_ms"] for s, m in runs),
        "errors": sum(s["errors"] + m["errors"] for s, m in runs),
        "pairs": len(runs),
    }


def bench_miss(serving: Any, home: Path, big_body: bytes, port: int, token: str) -> dict[str, Any]:
    from jupyter_serverless_ml.runtime import flavors

    dirs = [home / "artifacts" / "models" / "forest" / str(v) for v in (1, 2)]
    size = max(sum(f.stat().st_size for f in d.iterdir()) for d in dirs)
    serving.deploy(
        "forest",
        name="forest-mme",
        multi_model=True,
        model_cache=int(size * 1.5),
        capture=0,
        max_replicas=1,
    )
    path = "/endpoints/forest-mme/models/forest:{}/invocations"
    post_once(port, big_body, path.format(1), token)
    warm = statistics.median(post_once(port, big_body, path.format(1), token) for _ in range(5))
    misses = []
    for run in range(RUNS * 2):
        misses.append(post_once(port, big_body, path.format(2 - run % 2), token))
    serving.undeploy("forest-mme")
    loads = []
    for _ in range(RUNS):
        started = time.perf_counter()
        flavors.load(dirs[0], strict=True)
        loads.append(time.perf_counter() - started)
    load = statistics.median(loads)
    result = {
        "miss_s": statistics.median(misses),
        "warm_request_s": warm,
        "load_s": load,
        "model_bytes": size,
    }
    result["ratio"] = result["miss_s"] / (load + warm)
    return result


def _forest() -> Any:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(60_000, 20)
    y = (X[:, 0] + X[:, 1] * rng.rand(60_000) > 0.8).astype(int)
    model = RandomForestClassifier(n_estimators=TREES, random_state=0, n_jobs=-1).fit(X, y)
    model.set_params(n_jobs=None)
    return model, X


def main() -> int:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    work = Path(tempfile.mkdtemp(prefix="jsml-bench-scale-"))
    os.environ["JSML_HOME"] = str(work / "home")
    from jupyter_serverless_ml import serving
    from jupyter_serverless_ml.platform import client, state
    from jupyter_serverless_ml.registry import model_ref

    data = load_breast_cancer(as_frame=True)
    features = list(data.feature_names)
    small = LogisticRegression(max_iter=5000).fit(data.frame[features], data.frame.target)
    forest, X = _forest()
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}
    }
    try:
        home = Path(os.environ["JSML_HOME"])
        model_ref(small, "cancer", None)
        model_ref(forest, "forest", None)
        if "miss" in ONLY:
            model_ref(forest, "forest", None)  # a second version for the cache-miss part
        small_dir = str(home / "artifacts" / "models" / "cancer" / "1")
        big_dir = str(home / "artifacts" / "models" / "forest" / "1")
        results["forest_bytes"] = sum(f.stat().st_size for f in Path(big_dir).iterdir())
        serving.deploy("cancer", name="starter").undeploy()  # the platform and its zygote
        running = client.running(home)
        assert running is not None
        port, token = running.port, state.token(home)
        small_body = json.dumps({"instances": data.frame[features].head(2).values.tolist()})
        big_body = json.dumps({"instances": X[:2].tolist()})
        if "cold" in ONLY:
            results["cold_start"] = bench_cold(
                serving,
                small_dir,
                small_body.encode(),
                big_dir,
                big_body.encode(),
                port,
                token,
                work,
            )
        if "memory" in ONLY:
            results["memory"] = bench_memory(serving, big_body.encode(), port, token)
        if "mme" in ONLY:
            results["mme_p50"] = bench_mme(serving, small_body.encode(), port, token)
        if "miss" in ONLY:
            results["cache_miss"] = bench_miss(serving, home, big_body.encode(), port, token)
    finally:
        with contextlib.suppress(Exception):
            client.stop(Path(os.environ["JSML_HOME"]), timeout=10)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "scale.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = report(results)
    (HERE / "results" / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def report(results: dict[str, Any]) -> list[str]:
    """The Markdown table of scale.md: each measure, this run's figure, its target."""
    mib = 1 << 20
    lines = ["| measure | this run | target |", "|---|---|---|"]
    cold = results.get("cold_start")
    if cold:
        lines += [
            f"| cold start from zero, {results['forest_bytes'] / mib:.0f} MiB forest from its "
            f"template, vs the small model's fork floor ({cold['small_fork_floor_s'] * 1000:.0f}"
            f" ms) | {cold['ours_s'] * 1000:.0f} ms = {cold['vs_small_fork_floor']:.2f}x "
            f"(--no-keep-warm: {cold['no_keep_warm_s'] * 1000:.0f} ms = "
            f"{cold['before_vs_small_fork_floor']:.1f}x) | <= 2x |",
            f"| the same, vs a fresh load of the forest (fork, load, first 200: "
            f"{cold['fresh_load_s'] * 1000:.0f} ms; fresh python {cold['fresh_process_s']:.2f} s)"
            f" | {cold['vs_fresh_load']:.3f}x | <= 0.1x |",
        ]
    memory = results.get("memory")
    if memory:
        lines.append(
            f"| PSS of {memory['replicas']} replicas forked from the template, vs one replica "
            f"that loaded the forest ({memory['one_replica_pss_bytes'] / mib:.0f} MiB) | "
            f"{memory['four_replicas_pss_bytes'] / mib:.0f} MiB = {memory['ratio_replicas']:.2f}x"
            f" (with the template {memory['ratio_with_template']:.2f}x) | <= 1.5x |"
        )
    mme = results.get("mme_p50")
    if mme and "skipped" not in mme:
        lines.append(
            f"| multi-model endpoint warm p50 vs a single-model endpoint "
            f"({mme['single_p50_ms']:.3f} ms, wrk, c=1) | {mme['added_p50_ms']:+.3f} ms "
            "| <= +0.1 ms |"
        )
    miss = results.get("cache_miss")
    if miss:
        lines.append(
            f"| multi-model cache miss (forest), vs loading it in a process "
            f"({miss['load_s'] * 1000:.0f} ms) plus a warm request "
            f"({miss['warm_request_s'] * 1000:.1f} ms) | {miss['miss_s'] * 1000:.0f} ms = "
            f"{miss['ratio']:.2f}x | <= 1x |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
