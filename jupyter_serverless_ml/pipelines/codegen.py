"""The cell a job step runs: load the upstream outputs, call the step's function, keep
its result. Generated here, then packaged like any ``%%train`` cell (the function and
what it uses are captured into the bundle; the bundle's hash is the step's code hash).

Inside the job an upstream output is a data channel named after the argument: a
function step's return value is ``return.pkl`` (cloudpickle) in it, a model is a
saved flavor directory (loaded with the runtime's ``flavors.load``). A function or
evaluate step writes its return value to ``$SM_OUTPUT_DATA_DIR/return.pkl`` (exported to
a cloud, where ``JSML_STEP_OUTPUT=model``, into the model directory, and an upstream
``model.tar.gz`` is unpacked first); an
evaluate step's ``{metric: number}`` is logged with ``log_metric``; a train step's
return value is the job's model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import UsageError

_PRELUDE = '''import pickle as _jsml_pickle
from pathlib import Path as _JsmlPath


def _jsml_unpack(_base):
    # exported to SageMaker, an upstream output arrives as its model.tar.gz
    _packed = _base / "model.tar.gz"
    if not _packed.is_file() or len(list(_base.iterdir())) != 1:
        return _base
    import tarfile as _jsml_tarfile
    import tempfile as _jsml_tempfile

    _target = _JsmlPath(_jsml_tempfile.mkdtemp(prefix="jsml-input-"))
    with _jsml_tarfile.open(_packed) as _fh:
        if hasattr(_jsml_tarfile, "data_filter"):
            _fh.extractall(_target, filter="data")
        else:  # an older Python: regular files and directories inside the target only
            for _member in _fh.getmembers():
                if (_member.isfile() or _member.isdir()) and not (
                    _member.name.startswith("/") or ".." in _member.name.split("/")
                ):
                    _fh.extract(_member, _target)
    return _target


def _jsml_load(_name, _is_model):
    _base = _jsml_unpack(_JsmlPath(channel(_name)))
    if _is_model:
        from jsml_runtime import flavors as _jsml_flavors

        return _jsml_flavors.load(_base)
    with open(_base / "return.pkl", "rb") as _fh:
        return _jsml_pickle.load(_fh)


'''

_SAVE = '''
import os as _jsml_os

import cloudpickle as _jsml_cloudpickle

_jsml_out = _JsmlPath(_jsml_os.environ.get("SM_OUTPUT_DATA_DIR") or "/opt/ml/output/data")
if _jsml_os.environ.get("JSML_STEP_OUTPUT") == "model":  # exported: the model artifact
    _jsml_out = _JsmlPath(_jsml_os.environ.get("SM_MODEL_DIR") or "/opt/ml/model")
_jsml_out.mkdir(parents=True, exist_ok=True)
with open(_jsml_out / "return.pkl", "wb") as _fh:
    _jsml_cloudpickle.dump(_jsml_result, _fh)
'''

_METRICS = '''
if not isinstance(_jsml_result, dict):
    raise TypeError(
        "an evaluate step returns {metric name: number}, not " + type(_jsml_result).__name__
    )
for _jsml_key, _jsml_value in _jsml_result.items():
    log_metric(str(_jsml_key), float(_jsml_value))
'''


def check_signature(
    fn: Callable[..., Any], kind: str, step: str, supplied: Iterable[str]
) -> None:
    """Refuse a function that cannot take what the step passes, or needs more."""
    if not inspect.isfunction(fn):
        raise UsageError(f"step {step!r}: a {kind} step takes a function, not {type(fn).__name__}")
    params = inspect.signature(fn).parameters
    given = list(supplied)
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = [name for name in given if name not in params]
        if unknown:
            raise UsageError(
                f"step {step!r}: {fn.__name__}() has no parameter {', '.join(unknown)}; "
                "inputs, params (and model for evaluate) are passed as keyword arguments"
            )
    missing = [
        name
        for name, p in params.items()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and name not in given
    ]
    if missing:
        raise UsageError(
            f"step {step!r}: {fn.__name__}() needs {', '.join(missing)}: pass them as "
            "inputs={NAME: step}, params={NAME: value} or give them defaults"
        )


def step_source(
    kind: str, fn_name: str, inputs: Mapping[str, bool], with_model: bool
) -> str:
    """The cell for a job step: ``inputs`` maps each argument to whether its upstream
    output is a model; ``with_model`` passes the ``model`` channel as ``model=``."""
    args = [f"    {arg!r}: _jsml_load({arg!r}, {is_model!r}),\n" for arg, is_model in inputs.items()]
    if with_model:
        args.append("    'model': _jsml_load('model', True),\n")
    source = _PRELUDE + "_jsml_args = {\n" + "".join(args) + "}\n"
    source += f"_jsml_result = {fn_name}(**_jsml_args, **hp.to_dict())\n"
    if kind == "train":
        return source + "model = _jsml_result\n"
    if kind == "evaluate":
        source += _METRICS
    return source + _SAVE


__all__ = ["check_signature", "step_source"]
