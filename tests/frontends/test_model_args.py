"""%deploy NAME says what it resolved: a kernel variable never silently shadows a registered model."""

from __future__ import annotations

from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.errors import UsageError


@pytest.fixture()
def shell(ipython: Any) -> Any:
    ipython.run_cell(
        "import numpy as np\n"
        "from sklearn.datasets import load_digits\n"
        "from sklearn.linear_model import LinearRegression\n"
        "X = np.arange(20, dtype=float).reshape(10, 2)\n"
    ).raise_error()
    return ipython


def test_a_dataset_is_not_a_model(shell: Any) -> None:
    shell.run_cell("bunch = load_digits()").raise_error()
    with pytest.raises(UsageError, match="bunch is a Bunch in this kernel, not a model"):
        shell.run_line_magic("deploy", "bunch")
    with pytest.raises(UsageError, match="is a Bunch, not a model"):
        shell.run_line_magic("deploy", "bunch --from-variable")
    with pytest.raises(UsageError, match="a Bunch is not a model"):
        jsml.deploy(shell.user_ns["bunch"], name="bunch")
    assert jsml.models("bunch") == []  # nothing was registered


def test_a_variable_that_is_not_a_model_leaves_the_registered_one(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_cell("digits = LinearRegression().fit(X, X[:, 0] * 3)").raise_error()
    first = shell.run_line_magic("deploy", "digits --min-replicas 0")
    assert "registering it as a new model version" in capsys.readouterr().out
    first.undeploy()
    shell.run_cell("digits = load_digits()").raise_error()
    ep = shell.run_line_magic("deploy", "digits --name digits-ep")
    out = capsys.readouterr().out
    assert "the kernel variable digits is a Bunch, not a model; using digits:1" in out
    assert ep.record.variants[0].model == "digits:1"
    ep.undeploy()


def test_a_model_both_in_the_kernel_and_registered_must_be_chosen(shell: Any) -> None:
    shell.run_cell("twice = LinearRegression().fit(X, X[:, 0] * 2)").raise_error()
    shell.run_line_magic("deploy", "twice").undeploy()  # registers twice:1
    shell.run_cell("twice = LinearRegression().fit(X, X[:, 0] * 5)").raise_error()
    with pytest.raises(UsageError, match=r"both a LinearRegression in this kernel and .*twice:1"):
        shell.run_line_magic("deploy", "twice")
    registered = shell.run_line_magic("deploy", "twice:1 --name twice-reg")
    assert registered.predict([[2.0, 3.0]])[0] == pytest.approx(4.0)
    registered.undeploy()
    kernel = shell.run_line_magic("deploy", "twice --from-variable --name twice-kernel")
    assert kernel.predict([[2.0, 3.0]])[0] == pytest.approx(10.0)
    assert kernel.record.variants[0].model == "twice-kernel:1"  # registered under --name
    kernel.undeploy()
