"""A model holding classes and functions defined in the notebook serves everywhere it loads.

The everyday case: a Pipeline with a custom transformer class (and a
``FunctionTransformer`` of a notebook function) trained in a ``%%train`` cell.
Pickled by reference, the model only loads where ``__main__`` defines them;
saved by value, it loads in the kernel, in replicas and in batch workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.runtime import flavors

DEFINITIONS = '''
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

class Scaler(BaseEstimator, TransformerMixin):
    """Scales every feature by its training maximum."""
    def fit(self, X, y=None):
        self.top_ = np.asarray(X, dtype=float).max(axis=0)
        return self
    def transform(self, X):
        return np.asarray(X, dtype=float) / self.top_

def squash(X):
    return np.tanh(X)
'''

CELL = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
df = pd.read_csv(channel("train"))
features = df[["mean radius", "mean texture"]]
model = make_pipeline(Scaler(), FunctionTransformer(squash), LogisticRegression()).fit(
    features, df["target"]
)
"""


def test_a_pipeline_with_notebook_classes_trains_loads_deploys_and_batch_predicts(
    ipython: Any, cancer_csv: Path, tmp_path: Path
) -> None:
    ipython.run_cell(DEFINITIONS).raise_error()
    job = ipython.run_cell_magic("train", f"--name notebook-code --data train={cancer_csv}", CELL)
    assert job.status == "Completed", job.failure_reason
    meta = flavors.describe(Path(jsml.model("notebook-code").record.uri.removeprefix("file://")))
    assert "Scaler" in meta["pickled_by_value"] or "squash" in meta["pickled_by_value"]
    frame = pd.read_csv(cancer_csv)[["mean radius", "mean texture"]]
    local = job.model().predict(frame.head(20))
    ep = ipython.run_line_magic("deploy", "notebook-code --name notebook-code")
    assert np.array_equal(ep.predict(frame.head(20)), local)
    ep.undeploy()
    data = tmp_path / "rows.csv"
    frame.head(50).to_csv(data, index=False)
    batch = jsml.batch_predict("notebook-code", data, output=tmp_path / "out", workers=1)
    assert batch.status == "Completed", batch.record
    out = pd.read_parquet(tmp_path / "out")
    assert len(out) == 50
    assert np.array_equal(out.iloc[:20, -1].to_numpy(), local)


def test_a_model_without_notebook_code_is_still_a_plain_joblib_file(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    meta = flavors.save(model, tmp_path)
    assert "pickled_by_value" not in meta
    assert flavors.notebook_definitions(model) is None


@pytest.mark.parametrize("kind", ["class", "function", "lambda"])
def test_notebook_definitions_are_found_wherever_they_hide(kind: str) -> None:
    import sys
    import types

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    main = types.ModuleType("__main__")
    exec(DEFINITIONS, main.__dict__)
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = main
    try:
        step = {
            "class": main.Scaler(),
            "function": FunctionTransformer(main.squash),
            "lambda": FunctionTransformer(lambda x: x),
        }[kind]
        assert flavors.notebook_definitions(make_pipeline(step)) is not None
    finally:
        sys.modules["__main__"] = saved
