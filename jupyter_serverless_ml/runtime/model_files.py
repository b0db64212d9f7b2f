"""Model artifacts as the clouds' serving containers find them, and predicting with them.

A model directory a script filled itself (SageMaker's ``/opt/ml/model``, Vertex's
``AIP_MODEL_DIR``) holds one of the files the framework containers load:
``model.joblib``, ``model.pkl`` (scikit-learn, and Vertex's prebuilt containers),
``xgboost-model`` (SageMaker's XGBoost container: a pickled Booster or the native
format), ``model.bst``/``model.json``/``model.ubj`` (XGBoost), ``model.txt``
(LightGBM), ``model.pth``/``model.pt`` (a whole PyTorch module; a ``state_dict``
needs an inference script with ``model_fn``). Each is loaded the way its container
does, and :func:`predict` feeds a model the input type it takes (a Booster gets a
``DMatrix``).
"""

from __future__ import annotations

import json
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

#: File names the containers load, in the order they look for them.
KNOWN_FILES: tuple[tuple[str, str], ...] = (
    ("model.joblib", "joblib"),
    ("model.pkl", "pickle"),
    ("model.pickle", "pickle"),
    ("xgboost-model", "xgboost-model"),
    ("model.bst", "xgboost"),
    ("model.ubj", "xgboost"),
    ("model.json", "xgboost"),
    ("model.txt", "lightgbm"),
    ("model.pth", "torch"),
    ("model.pt", "torch"),
)
_SUFFIXES = {".joblib": "joblib", ".pkl": "pickle", ".pickle": "pickle"}


class ModelFormatError(ValueError):
    """The model directory holds nothing this platform (or the clouds' containers) can load."""


def find(directory: Path, files: list[str] | None = None) -> tuple[Path, str] | None:
    """The artifact a framework container would load from ``directory``, with its kind."""
    names = files if files is not None else [p.name for p in directory.iterdir() if p.is_file()]
    present = set(names)
    for name, kind in KNOWN_FILES:
        if name in present and (directory / name).is_file():
            return directory / name, kind
    pickles = [n for n in names if Path(n).suffix in _SUFFIXES]
    if len(pickles) == 1:
        return directory / pickles[0], _SUFFIXES[Path(pickles[0]).suffix]
    return None


def unsupported(directory: Path, files: list[str]) -> ModelFormatError:
    """The error for a directory holding no loadable artifact, naming what it holds."""
    shown = ", ".join(sorted(files)[:8]) or "nothing"
    return ModelFormatError(
        f"the model directory holds {shown}: no file the serving containers load. Save the "
        "model as model.joblib or model.pkl (scikit-learn), xgboost-model, model.bst, "
        "model.json or model.ubj (XGBoost), model.txt (LightGBM), or model.pth (a whole "
        "PyTorch module); or deploy with --inference-script FILE whose model_fn loads it"
    )


def load_joblib(path: Path, mmap: bool = False) -> Any:
    """``joblib.load``; with ``mmap`` the NumPy arrays of an uncompressed file are mapped
    read-only from it (``mmap_mode="r"``), so every process serving it shares their pages
    through the page cache. A compressed file is read as usual."""
    import joblib

    if not mmap:
        return joblib.load(path)
    with warnings.catch_warnings():  # "not compatible with compressed file": read as usual
        warnings.simplefilter("ignore")
        return joblib.load(path, mmap_mode="r")


def load(path: Path, kind: str, mmap: bool = False) -> Any:
    """Load one artifact as its framework container does (``mmap``: see :func:`load_joblib`).

    XGBoost and LightGBM copy a model into their own native buffers whatever they read
    it from, so only joblib's NumPy arrays can be memory-mapped; replicas forked from a
    template share the rest copy-on-write."""
    if kind == "joblib":
        return load_joblib(path, mmap)
    if kind == "pickle":
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except (pickle.UnpicklingError, KeyError, ValueError, EOFError):
            import joblib  # joblib.dump(model, "model.pkl") is common too

            return joblib.load(path)
    if kind == "xgboost-model":
        try:  # SageMaker's XGBoost container: a pickled Booster, else the native format
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except Exception:
            return _booster(path)
    if kind == "xgboost":
        if path.suffix == ".json" and not _is_xgboost_json(path):
            raise ModelFormatError(f"{path.name} is not an XGBoost model (no 'learner' key)")
        return _booster(path)
    if kind == "lightgbm":
        import lightgbm

        return lightgbm.Booster(model_file=str(path))
    if kind == "torch":
        try:
            import torch
        except ImportError:
            raise ModelFormatError(
                f"{path.name} needs PyTorch, which the serving environment lacks; train with "
                "torch installed, or deploy with --inference-script FILE whose model_fn loads it"
            ) from None
        try:
            model = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # not a file torch.save wrote (a plain pickle, weights...)
            raise ModelFormatError(
                f"{path.name} cannot be loaded with torch.load ({type(exc).__name__}: {exc}); "
                "serve it with an inference script whose model_fn loads it (%deploy MODEL "
                "--inference-script inference.py)"
            ) from None
        if not isinstance(model, torch.nn.Module):
            raise ModelFormatError(
                f"{path.name} holds a {type(model).__name__} (a state_dict?), not a module: "
                "PyTorch weights need model_fn in an inference script (%deploy MODEL "
                "--inference-script inference.py) that builds the network and loads them"
            )
        return model.eval()
    raise ModelFormatError(f"unknown artifact kind {kind!r}")


