"""The example notebooks run end to end under papermill, and a failed job fails the run."""

import re
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from notebook_runs import NOTEBOOKS
from notebook_runs import outputs as _outputs


def test_quickstart_runs_under_papermill(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "nb"
    work.mkdir()
    papermill.execute_notebook(
        str(NOTEBOOKS / "quickstart.ipynb"),
        str(work / "out.ipynb"),
        parameters={"job_name": "quickstart-ci", "C": 0.3},
        cwd=str(work),
        kernel_name="python3",
        progress_bar=False,
    )
    text = _outputs(work / "out.ipynb")
    assert "backend: local" in text
    assert "quickstart-ci-" in text and ": Completed" in text
    assert "model quickstart-ci:1" in text and "'accuracy':" in text
    assert "/endpoints/quickstart-ci-prod/invocations" in text
    assert "rows scored" in text and "undeployed quickstart-ci-prod" in text
    assert len(pd.read_parquet(work / "out" / "scores" / "quickstart-ci-v1")) == 569
    assert (work / "data" / "train.csv").is_file()
    # %drift: the shifted feature, and only it, drifted; a real alert names it
    assert "drift of quickstart-ci-prod (quickstart-ci:1): DRIFT" in text
    assert "drifted: ['mean radius']" in text
    assert re.search(r"alert \d+: InAlert feature 'mean radius' drifted", text), text
    # %cost: real figures from the ledger (the job, the endpoint, the batch job)
    table = text[text.index("SageMaker") :]
    total = re.search(r"^total +(\d+) +([\d.]+) +\$ *([\d.]+) +\$ *([\d.]+)", table, re.M)
    assert total, table
    count, hours, sagemaker, vertex = total.groups()
    assert int(count) >= 3 and float(hours) > 0 and float(sagemaker) > 0 and float(vertex) > 0


def test_tour_runs_under_papermill(home: Path, tmp_path: Path) -> None:
    papermill.execute_notebook(
        str(NOTEBOOKS / "tour.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters={"prefix": "tour-ci"},
        cwd=str(tmp_path),
        kernel_name="python3",
        progress_bar=False,
    )
    text = _outputs(tmp_path / "out.ipynb")
    assert "LogisticRegression(C=0.2, max_iter=500)" in text
    assert "[algo-1] hello from rank 0 of 2 on algo-1" in text
    assert "[algo-2] hello from rank 1 of 2 on algo-2" in text
    assert "{'depth': 3.0}" in text
    assert "Failed - ValueError: column target is missing" in text and "checking the data" in text
    assert "'Dockerfile', 'code', 'manifest.json', 'requirements.txt'" in text


def _run_cells(directory: Path, *sources: str) -> papermill.PapermillExecutionError:
    """Write a notebook of ``sources``, run it under papermill, and return the error it fails with."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, directory / "in.ipynb")
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(directory / "in.ipynb"),
            str(directory / "out.ipynb"),
            cwd=str(directory),
            progress_bar=False,
        )
    return err.value


def test_a_failed_job_fails_the_papermill_run(home: Path, tmp_path: Path) -> None:
    error = _run_cells(
        tmp_path,
        "%load_ext jupyter_serverless_ml",
        "%%train --name doomed\nraise RuntimeError('data is bad')",
        "print('never reached')",
    )
    assert error.ename == "JobFailed" and "RuntimeError: data is bad" in error.evalue
    assert "never reached" not in _outputs(tmp_path / "out.ipynb")


def test_a_bad_magic_argument_fails_the_papermill_run(home: Path, tmp_path: Path) -> None:
    error = _run_cells(tmp_path, "%load_ext jupyter_serverless_ml", "%%train --hp C\npass")
    assert error.ename == "UsageError" and "--hp expects KEY=VALUE" in error.evalue


def test_notebook_directory_has_no_outputs_committed() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path
