"""Benchmarks for issue 2: %%train overhead, %load_ext cost, isolated-environment reuse.

Every figure is a ratio or a duration measured in this run against a baseline
measured in the same run; results go to benchmarks/results/train.json (and a
Markdown table next to it). Run with `make bench`.

- train_overhead: submit -> Completed of a small training cell through the
  platform (kernel environment, sandboxed), vs a bare `python -c` doing the same
  work (read CSV, fit, score, save the model with joblib). Runs alternate; medians.
- load_ext: `%load_ext jupyter_serverless_ml` in a fresh IPython, in seconds.
- isolated_env_reuse: seconds a second job with the same requirements spends
  getting its environment (from the job's own log line).
- platform_cold_start: first use in a fresh $JSML_HOME (start the daemon until it
  answers), vs a bare `python -c pass` in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = int(os.environ.get("BENCH_RUNS", "7"))

WORK = """\
import pandas as pd
from sklearn.linear_model import LogisticRegression
df = pd.read_csv({train!r})
model = LogisticRegression(C=0.5, max_iter=500).fit(df[{features!r}], df.target)
accuracy = model.score(df[{features!r}], df.target)
"""
FEATURES = ["mean radius", "mean texture"]


def bare_run(train: Path, out: Path) -> float:
    script = WORK.format(train=str(train), features=FEATURES) + (
        f"import joblib\njoblib.dump(model, {str(out / 'model.joblib')!r})\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True)
    return time.perf_counter() - started


def job_run(train: Path) -> float:
    import jupyter_serverless_ml as jsml

    cell = (
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        "df = pd.read_csv(channel('train'))\n"
        "model = LogisticRegression(C=hp.C, max_iter=500).fit(df[FEATURES], df.target)\n"
        "log_metric('accuracy', model.score(df[FEATURES], df.target))\n"
    )
    started = time.perf_counter()
    job = jsml.train(
        cell, name="bench", data={"train": train}, hp={"C": 0.5}, namespace={"FEATURES": FEATURES}
    )
    elapsed = time.perf_counter() - started
    assert job.record.status == "Completed"
    return elapsed


def load_ext_seconds() -> float:
    code = (
        "import time\nfrom IPython.testing.globalipapp import start_ipython\nip = start_ipython()\n"
        "t = time.perf_counter()\nip.run_line_magic('load_ext', 'jupyter_serverless_ml')\n"
        "print(time.perf_counter() - t)\n"
    )
    values = [
        float(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            .stdout.strip()
            .splitlines()[-1]
        )
        for _ in range(5)
    ]
    return statistics.median(values)


def isolated_reuse_seconds() -> tuple[float, float]:
    import jupyter_serverless_ml as jsml

    cell = "import sklearn\nmodel = {'v': sklearn.__version__}\n"
    first = jsml.train(cell, name="bench-iso", env="isolated", namespace={})
    second = jsml.train(cell + "x = 1\n", name="bench-iso", env="isolated", namespace={})
    pattern = r"isolated environment (?:built|reused) in ([0-9.]+)s"
    built = float(re.search(pattern, first.logs()).group(1))  # type: ignore[union-attr]
    reused = float(re.search(pattern, second.logs()).group(1))  # type: ignore[union-attr]
    return built, reused


def cold_start_seconds(root: Path) -> tuple[float, float]:
    from jupyter_serverless_ml.platform import client

    starts, bare = [], []
    for i in range(5):
        home = root / f"cold-{i}"
        home.mkdir()
        started = time.perf_counter()
        client.ensure_running(home)
        starts.append(time.perf_counter() - started)
        client.stop(home)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
    return statistics.median(starts), statistics.median(bare)


def main() -> int:
    from sklearn.datasets import load_breast_cancer

    from jupyter_serverless_ml.platform import client

    with tempfile.TemporaryDirectory(prefix="jsml-bench-") as tmp:
        tmp_path = Path(tmp)
        os.environ["JSML_HOME"] = str(tmp_path / "home")
        train = tmp_path / "train.csv"
        load_breast_cancer(as_frame=True).frame.to_csv(train, index=False)
        client.ensure_running()
        try:
            job_run(train)  # warm-up: daemon, page cache, bundle cache
            bare_run(train, tmp_path)
            bare, job = [], []
            for _ in range(RUNS):
                bare.append(bare_run(train, tmp_path))
                job.append(job_run(train))
            built, reused = isolated_reuse_seconds()
            cold, bare_python = cold_start_seconds(tmp_path)
            info = client.ensure_running().get("/v1/info")
        finally:
            client.stop()
    results = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "sandbox": info["sandbox"]["reason"] if info["sandbox"]["available"] else "none",
        },
        "runs": RUNS,
        "train_overhead": {
            "bare_python_median_s": round(statistics.median(bare), 3),
            "job_median_s": round(statistics.median(job), 3),
            "ratio": round(statistics.median(job) / statistics.median(bare), 3),
            "target": "<= 1.2",
        },
        "load_ext_s": {"median": round(load_ext_seconds(), 4), "target": "< 0.5"},
        "isolated_env": {"first_build_s": built, "second_job_s": reused, "target": "second < 0.5"},
        "platform_cold_start": {"median_s": round(cold, 3), "bare_python_s": round(bare_python, 3)},
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "train.json").write_text(json.dumps(results, indent=2) + "\n")
    t, ext, iso = results["train_overhead"], results["load_ext_s"], results["isolated_env"]
    cs = results["platform_cold_start"]
    table = (
        "| benchmark | baseline (same run) | measured | ratio / value | target |\n"
        "|---|---|---|---|---|\n"
        f"| `%%train` submit to Completed | bare `python -c` {t['bare_python_median_s']} s | "
        f"{t['job_median_s']} s | {t['ratio']}x | <= 1.2x |\n"
        f"| `%load_ext jupyter_serverless_ml` | - | {ext['median']} s | - | < 0.5 s |\n"
        f"| `--env isolated`, second job | first build {iso['first_build_s']} s | "
        f"{iso['second_job_s']} s | - | < 0.5 s |\n"
        f"| first use: daemon start until it answers | bare `python -c pass` {cs['bare_python_s']} s | "
        f"{cs['median_s']} s | - | - |\n"
    )
    (HERE / "results" / "train.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
