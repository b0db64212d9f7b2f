"""What a model is given: the matrix for a plain estimator whose features the frame holds in
order (no warning, the same predictions), the frame itself for anything that may read names."""

from __future__ import annotations

import warnings

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jupyter_serverless_ml.runtime import model_files

FRAME = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
TARGET = [0, 0, 1, 1]


def test_a_plain_estimator_gets_the_matrix_and_the_same_answers() -> None:
    model = LogisticRegression().fit(FRAME, TARGET)
    assert model_files._plain_array(model, FRAME) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = model_files.predict(model, FRAME, "predict_proba")
    assert (got == model.predict_proba(FRAME)).all()


def test_frames_stay_frames_where_names_may_matter() -> None:
    by_name = ColumnTransformer([("scale", StandardScaler(), ["b"])])
    pipeline = make_pipeline(by_name, LogisticRegression()).fit(FRAME, TARGET)
    assert model_files._plain_array(pipeline, FRAME) is None
    swapped = FRAME[["b", "a"]]
    model = LogisticRegression().fit(FRAME, TARGET)
    assert model_files._plain_array(model, swapped) is None  # scikit-learn says what is wrong
    texts = pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]})
    assert model_files._plain_array(model, texts) is None
    assert (model_files.predict(pipeline, FRAME) == pipeline.predict(FRAME)).all()
