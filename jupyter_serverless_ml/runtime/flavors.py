"""Model flavors: how a trained object is saved to, and loaded from, a model directory.

A job's model directory holds the flavor's files plus ``jsml_model.json`` (flavor,
Python and library versions, class, input signature). Once registered, the metadata
lives beside the directory (``<version>.meta.json``), so the model directory holds
only what the training wrote; :func:`describe` reads either place. Flavors:
``sklearn`` (joblib), ``xgboost`` (native JSON), ``lightgbm`` (native text for
Boosters), ``pytorch`` (``torch.save``), ``pickle`` (cloudpickle, any picklable
object) and ``files`` (whatever the code wrote into the model directory itself,
loaded as the clouds' serving containers load it: see :mod:`.model_files`).

A model whose classes or functions were defined in the notebook (``__main__``: a
custom transformer in a Pipeline, ``FunctionTransformer(func)``) is pickled with
cloudpickle, which stores those definitions by value, so it loads wherever it is
served (replicas, batch workers, an exported image) without the notebook.
"""

from __future__ import annotations

import importlib
import json
import pickle
import platform
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import model_files

META_FILE = "jsml_model.json"
META_SUFFIX = ".meta.json"
_DISTS = {
    "sklearn": "scikit-learn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "torch": "torch",
    "cloudpickle": "cloudpickle",
    "numpy": "numpy",
    "pandas": "pandas",
}


def _version(module: str) -> str | None:
    """The installed version of ``module``'s distribution (``__version__`` when it has one)."""
    version = getattr(sys.modules.get(module), "__version__", None)
    if isinstance(version, str):
        return version
    from importlib import metadata  # costs ~30 ms to import: only when needed

    try:
        return metadata.version(_DISTS.get(module, module))
    except metadata.PackageNotFoundError:
        return None


def _is_instance(obj: Any, module: str, qualname: str) -> bool:
    mod = sys.modules.get(module)
    cls = getattr(mod, qualname, None) if mod else None
    return isinstance(cls, type) and isinstance(obj, cls)


def detect(model: Any) -> str:
    """The flavor that fits ``model``."""
    top = type(model).__module__.split(".")[0]
    if top == "xgboost":
        return "xgboost"
    if top == "lightgbm" and _is_instance(model, "lightgbm", "Booster"):
        return "lightgbm"
    if _is_instance(model, "torch.nn", "Module"):
        return "pytorch"
    if top in ("sklearn", "lightgbm") or _is_instance(model, "sklearn.base", "BaseEstimator"):
        return "sklearn"
    return "pickle"


