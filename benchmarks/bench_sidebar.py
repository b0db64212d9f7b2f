"""Sidebar benchmarks (issues 4 and 14): the server extension listing 1,000 jobs, and the
sidebar and the dashboard rendering them in a real Chromium; the built bundle's size.
Results: benchmarks/results/sidebar.json and sidebar.md.

- server: GET /serverless-ml/api/jobs?limit=1000 through jupyter-server (median of 20),
  next to the platform's own GET /v1/jobs?limit=1000 (the baseline it wraps).
- sidebar render: from the 1,000-job page arriving in the browser to React committing the
  compact list (measured in the page with performance.now(); median of 5). Target < 50 ms.
- dashboard render: from the 1,000 jobs arriving to React committing the table sorted,
  filtered and showing all 1,000 rows on one page: into a table that is new (the section
  opened again) and into the table already shown (a refresh); medians of 5. Target < 100 ms.
- bundle: the JavaScript the built extension ships (jupyter_serverless_ml/labextension/
  static, source maps left out), raw and gzipped; which build (production or development).
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from lab import browser_page, jupyter_lab, open_lab, open_panel  # noqa: E402

JOBS = 1000
BUILT = HERE.parent / "jupyter_serverless_ml" / "labextension"


def bundle_size() -> dict[str, object]:
    """Bytes of the built extension's JavaScript and CSS modules (raw, gzipped)."""
    files = [p for p in (BUILT / "static").glob("*.js")]
    raw = sum(p.stat().st_size for p in files)
    packed = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    # a development build (jlpm build) ships source maps; a production one (build:prod) does not
    mode = "development" if any((BUILT / "static").glob("*.js.map")) else "production"
    return {
        "files": len(files),
        "bytes": raw,
        "gzip_bytes": packed,
        "mode": mode,
    }


def dashboard_renders(page: Any, runs: int = 5) -> list[float]:
    """Open the dashboard from the palette's command, show 1,000 rows a page, and read
    the time from data arrival to commit of ``runs`` refreshes (each poll brings new data)."""
    page.evaluate(
        "() => window.jupyterapp.commands.execute('jupyter-serverless-ml:open-dashboard')"
    )
    table = page.locator('#jupyter-serverless-ml-dashboard table[aria-label="jobs"]')
    table.wait_for(timeout=30_000)
    page.locator(
        '#jupyter-serverless-ml-dashboard select[aria-label="rows per page"]'
    ).select_option("1000")
    page.wait_for_function(
        "() => document.querySelectorAll('#jupyter-serverless-ml-dashboard tbody tr').length === 1000",
        timeout=30_000,
    )
    start = page.evaluate("() => (window.jsmlDashboardRender || {n: 0}).n")
    times = []
    for n in range(start + 1, start + 1 + runs):
        page.wait_for_function(
            f"() => window.jsmlDashboardRender && window.jsmlDashboardRender.n >= {n}"
            " && window.jsmlDashboardRender.rows === 1000",
            timeout=30_000,
        )
        times.append(page.evaluate("() => window.jsmlDashboardRender.ms") / 1000)
    return times


def dashboard_mounts(page: Any, runs: int = 5) -> list[float]:
    """Leave the Jobs section and come back ``runs`` times: each time the 1,000 jobs arrive
    for a table that does not exist yet (every row is new to the page)."""
    times = []
    for _ in range(runs):
        page.locator('#jupyter-serverless-ml-dashboard [data-section="models"]').click()
        page.locator('#jupyter-serverless-ml-dashboard table[aria-label="jobs"]').wait_for(
            state="detached"
        )
        n = page.evaluate("() => window.jsmlDashboardRender.n")
        page.locator('#jupyter-serverless-ml-dashboard [data-section="jobs"]').click()
        page.wait_for_function(
            f"() => window.jsmlDashboardRender.n > {n} && window.jsmlDashboardRender.rows === 1000",
            timeout=30_000,
        )
        times.append(page.evaluate("() => window.jsmlDashboardRender.ms") / 1000)
    return times


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
                dashboard = dashboard_renders(page)
                mounts = dashboard_mounts(page)
    finally:
        client.stop(home, timeout=10)
    results = {
        "jobs": JOBS,
        "server_list_s": server_s,
        "platform_list_s": platform_s,
        "render_s": statistics.median(renders),
        "render_runs_s": renders,
        "dashboard_render_s": statistics.median(dashboard),
        "dashboard_render_runs_s": dashboard,
        "dashboard_mount_s": statistics.median(mounts),
        "dashboard_mount_runs_s": mounts,
        "bundle": bundle_size(),
    }
    bundle = results["bundle"]
    assert isinstance(bundle, dict)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "sidebar.json").write_text(json.dumps(results, indent=2) + "\n")
    table = "\n".join(
        [
            "| measure | this run | target |",
            "|---|---|---|",
            f"| server extension lists {JOBS} jobs (platform alone: {platform_s * 1000:.1f} ms) | "
            f"{server_s * 1000:.1f} ms | < 100 ms |",
            f"| sidebar renders {JOBS} jobs (median of 5) | {results['render_s'] * 1000:.1f} ms | "
            "< 50 ms |",
            f"| dashboard renders {JOBS} new jobs, one page (median of 5) | "
            f"{results['dashboard_mount_s'] * 1000:.1f} ms | < 100 ms |",
            f"| dashboard refreshes {JOBS} jobs, one page (median of 5) | "
            f"{results['dashboard_render_s'] * 1000:.1f} ms | < 100 ms |",
            f"| extension bundle ({bundle['files']} JS files, {bundle['mode']} build) | "
            f"{bundle['bytes'] / 1024:.0f} KiB, {bundle['gzip_bytes'] / 1024:.0f} KiB gzipped | - |",
        ]
    )
    (HERE / "results" / "sidebar.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
