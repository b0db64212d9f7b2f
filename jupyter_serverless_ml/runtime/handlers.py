"""Serving code written for the clouds: SageMaker inference handlers and Vertex AI
custom prediction routines, run inside the replica (so inside its sandbox).

SageMaker (as ``sagemaker-inference`` and the framework containers run them): the
script is imported as a module (its training code stays behind ``if __name__ ==
"__main__"``); ``model_fn(model_dir)`` loads the model, then each request goes
through ``transform_fn(model, body, content_type, accept)``, or ``input_fn(body,
content_type)`` -> ``predict_fn(data, model)`` -> ``output_fn(prediction, accept)``.
A handler a script leaves out gets the container's default: the model loaded as
the framework containers load it, the body decoded to a numpy array (JSON, CSV,
NPY; JSON and CSV as float32), ``model.predict`` (a DMatrix for a Booster), the
prediction encoded for ``Accept`` (JSON as a bare list). JSON and CSV bodies reach
the handlers as ``str``, others as ``bytes``; a handler may take a trailing
``context`` argument. A handler's result may be bytes, a str, or ``(body,
content_type)``.

Vertex AI: a ``Predictor`` class (``load(artifacts_uri)``, ``preprocess``,
``predict``, ``postprocess``) answers the Vertex route with what ``postprocess``
returns, as the prediction container of a custom prediction routine does.
"""

from __future__ import annotations

import csv
import importlib.util
import inspect
import io
import os
import sys
import types
from pathlib import Path
from typing import Any

from . import content, flavors, model_files
from .predict import InputError, loads

HANDLERS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")


class HandlerError(RuntimeError):
    """The inference code cannot be served (it does not import, or breaks the contract)."""


def import_script(code: dict[str, Any]) -> types.ModuleType:
    """Import the inference script ``code["script"]`` (relative to ``code["dir"]``, which
    goes on ``sys.path`` with the script's own directory, as the containers do)."""
    root = Path(str(code["dir"]))
    script = root / str(code["script"])
    for directory in (str(script.parent), str(root)):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    name = script.stem
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise HandlerError(f"cannot import {script.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise HandlerError(
            f"importing {script.name} exited (status {exc.code}): code that trains or parses "
            'arguments at import time must sit under `if __name__ == "__main__":`'
        ) from None
    return module


class Context:
    """What a handler taking a ``context`` argument gets (``system_properties``)."""

    def __init__(self, model_dir: str) -> None:
        self.system_properties = {"model_dir": model_dir, "gpu_id": None}


def _call(func: Any, context: Context, *args: Any) -> Any:
    """Call a handler with or without the trailing context, as the toolkit does."""
    try:
        count = len(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        count = len(args)
    if count == len(args) + 1:
        return func(*args, context)
    return func(*args)


def decode_default(data: str | bytes, content_type: str) -> Any:
    """The framework containers' default ``input_fn``: the body as a numpy array."""
    import numpy as np

    kind = content.request_type(content_type)
    if kind in (content.NPY, content.NPZ):
        return content.read_array(data if isinstance(data, bytes) else data.encode(), kind)
    text = data.decode() if isinstance(data, bytes) else data
    try:
        if kind == content.CSV:
            rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if r]
            return np.asarray(rows, dtype=np.float32)
        if kind == content.JSONLINES:
            return np.asarray([loads(line.encode()) for line in text.splitlines() if line.strip()])
        value = loads(text.encode())
        if isinstance(value, dict):
            value = value.get("instances", value.get("inputs", value))
        return np.asarray(value, dtype=np.float32)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"the {kind} body is not an array of numbers: {exc}") from None


def _body(result: Any, accept: str) -> tuple[str, bytes]:
    """(content type, bytes) of what a handler returned."""
    kind = accept
    if isinstance(result, tuple) and len(result) == 2:
        result, kind = result
    if isinstance(result, str):
        return str(kind), result.encode()
    if isinstance(result, (bytes, bytearray, memoryview)):
        return str(kind), bytes(result)
    return content.JSON, content.encode(result, content.JSON)


