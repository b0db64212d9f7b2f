"""%deploy and friends in IPython, and the serving commands of the jsml CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_runner import jsml_cli

from jupyter_serverless_ml.batch import BatchJob
from jupyter_serverless_ml.errors import NotFound, UsageError
from jupyter_serverless_ml.serving import Endpoint, EndpointList


@pytest.fixture()
def fitted(ipython: Any) -> Any:
    ipython.run_cell(
        "import numpy as np\n"
        "from sklearn.linear_model import LinearRegression\n"
        "X = np.arange(20, dtype=float).reshape(10, 2)\n"
        "line_model = LinearRegression().fit(X, X[:, 0] * 3)\n"
    ).raise_error()
    return ipython


def test_deploy_a_kernel_variable_then_canary_traffic_rollback_undeploy(fitted: Any) -> None:
    shell = fitted
    ep = shell.run_line_magic("deploy", "line_model --as ep --min-replicas 1")
    assert isinstance(ep, Endpoint) and shell.user_ns["ep"] is ep and ep.name == "line-model"
    assert np.allclose(ep.predict([[2.0, 3.0]]), [6.0])
    listed = shell.run_line_magic("endpoints", "")
    assert isinstance(listed, EndpointList) and "line-model" in repr(listed)
    shell.run_cell("line_model2 = LinearRegression().fit(X, X[:, 0] * 5)").raise_error()
    shell.run_line_magic("deploy", "line_model2 --endpoint line-model --traffic 10")
    assert shell.run_line_magic("endpoint", "line-model").traffic == {"v1": 90.0, "v2": 10.0}
    assert shell.run_line_magic("traffic", "line-model v2=100").traffic == {"v1": 0.0, "v2": 100.0}
    assert shell.run_line_magic("rollback", "line-model").traffic == {"v1": 90.0, "v2": 10.0}
    shell.run_line_magic("undeploy", "line-model")
    with pytest.raises(NotFound):
        shell.run_line_magic("endpoint", "line-model")


def test_bad_serving_magic_arguments(fitted: Any) -> None:
    with pytest.raises(UsageError, match="did you mean --max-replicas"):
        fitted.run_line_magic("deploy", "line_model --maxreplicas 3")
    with pytest.raises(UsageError, match="--traffic goes with --endpoint"):
        fitted.run_line_magic("deploy", "line_model --traffic 10")
    with pytest.raises(UsageError, match="VARIANT=PERCENT"):
        fitted.run_line_magic("traffic", "line-model v2")
    with pytest.raises(UsageError, match="the following arguments are required: --output"):
        fitted.run_line_magic("batch_predict", "line-model data.parquet")


def test_batch_predict_magic(fitted: Any, tmp_path: Path) -> None:
    # line-model is registered by the test before: the kernel's line_model must be asked for
    fitted.run_line_magic("deploy", "line_model --from-variable --name batch-src").undeploy()
    pd.DataFrame({"a": [2.0, 4.0], "b": [3.0, 5.0]}).to_parquet(tmp_path / "in.parquet")
    job = fitted.run_line_magic(
        "batch_predict",
        f"line_model --from-variable {tmp_path / 'in.parquet'} --output {tmp_path / 'out'}",
    )
    assert isinstance(job, BatchJob) and job.record["status"] == "Completed"
    assert np.allclose(pd.read_parquet(tmp_path / "out").prediction, [6.0, 12.0])
    assert fitted.run_line_magic("batch_job", job.id).record["rows_done"] == 2


def test_cli_deploy_invoke_batch_undeploy(home: Path, tmp_path: Path) -> None:
    import cloudpickle
    import serving_models

    from jupyter_serverless_ml import serving

    cloudpickle.register_pickle_by_value(serving_models)
    serving.deploy(serving_models.Doubler(), name="cli-model").undeploy()
    deployed = jsml_cli(home, "deploy", "cli-model", "--name", "cli-ep", "--json")
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["status"] == "InService"
    assert "cli-ep" in jsml_cli(home, "endpoints").stdout
    (tmp_path / "req.json").write_text(json.dumps({"instances": [[4, 0]]}))
    invoked = jsml_cli(home, "invoke", "cli-ep", "--data", str(tmp_path / "req.json"))
    assert invoked.returncode == 0 and json.loads(invoked.stdout) == {"predictions": [8.0]}
    (tmp_path / "bad.json").write_text("[[1, 2, 3]]")
    bad = jsml_cli(home, "invoke", "cli-ep", "--data", str(tmp_path / "bad.json"))
    assert bad.returncode == 1 and "must have 2 features" in bad.stdout
    pd.DataFrame({"x": [1.0, 2.0], "y": [0.0, 0.0]}).to_csv(tmp_path / "in.csv", index=False)
    batch = jsml_cli(
        home,
        "batch",
        "cli-model",
        str(tmp_path / "in.csv"),
        "--output",
        str(tmp_path / "out"),
        "--format",
        "csv",
        "--json",
    )
    assert batch.returncode == 0, batch.stderr
    assert json.loads(batch.stdout)["rows_done"] == 2 and "rows/s" in batch.stderr
    assert jsml_cli(home, "undeploy", "cli-ep").stdout.startswith("undeployed cli-ep")
    missing = jsml_cli(home, "undeploy", "cli-ep")
    assert missing.returncode == 2 and "no endpoint 'cli-ep'" in missing.stderr


def test_serverless_is_refused_locally_before_anything_is_created(fitted: Any) -> None:
    with pytest.raises(UsageError, match="the local backend has no serverless endpoints"):
        fitted.run_line_magic(
            "deploy", "line_model --from-variable --name sl --serverless --memory 2048"
        )
    with pytest.raises(NotFound):
        fitted.run_line_magic("endpoint", "sl")
    assert fitted.run_line_magic("models", "sl") == []  # nothing registered either
