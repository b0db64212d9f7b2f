"""Sidebar benchmarks (issue 4): the server extension listing 1,000 jobs, and the panel
rendering them in a real Chromium. Results: benchmarks/results/sidebar.json and sidebar.md.

- server: GET /serverless-ml/api/jobs?limit=1000 through jupyter-server (median of 20),
  next to the platform's own GET /v1/jobs?limit=1000 (the baseline it wraps).
- render: from the 1,000-row page arriving in the browser to React committing the table
  (measured in the page with performance.now(); median of 5).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from lab import browser_page, jupyter_lab, open_lab, open_panel  # noqa: E402

JOBS = 1000


def seed(home: Path) -> None:
    from jupyter_serverless_ml.platform.store import Store

    store = Store(home / "platform.db")
    now = time.time()
    for index in range(JOBS):
        job_id = f"seeded-{index:05d}"
        store.insert_job(
            {
                "id": job_id,
                "name": "seeded",
                "backend": "local",
                "status": "Pending",
                "created_at": now - JOBS + index,
                "spec": {
                    "instance_type": "ml.m5.large",
                    "instance_count": 1,
                    "hyperparameters": {"C": index},
                },
                "bundle_hash": "0" * 64,
                "job_dir": str(home / "jobs" / job_id),
            }
        )
        store.update_job(
            job_id,
            status="Completed",
            started_at=now - JOBS + index,
            ended_at=now - JOBS + index + 1.5,
        )
    store.close()


def timed_get(url: str, headers: dict[str, str], runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        request = urllib.request.Request(url, headers=headers)
        started = time.perf_counter()
        body = urllib.request.urlopen(request, timeout=30).read()
        times.append(time.perf_counter() - started)
    assert len(json.loads(body)["jobs"]) == JOBS
    return statistics.median(times)


def main() -> int:
    from jupyter_serverless_ml.platform import client, state

    work = Path(tempfile.mkdtemp(prefix="jsml-bench-sidebar-"))
    home = work / "home"
    home.mkdir(mode=0o700)
    os.environ["JSML_HOME"] = str(home)
    seed(home)
    platform = client.ensure_running(home)
    try:
        token = state.token(home)
        platform_s = timed_get(
            f"{platform.url}/v1/jobs?limit={JOBS}", {"Authorization": f"Bearer {token}"}
        )
        with jupyter_lab(work, home) as lab:
            server_s = timed_get(
                f"{lab['url']}/serverless-ml/api/jobs?limit={JOBS}",
                {"Authorization": f"token {lab['token']}"},
            )
            renders = []
            with browser_page() as page:
                open_lab(page, lab)
                panel = open_panel(page)
                for _ in range(5):
                    size = panel.locator('select[aria-label="page size"]')
                    size.select_option("50")
                    page.wait_for_function(
                        "() => window.jsmlJobsRender && window.jsmlJobsRender.rows === 50"
                    )
                    size.select_option("1000")
                    page.wait_for_function(
                        "() => window.jsmlJobsRender && window.jsmlJobsRender.rows === 1000",
                        timeout=30_000,
                    )
                    renders.append(page.evaluate("() => window.jsmlJobsRender.ms") / 1000)
    finally:
        client.stop(home, timeout=10)
    results = {
        "jobs": JOBS,
        "server_list_s": server_s,
        "platform_list_s": platform_s,
        "render_s": statistics.median(renders),
        "render_runs_s": renders,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "sidebar.json").write_text(json.dumps(results, indent=2) + "\n")
    table = "\n".join(
        [
            "| measure | this run | target |",
            "|---|---|---|",
            f"| server extension lists {JOBS} jobs (platform alone: {platform_s * 1000:.1f} ms) | "
            f"{server_s * 1000:.1f} ms | < 100 ms |",
            f"| panel renders {JOBS} jobs (median of 5) | {results['render_s'] * 1000:.1f} ms | "
            "< 100 ms |",
        ]
    )
    (HERE / "results" / "sidebar.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
