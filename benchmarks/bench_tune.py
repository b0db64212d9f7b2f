"""Benchmark for issue 13: per-trial orchestration overhead of a tuning study.

Every figure is measured in this run against baselines measured in the same run;
results go to benchmarks/results/tune.json (and a Markdown table next to it). Run with
`python benchmarks/bench_tune.py` (BENCH_TRIALS, default 12; BENCH_RUNS, default 5;
BENCH_OBJECTIVES=synthetic measures one objective and only prints it).

- optuna_in_process: Optuna (TPE, in memory) optimizing the same objective in this process,
  seconds per trial: the search plus the objective itself.
- optuna_own: Optuna's own per-trial cost (TPE, in memory, an objective that returns at once).
- fork_floor: a bare `python -c` running the objective once (a fresh interpreter per trial,
  the least any process-per-trial runner can cost), seconds.
- platform: a %%tune study on the local platform (warm daemon, TPE, --parallel 1, each trial
  a recorded training job forked from the study's sandboxed trial zygote, Optuna in memory
  in the daemon with the trials in the platform store), wall time from tune() to Completed
  divided by the trials (the study's host and zygote start included).
- overhead = platform - optuna_in_process per trial; the target is
  overhead <= 2 x (fork_floor + optuna_own).
- breakdown (medians over the platform runs, from the study's own record): ``start_s`` the
  study's creation to its first trial running (the trial host and its zygote starting),
  ``between_s`` one trial's end to the next one's start (the daemon's round: the job
  folded, Optuna told and asked, the next job submitted; the host starting it),
  ``trial_s`` a trial's start to its end (fork, run, collection), ``finish_s`` the last
  trial's end to the study's (the best model registered), ``client_s`` the rest of the
  wall time (bundle, request, the client seeing the end).

Each figure is a median over runs that alternate (baselines, then a study), so drift in
the machine's load touches all of them; the load average is recorded. After each study
the platform's follow-up work (the best model's drift baseline, profiled on a thread) is
left QUIET_S seconds to finish, outside every measured window.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TRIALS = int(os.environ.get("BENCH_TRIALS", "12"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
QUIET_S = float(os.environ.get("BENCH_QUIET", "1.5"))

#: what a trial does: fit and score a scikit-learn model on the breast-cancer data (the
#: headline), and a synthetic formula (the fixed cost of a trial, nothing to amortise it)
OBJECTIVES = {
    "sklearn": """
import math
import pandas as pd
from sklearn.linear_model import LogisticRegression
df = pd.read_csv(channel("train"))
X, y = df[["mean radius", "mean texture", "mean smoothness"]], df.target
model = LogisticRegression(C=hp.lr * 100 * hp.x + 1e-3, max_iter=300).fit(X, y)
log_metric("score", model.score(X, y))
""",
    "synthetic": """
import math
score = 1 - (hp.x - 0.7) ** 2 - ((math.log10(hp.lr) + 2) ** 2) / 4
log_metric("score", score)
model = {"x": hp.x}
""",
}
#: BENCH_OBJECTIVES=synthetic measures only that one (and prints it, leaving results/ alone)
KINDS = [k for k in os.environ.get("BENCH_OBJECTIVES", ",".join(OBJECTIVES)).split(",") if k]


class _HP:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def optuna_in_process(source: str, data: Path, work: bool) -> float:
    """Seconds per trial of Optuna in memory; ``work``: run the objective's code."""
    optuna = _optuna()
    code = compile(source, "<objective>", "exec")

    def objective(trial: Any) -> float:
        hp = _HP(
            {
                "x": trial.suggest_float("x", 0, 1),
                "lr": trial.suggest_float("lr", 1e-4, 1, log=True),
            }
        )
        if not work:
            return 0.0
        found: dict[str, float] = {}
        namespace = {
            "hp": hp,
            "log_metric": lambda name, value: found.__setitem__(name, value),
            "channel": lambda name: str(data),
        }
        exec(code, namespace)
        return found["score"]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    started = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS)
    return (time.perf_counter() - started) / TRIALS


def fork_floor(source: str, data: Path) -> float:
    """A fresh interpreter running the objective once, seconds."""
    script = (
        "class H: x = 0.5; lr = 0.01\nhp = H()\nlog_metric = lambda n, v: None\n"
        f"channel = lambda name: {str(data)!r}\n" + source
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True)
    return time.perf_counter() - started


def platform_per_trial(kind: str, data: Path, run: int) -> tuple[float, dict[str, float]]:
    """Seconds per trial of a study, and where its time went (see the module docstring)."""
    from jupyter_serverless_ml import tuning

    started = time.perf_counter()
    study = tuning.tune(
        OBJECTIVES[kind],
        name=f"bench-{kind}-{run}",
        data={"train": data},
        params={"x": "uniform(0,1)", "lr": "loguniform(1e-4,1)"},
        objective="score",
        trials=TRIALS,
        parallel=1,
        seed=run,
        namespace={},
    )
    elapsed = time.perf_counter() - started
    assert study.record.counts.get("Completed") == TRIALS, study.summary()
    record, trials = study.record, study.trials
    starts = [float(t.started_at or 0) for t in trials]
    ends = [float(t.ended_at or 0) for t in trials]
    median = statistics.median
    parts = {
        "start_s": starts[0] - record.created_at,
        "between_s": median(b - a for a, b in zip(ends, starts[1:], strict=False)),
        "trial_s": median(b - a for a, b in zip(starts, ends, strict=True)),
        "finish_s": float(record.ended_at or 0) - ends[-1],
        "client_s": elapsed - (float(record.ended_at or 0) - record.created_at),
    }
    time.sleep(QUIET_S)  # the study's follow-up work, outside every measured window
    return elapsed / TRIALS, parts