class InferenceHandlers:
    """A SageMaker inference script's handlers, with the containers' defaults."""

    def __init__(self, module: types.ModuleType, model_dir: str, method: str = "predict") -> None:
        found = {name: getattr(module, name, None) for name in HANDLERS}
        self.handlers = {k: v for k, v in found.items() if callable(v)}
        if "transform_fn" in self.handlers and {"input_fn", "predict_fn", "output_fn"} & set(
            self.handlers
        ):
            raise HandlerError(
                "the script defines transform_fn and input_fn/predict_fn/output_fn: use "
                "transform_fn alone, or the other three (as SageMaker requires)"
            )
        self.method = method
        self.context = Context(model_dir)
        model_fn = self.handlers.get("model_fn")
        self.model = (
            _call(model_fn, self.context, model_dir)
            if model_fn
            else flavors.load(model_dir, strict=True)
        )

    def invocations(self, content_type: str, accept: str, payload: bytes) -> tuple[str, bytes]:
        """Answer one request on the SageMaker route: (content type, body)."""
        wanted = accept if content.media(accept) not in ("", "*/*") else content.JSON
        data: str | bytes = payload
        if content.media(content_type) in (content.JSON, content.CSV):
            try:
                data = payload.decode()
            except UnicodeDecodeError as exc:
                raise InputError(f"the body is not UTF-8: {exc}") from None
        transform = self.handlers.get("transform_fn")
        if transform is not None:
            return _body(
                _call(transform, self.context, self.model, data, content_type, wanted), wanted
            )
        input_fn = self.handlers.get("input_fn")
        inputs = (
            _call(input_fn, self.context, data, content_type)
            if input_fn
            else decode_default(data, content_type)
        )
        prediction = self.predict(inputs)
        output_fn = self.handlers.get("output_fn")
        if output_fn is not None:
            return _body(_call(output_fn, self.context, prediction, wanted), wanted)
        kind = content.response_type(wanted)
        return kind, content.encode(prediction, kind)

    def predict(self, inputs: Any) -> Any:
        """``predict_fn(inputs, model)``, or the model's own prediction."""
        predict_fn = self.handlers.get("predict_fn")
        if predict_fn is not None:
            return _call(predict_fn, self.context, inputs, self.model)
        return model_files.predict(self.model, inputs, self.method)

    def vertex(self, request: Any) -> dict[str, Any]:
        """The Vertex route: ``instances`` through ``predict_fn``; ``{"predictions": ...}``."""
        import numpy as np

        instances = request["instances"]
        if instances and not isinstance(instances[0], dict):
            try:
                instances = np.asarray(instances, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise InputError(f"the instances are not rows of numbers: {exc}") from None
        prediction = self.predict(instances)
        values = prediction.tolist() if hasattr(prediction, "tolist") else prediction
        return {"predictions": values}


class PredictionRoutine:
    """A Vertex AI custom prediction routine's ``Predictor``, loaded from the model directory."""

    def __init__(self, cls: type, model_dir: str) -> None:
        self.predictor = cls()
        self.predictor.load(model_dir)

    def vertex(self, request: Any) -> dict[str, Any]:
        """``postprocess(predict(preprocess(request)))``; a result that is not an object is
        wrapped as ``{"predictions": ...}``."""
        p = self.predictor
        result = p.postprocess(p.predict(p.preprocess(request)))
        if isinstance(result, dict):
            return result
        return {"predictions": result.tolist() if hasattr(result, "tolist") else result}


def load_service(code: dict[str, Any], model_dir: str, method: str) -> Any:
    """The service for a replica whose spec names inference code."""
    os.environ.setdefault("SM_MODEL_DIR", model_dir)
    os.environ.setdefault("AIP_STORAGE_URI", model_dir)
    module = import_script(code)
    predictor = code.get("predictor")
    if predictor:
        cls = getattr(module, str(predictor), None)
        if not isinstance(cls, type):
            raise HandlerError(f"{code['script']} defines no class {predictor!r}")
        import tempfile

        # load() copies the artifacts into the working directory: give it its own
        os.chdir(tempfile.mkdtemp(prefix="jsml-predictor-"))
        return PredictionRoutine(cls, model_dir)
    return InferenceHandlers(module, model_dir, method)


__all__ = [
    "HANDLERS",
    "HandlerError",
    "InferenceHandlers",
    "PredictionRoutine",
    "decode_default",
    "import_script",
    "load_service",
]