def _booster(path: Path) -> Any:
    import xgboost

    booster = xgboost.Booster()
    if path.suffix in (".json", ".ubj"):
        booster.load_model(str(path))
    else:  # xgboost-model, model.bst: the format is read from the bytes (JSON, UBJSON, binary)
        booster.load_model(bytearray(path.read_bytes()))
    return booster


def _is_xgboost_json(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and "learner" in head


def _class_is(model: Any, module: str, name: str) -> bool:
    cls = type(model)
    return cls.__name__ == name and cls.__module__.split(".")[0] == module


def is_xgboost_booster(model: Any) -> bool:
    """Whether ``model`` is XGBoost's learning API Booster (it predicts on a DMatrix)."""
    return _class_is(model, "xgboost", "Booster")


def is_booster(model: Any) -> bool:
    """An XGBoost or LightGBM Booster (``predict`` returns scores or probabilities)."""
    return is_xgboost_booster(model) or _class_is(model, "lightgbm", "Booster")


def is_torch_module(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` (without importing torch)."""
    nn = sys.modules.get("torch.nn")
    return nn is not None and isinstance(model, nn.Module)


def n_features(model: Any) -> int | None:
    """How many features ``model`` takes, when it says."""
    count = getattr(model, "n_features_in_", None)
    if isinstance(count, int):
        return count
    for method in ("num_features", "num_feature"):  # XGBoost, LightGBM Boosters
        if is_booster(model) and callable(getattr(model, method, None)):
            try:
                return int(getattr(model, method)())
            except Exception:
                return None
    return None


def predict(model: Any, inputs: Any, method: str = "predict") -> Any:
    """Predictions of ``model`` for ``inputs`` (an array or a DataFrame), in the input type
    it takes: a DMatrix for an XGBoost Booster, a float tensor for a PyTorch module."""
    if is_xgboost_booster(model):
        import xgboost

        if getattr(model, "feature_names", None) is None and hasattr(inputs, "to_numpy"):
            inputs = inputs.to_numpy()
        return model.predict(xgboost.DMatrix(inputs))
    if is_torch_module(model):
        import torch

        with torch.no_grad():
            values = inputs.to_numpy() if hasattr(inputs, "to_numpy") else inputs
            return model(torch.as_tensor(values, dtype=torch.float32)).numpy()
    if is_booster(model):  # LightGBM: scores, or probabilities for classifiers
        return model.predict(inputs)
    values = _plain_array(model, inputs)
    if values is None:
        return getattr(model, method)(inputs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        return getattr(model, method)(values)


#: scikit-learn estimators that only compute on the feature matrix (not a Pipeline or a
#: ColumnTransformer, which may select columns by name)
_PLAIN_SKLEARN = (
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.svm",
    "sklearn.neighbors",
    "sklearn.naive_bayes",
    "sklearn.discriminant_analysis",
    "sklearn.neural_network",
    "sklearn.kernel_ridge",
    "sklearn.dummy",
)


def takes_matrix(model: Any, columns: list[str] | None) -> bool:
    """True when ``model`` is a plain scikit-learn estimator that reads the same numbers
    from a float matrix as from a frame of ``columns`` (its fitted feature names, in order,
    or none): the serving codec can then skip building a DataFrame."""
    if not type(model).__module__.startswith(_PLAIN_SKLEARN):
        return False
    names = getattr(model, "feature_names_in_", None)
    return names is None or (columns is not None and list(names) == list(columns))


def _plain_array(model: Any, inputs: Any) -> Any:
    """The matrix to give a plain scikit-learn estimator in place of ``inputs`` (a frame
    holding its fitted features in order, or already a matrix), else None: scikit-learn's
    DataFrame checks cost about 0.5 ms a call, the prediction itself tens of microseconds.
    Anything else (a Pipeline, other columns, object dtypes) gets its input as it is."""
    if not type(model).__module__.startswith(_PLAIN_SKLEARN):
        return None
    if not hasattr(inputs, "columns"):
        return inputs if hasattr(inputs, "dtype") and inputs.dtype != object else None
    if not takes_matrix(model, [str(c) for c in inputs.columns]):
        return None
    values = inputs.to_numpy()
    return None if values.dtype == object else values


__all__ = [
    "KNOWN_FILES",
    "ModelFormatError",
    "find",
    "is_booster",
    "is_torch_module",
    "is_xgboost_booster",
    "load",
    "n_features",
    "predict",
    "unsupported",
]