def _class_path(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


class _Found(Exception):
    pass


def _defined_here(obj: Any) -> bool:
    """Whether pickle could not find ``obj`` (a class or function) by its module and name
    where the model is loaded: defined in ``__main__`` (a notebook, a job's cell) or in a
    module that is not importable."""
    module_name = getattr(obj, "__module__", None)
    if not module_name or module_name == "__main__":
        return True
    found: Any = sys.modules.get(module_name)
    if found is None:
        return True
    for part in str(getattr(obj, "__qualname__", "")).split("."):
        found = getattr(found, part, None)
    return found is not obj


class _Scanner(pickle.Pickler):
    """Pickles to nowhere, stopping at the first notebook-defined class or function."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (type, types.FunctionType)) and _defined_here(obj):
            raise _Found(f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}")
        return NotImplemented


class _Sink:
    def write(self, data: Any) -> int:
        return len(data)


def notebook_definitions(model: Any) -> str | None:
    """The first class or function ``model`` refers to that only exists where it was
    defined (so must be pickled by value); None when everything pickles by reference."""
    try:
        _Scanner(_Sink(), protocol=pickle.HIGHEST_PROTOCOL).dump(model)
    except _Found as found:
        return str(found)
    except Exception as exc:  # plain pickle fails (a lambda, a local class): cloudpickle can
        return f"an object plain pickle refuses ({type(exc).__name__})"
    return None


def save(
    model: Any, directory: str | Path, signature: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Save ``model`` into ``directory`` by its flavor; returns the metadata written."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    flavor = detect(model)
    libraries: dict[str, str | None] = {}
    by_value = notebook_definitions(model) if flavor in ("sklearn", "pytorch") else None
    if flavor == "sklearn":
        import joblib

        if by_value:  # joblib.load reads it (with cloudpickle installed where it loads)
            import cloudpickle

            with open(path / "model.joblib", "wb") as fh:
                cloudpickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
            libraries["cloudpickle"] = _version("cloudpickle")
        else:
            joblib.dump(model, path / "model.joblib")
        files = ["model.joblib"]
        libraries.update({"scikit-learn": _version("sklearn"), "joblib": _version("joblib")})
        top = type(model).__module__.split(".")[0]
        if top not in ("sklearn", "__main__"):
            libraries[top] = _version(top)
    elif flavor == "xgboost":
        model.save_model(str(path / "model.json"))
        files, libraries = ["model.json"], {"xgboost": _version("xgboost")}
    elif flavor == "lightgbm":
        model.save_model(str(path / "model.txt"))
        files, libraries = ["model.txt"], {"lightgbm": _version("lightgbm")}
    elif flavor == "pytorch":
        import torch

        if by_value:
            import cloudpickle

            torch.save(model, path / "model.pt", pickle_module=cloudpickle)
        else:
            torch.save(model, path / "model.pt")
        files, libraries = ["model.pt"], {"torch": _version("torch")}
        if by_value:
            libraries["cloudpickle"] = _version("cloudpickle")
    else:
        try:
            import cloudpickle as pickler
        except ImportError:  # pragma: no cover - cloudpickle is a dependency of every bundle
            import pickle as pickler
        with open(path / "model.pkl", "wb") as fh:
            pickler.dump(model, fh)
        files = ["model.pkl"]
        libraries = {"cloudpickle": _version("cloudpickle")}
    meta = {
        "flavor": flavor,
        "class": _class_path(model),
        "files": files,
        "python_version": platform.python_version(),
        "libraries": {k: v for k, v in libraries.items() if v},
        "signature": dict(signature) if signature else None,
    }
    if by_value:
        meta["pickled_by_value"] = by_value
    (path / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    return meta


def mark_files(directory: str | Path) -> dict[str, Any] | None:
    """Describe a model directory the code filled itself (flavor ``files``); None when empty."""
    path = Path(directory)
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    if not files:
        return None
    meta: dict[str, Any] = {
        "flavor": "files",
        "class": None,
        "files": files,
        "python_version": platform.python_version(),
        "libraries": {},
        "signature": None,
    }
    (path / META_FILE).write_text(json.dumps(meta, indent=2))
    return meta


def sibling_meta(directory: str | Path) -> Path:
    """Where a registered model's metadata lives: beside its directory, not inside it."""
    path = Path(directory)
    return path.with_name(path.name + META_SUFFIX)


def describe(directory: str | Path) -> dict[str, Any]:
    """The metadata of a model directory: beside it (a registered model), inside it (a
    job's model, or one registered before the metadata moved out), or, for a directory
    of files alone, what they are (flavor ``files``)."""
    path = Path(directory)
    for meta_path in (sibling_meta(path), path / META_FILE):
        if meta_path.is_file():
            return dict(json.loads(meta_path.read_text()))
    files = (
        sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else []
    )
    if not files:
        raise FileNotFoundError(f"{directory} holds no saved model ({META_FILE} missing)")
    return {"flavor": "files", "class": None, "files": files, "libraries": {}, "signature": None}


def load(directory: str | Path, strict: bool = False, mmap: bool = False) -> Any:
    """Load the model saved in ``directory`` with its flavor's loader.

    ``mmap`` (serving) maps the NumPy arrays of a joblib file read-only instead of
    reading them (:func:`.model_files.load_joblib`).

    A ``files`` model is loaded from the artifact the clouds' serving containers would
    load (:mod:`.model_files`); when there is none, its directory path is returned, or
    with ``strict`` (serving) a :class:`~.model_files.ModelFormatError` says what to save.
    """
    path = Path(directory)
    meta = describe(path)
    flavor = meta["flavor"]
    if flavor == "sklearn":
        return model_files.load_joblib(path / "model.joblib", mmap)
    if flavor == "xgboost":
        module, _, name = str(meta["class"]).rpartition(".")
        model = getattr(importlib.import_module(module), name)()
        model.load_model(str(path / "model.json"))
        return model
    if flavor == "lightgbm":
        import lightgbm

        return lightgbm.Booster(model_file=str(path / "model.txt"))
    if flavor == "pytorch":
        import torch

        return torch.load(path / "model.pt", weights_only=False)
    if flavor == "pickle":
        with open(path / "model.pkl", "rb") as fh:
            return pickle.load(fh)
    files = [str(f) for f in meta.get("files") or [] if f != META_FILE]
    found = model_files.find(path, files)
    if found is not None:
        return model_files.load(*found, mmap=mmap)
    if strict:
        raise model_files.unsupported(path, files)
    return path


def _json_safe(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def infer_signature(model: Any, namespace: Mapping[str, Any]) -> dict[str, Any] | None:
    """The model's input signature, sampled from training data found in ``namespace``.

    Uses ``feature_names_in_`` (a model fitted on a DataFrame) to find the frame
    it was fitted on and record column dtypes and a three-row example; else
    ``n_features_in_`` with the dtype of a matching array.
    """
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        columns = [str(c) for c in names]
        signature: dict[str, Any] = {"inputs": [{"name": c} for c in columns]}
        for value in namespace.values():
            cols = getattr(value, "columns", None)
            if cols is None or not hasattr(value, "dtypes"):
                continue
            try:
                if not set(columns) <= {str(c) for c in cols}:
                    continue
                frame = value[columns]
                signature["inputs"] = [{"name": c, "dtype": str(frame[c].dtype)} for c in columns]
                signature["example"] = [
                    {k: _json_safe(v) for k, v in row.items()}
                    for row in frame.head(3).to_dict(orient="records")
                ]
                break
            except Exception:  # a foreign object with a columns attribute: ignore it
                continue
        return signature
    count = getattr(model, "n_features_in_", None)
    if isinstance(count, int):
        signature = {"n_features": count}
        for value in namespace.values():
            shape = getattr(value, "shape", None)
            if isinstance(shape, tuple) and len(shape) == 2 and shape[1] == count:
                signature["dtype"] = str(getattr(value, "dtype", "")) or None
                break
        return signature
    return None
