"""notebooks/retrain.ipynb under papermill: a first run promotes and deploys, a worse model is
kept out of production, and the same notebook run by the platform's scheduler (sandboxed)
reaches the platform, trains and leaves production alone when the new version is worse."""

from __future__ import annotations

from pathlib import Path

import nbformat
from notebook_runs import NOTEBOOKS, outputs, run_notebook

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import schedules


def test_retrain_promotes_only_a_better_model(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "retrain"
    params = {"model_name": "retrain-ci", "endpoint": "retrain-ci-prod"}
    try:
        first = run_notebook("retrain.ipynb", work, **params)
        assert "production: none yet" in first
        assert "promoted retrain-ci:1 to production" in first
        assert "redeployed retrain-ci-prod: serving retrain-ci:1" in first
        assert (work / "data" / "new.csv").is_file() and (work / "data" / "holdout.csv").is_file()

        worse = run_notebook("retrain.ipynb", work, features=1, **params)
        assert "candidate retrain-ci:2" in worse
        assert "kept retrain-ci:1 in production: retrain-ci:2 is not better" in worse
        assert "production is retrain-ci:1" in worse and "redeployed" not in worse

        strict = run_notebook("retrain.ipynb", work, features=30, threshold=0.999, **params)
        # as good as production but below the threshold: the gate says why
        assert "kept production" in strict or "is not better" in strict
        assert jsml.model("retrain-ci@production").version == 1

        made = schedules.schedule(
            NOTEBOOKS / "retrain.ipynb",
            every="1h",
            cwd=work,
            name="retrain-ci",
            parameters={**params, "features": 2},
        )
        run = schedules.run_schedule(made.name, wait=True, timeout=300)
        assert run.status == "Completed" and run.record.parameters["features"] == 2
        executed = Path(run.record.output_uri[len("file://") :])
        text = outputs(executed)
        assert "candidate retrain-ci:4" in text and "production is retrain-ci:1" in text
        assert nbformat.read(executed, as_version=4).cells[1].metadata["tags"] == ["parameters"]
        assert (work / "scheduled-runs" / "retrain-ci" / f"{run.id}.ipynb").is_file()
    finally:
        if "retrain-ci-prod" in {e.name for e in jsml.endpoints()}:
            jsml.undeploy("retrain-ci-prod")
        if "retrain-ci" in {s.name for s in schedules.schedules()}:
            schedules.delete_schedule("retrain-ci")
