"""SageMaker inference handler of a jupyter-serverless-ml model (``code/inference.py``).

The SageMaker framework serving containers (scikit-learn, XGBoost, PyTorch) load
``model_fn``/``input_fn``/``predict_fn``/``output_fn`` from here; the model is
read by its flavor with the bundle's runtime (``code/jsml_runtime``), and requests
are decoded exactly as a local endpoint decodes them: JSON (``instances``,
``inputs``, ``dataframe_split``, ``dataframe_records``), CSV without a header,
and JSON Lines (what batch transform sends with ``SplitType=Line``).

A request that does not fit the model is a 400 with the reason (the inference
toolkit's ``GenericInferenceToolkitError``), as a local endpoint answers.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsml_runtime import predict

METHOD_ENV = "JSML_METHOD"


class RequestError(ValueError):
    """A bad request: ``status_code`` 400 (the toolkit's own error class when installed)."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


try:  # the inference toolkit in SageMaker's containers maps this one to its status code
    from sagemaker_inference.errors import GenericInferenceToolkitError as _ToolkitError

    class _BadRequest(_ToolkitError, RequestError):
        def __init__(self, message: str) -> None:
            _ToolkitError.__init__(self, 400, message)
            RequestError.__init__(self, message)

except ImportError:  # pragma: no cover - outside a SageMaker container
    _BadRequest = RequestError  # type: ignore[misc,assignment]


def _kind(content_type: str | None) -> str:
    return (content_type or "application/json").split(";")[0].strip().lower()


def model_fn(model_dir: str) -> Any:
    """The model as a runtime Predictor (its signature decodes requests)."""
    return predict.Predictor(model_dir, os.environ.get(METHOD_ENV) or "predict")


def input_fn(body: Any, content_type: str) -> tuple[str, Any]:
    """Decode the body; a body that cannot be decoded is a 400."""
    data = body if isinstance(body, bytes) else str(body).encode()
    kind = _kind(content_type)
    try:
        if kind == "application/json":
            return "json", predict.loads(data)
        if kind == "text/csv":
            return "csv", data.decode("utf-8")
        if kind in ("application/jsonlines", "application/x-jsonlines"):
            return "records", [json.loads(line) for line in data.splitlines() if line.strip()]
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequest(f"the {kind} body cannot be read: {exc}") from None
    raise _BadRequest(
        f"content type {kind!r} is not supported; send application/json, text/csv or "
        "application/jsonlines"
    )


def predict_fn(data: tuple[str, Any], predictor: Any) -> list[Any]:
    """Predictions for the decoded rows; rows that do not fit the model are a 400."""
    kind, value = data
    try:
        if kind == "json":
            rows = predictor.rows_from_json(value)
        elif kind == "csv":
            rows = predictor.rows_from_csv(value)
        else:
            rows = predictor.frame(value)
    except predict.InputError as exc:
        raise _BadRequest(str(exc)) from None
    return list(predictor.to_list(predictor.predict(rows)))


def output_fn(prediction: list[Any], accept: str) -> tuple[str, str]:
    """``{"predictions": [...]}``, or one line per row for CSV and JSON Lines."""
    kind = _kind(accept)
    if kind == "text/csv":
        return predict.to_csv(prediction), "text/csv"
    if kind in ("application/jsonlines", "application/x-jsonlines"):
        return "".join(json.dumps(p) + "\n" for p in prediction), "application/jsonlines"
    return json.dumps({"predictions": prediction}), "application/json"