def measure(kind: str, data: Path) -> dict[str, Any]:
    source = OBJECTIVES[kind]
    platform_per_trial(kind, data, RUNS)  # warm-up: daemon, Optuna storage, bundle cache
    in_process, own, floors, trials = [], [], [], []
    parts: list[dict[str, float]] = []
    load = [round(os.getloadavg()[0], 2)]
    for run in range(RUNS):  # alternate, so drift in machine load touches every figure
        in_process.append(optuna_in_process(source, data, work=True))
        own.append(optuna_in_process(source, data, work=False))
        floors.append([fork_floor(source, data) for _ in range(3)])
        per_trial, where = platform_per_trial(kind, data, run)
        trials.append(per_trial)
        parts.append(where)
    load.append(round(os.getloadavg()[0], 2))
    median = statistics.median
    inproc, optuna_own, floor, per_trial = (
        median(in_process),
        median(own),
        median(f for run in floors for f in run),
        median(trials),
    )
    each = [  # every run against the baselines measured next to it
        (t - i) / (2 * (median(f) + o))
        for t, i, f, o in zip(trials, in_process, floors, own, strict=True)
    ]
    overhead = per_trial - inproc
    budget = 2 * (floor + optuna_own)
    return {
        "optuna_in_process_s_per_trial": round(inproc, 5),
        "optuna_own_s_per_trial": round(optuna_own, 5),
        "fork_floor_s": round(floor, 4),
        "platform_s_per_trial": round(per_trial, 4),
        "platform_runs_s_per_trial": [round(t, 4) for t in trials],
        "overhead_s_per_trial": round(overhead, 4),
        "budget_s_per_trial": round(budget, 4),
        "overhead_over_budget": round(overhead / budget, 3) if budget > 0 else math.nan,
        "met": overhead <= budget,
        "overhead_over_budget_runs": [round(r, 3) for r in each],
        "breakdown_s": {k: round(median(p[k] for p in parts), 4) for k in parts[0]},
        "load_average_1min": load,
    }


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="jsml-bench-tune-"))
    data = Path(tempfile.mkdtemp(prefix="jsml-bench-data-")) / "train.csv"
    from sklearn.datasets import load_breast_cancer

    load_breast_cancer(as_frame=True).frame.to_csv(data, index=False)
    os.environ["JSML_HOME"] = str(home)
    from jupyter_serverless_ml.platform import client

    client.ensure_running(home)
    try:
        measured = {kind: measure(kind, data) for kind in KINDS}
    finally:
        client.stop(home, timeout=10)
    if set(KINDS) != set(OBJECTIVES):
        print(json.dumps(measured, indent=2))
        return 0
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "trials_per_study": TRIALS,
        "runs": RUNS,
        "target": "overhead <= 2 x (fork floor + Optuna's own per-trial cost)",
        **measured,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "tune.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = []
    for kind, r in measured.items():
        rows.append(
            f"| `%%tune` per trial ({kind} objective), {TRIALS} trials, --parallel 1 | "
            f"Optuna in-process {r['optuna_in_process_s_per_trial']} s/trial | "
            f"{r['platform_s_per_trial']} s/trial (overhead {r['overhead_s_per_trial']} s) | "
            f"{r['overhead_over_budget']} | <= 1: 2 x (fork floor {r['fork_floor_s']} s + "
            f"Optuna {r['optuna_own_s_per_trial']} s) = {r['budget_s_per_trial']} s |\n"
        )
    parts = "".join(
        f"| {kind} | {r['breakdown_s']['start_s']} s | {r['breakdown_s']['between_s']} s | "
        f"{r['breakdown_s']['trial_s']} s | {r['breakdown_s']['finish_s']} s | "
        f"{r['breakdown_s']['client_s']} s | {min(r['platform_runs_s_per_trial'])}-"
        f"{max(r['platform_runs_s_per_trial'])} s | {r['load_average_1min']} |\n"
        for kind, r in measured.items()
    )
    table = (
        "| benchmark | baseline (same run) | measured | overhead / budget | target |\n"
        "|---|---|---|---|---|\n" + "".join(rows) + "\n"
        f"Where a study's time goes (medians of {RUNS} runs; start: creation to the first "
        "trial running, once a study; between: a trial's end to the next one's start; "
        "trial: a trial's start to its end; finish: the last end to the study's; client: "
        "the rest of the wall time):\n\n"
        "| objective | start | between | trial | finish | client | platform per trial, "
        "each run | load average (1 min) before, after |\n"
        "|---|---|---|---|---|---|---|---|\n" + parts
    )
    (HERE / "results" / "tune.md").write_text(table)
    print(table)
    return 0 if all(r["met"] for r in measured.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
