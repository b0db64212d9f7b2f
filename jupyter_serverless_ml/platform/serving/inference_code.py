"""Which inference code serves a model, staged where its replicas can read it.

SageMaker's framework containers serve a model with the handlers (``model_fn``,
``input_fn``, ``predict_fn``, ``output_fn``, ``transform_fn``) of an inference
script: the estimator's entry point when it defines them, or the script given to
the model. Vertex AI's custom prediction routines serve it with a ``Predictor``
class. The platform decides, at deploy, from what it recorded itself:

1. ``--inference-script FILE`` and/or ``--source-dir DIR`` (``FILE`` relative to
   ``DIR``; ``DIR`` alone: its ``inference.py``, else its one script defining
   handlers or a ``Predictor`` subclass), or ``--predictor MODULE:CLASS`` (in
   ``DIR``);
2. else the training job's entry point, when its source defines a handler (read
   with ``ast``, never run by the platform);
3. else none: the platform's own codec serves the model.

The code is copied, content-addressed, under ``artifacts/models/.code/<hash>/``
(beside the models, so the serving sandbox sees it read-only; the model
directory keeps only what the training wrote).
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ..store import Store

HANDLERS = frozenset({"model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn"})
MAX_CODE_BYTES = 50 << 20


def defined_names(script: Path) -> tuple[set[str], list[str]]:
    """(handler functions, ``Predictor`` subclasses) a script defines at top level."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), str(script))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set(), []
    handlers = {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in HANDLERS
    }
    predictors = [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(
            (isinstance(b, ast.Name) and b.id == "Predictor")
            or (isinstance(b, ast.Attribute) and b.attr == "Predictor")
            for b in node.bases
        )
    ]
    return handlers, predictors


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p in ("__pycache__", ".git", ".ipynb_checkpoints", "jsml_runtime") for p in parts):
            continue
        regular = path.is_file() and not path.is_symlink()
        if regular and path.suffix != ".pyc" and parts != ("jsml.json",):
            found.append(path)
    return found


def stage(code_root: Path, source: Path) -> Path:
    """Copy ``source`` (a directory, or one script) to the code store; returns its copy."""
    files = _files(source)
    total = sum(f.stat().st_size for f in files)
    if total > MAX_CODE_BYTES:
        raise UsageError(
            f"the inference code in {source} is {total >> 20} MB, over {MAX_CODE_BYTES >> 20} MB: "
            "give a --source-dir holding only the code (keep data and weights in the model)"
        )
    digest = hashlib.sha256()
    base = source if source.is_dir() else source.parent
    for path in files:
        digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    target = code_root / digest.hexdigest()[:24]
    if target.is_dir():
        return target
    staging = code_root / f".{target.name}.tmp{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for path in files:
        copy = staging / path.relative_to(base)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    try:
        os.replace(staging, target)
    except OSError:  # staged by another deploy at the same time
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _script_in(directory: Path) -> tuple[str, str | None]:
    """(script, Predictor class or None) to serve from a source directory given alone."""
    if (directory / "inference.py").is_file():
        handlers, predictors = defined_names(directory / "inference.py")
        return "inference.py", None if handlers or not predictors else predictors[0]
    serving, routines = [], []
    for script in sorted(directory.glob("*.py")):
        handlers, predictors = defined_names(script)
        if handlers:
            serving.append(script.name)
        elif predictors:
            routines.append((script.name, predictors[0]))
    if len(serving) == 1:
        return serving[0], None
    if not serving and len(routines) == 1:
        return routines[0]
    found = serving or [name for name, _ in routines]
    raise UsageError(
        f"--source-dir {directory}: "
        + (
            f"several scripts define handlers ({', '.join(found)})"
            if found
            else "no script defines model_fn/input_fn/predict_fn/output_fn/transform_fn "
            "or a Predictor class"
        )
        + "; name one with --inference-script FILE (or --predictor MODULE:CLASS)"
    )


def given(code_root: Path, request: dict[str, Any]) -> dict[str, Any] | None:
    """The code a deploy request names (``inference_script``, ``source_dir``, ``predictor``)."""
    script = request.get("inference_script")
    source_dir = request.get("source_dir")
    predictor = request.get("predictor")
    if not (script or source_dir or predictor):
        return None
    directory = Path(str(source_dir)).expanduser() if source_dir else None
    if directory is not None and not directory.is_dir():
        raise UsageError(f"--source-dir {source_dir}: no such directory")
    cls: str | None = None
    if predictor:
        module, sep, cls = str(predictor).partition(":")
        if not sep or not module or not cls:
            raise UsageError(
                f"--predictor {predictor}: write MODULE:CLASS, e.g. predictor:MyPredictor"
            )
        if script:
            raise UsageError("use --predictor MODULE:CLASS or --inference-script FILE, not both")
        script = module.replace(".", "/") + ".py"
    if directory is None:
        path = Path(str(script)).expanduser()
        if not path.is_file():
            raise UsageError(
                f"--{'predictor' if predictor else 'inference-script'} {predictor or script}: "
                f"no such file{' (give --source-dir DIR holding the module)' if predictor else ''}"
            )
        root, relative = stage(code_root, path), path.name
    else:
        if script:
            relative = str(script)
            if not (directory / relative).is_file():
                raise UsageError(f"{relative}: no such file in --source-dir {directory}")
        else:
            relative, cls = _script_in(directory)
        root = stage(code_root, directory)
    handlers, predictors = defined_names(root / relative)
    if cls is None and not handlers and predictors:
        cls = predictors[0]
    if cls is None and not handlers:
        raise UsageError(
            f"{relative} defines none of model_fn, input_fn, predict_fn, output_fn, transform_fn "
            "(SageMaker) nor a Predictor subclass (Vertex AI); define them at top level"
        )
    return {
        "dir": str(root),
        "script": relative,
        "predictor": cls,
        "handlers": sorted(handlers),
        "source": f"{'--predictor' if predictor else '--inference-script'} {relative}",
    }


def from_training(code_root: Path, store: Store, model: dict[str, Any]) -> dict[str, Any] | None:
    """The training job's entry point, when it defines inference handlers."""
    job = store.job(model["job_id"]) if model.get("job_id") else None
    spec = (job or {}).get("spec") or {}
    if spec.get("mode") != "entry_point" or not spec.get("entry_point"):
        return None
    code = Path(str(spec["bundle"])) / "code"
    entry = code / str(spec["entry_point"])
    handlers, _ = defined_names(entry)
    if not handlers or not entry.is_file():
        return None
    root = stage(code_root, code)
    return {
        "dir": str(root),
        "script": str(spec["entry_point"]),
        "predictor": None,
        "handlers": sorted(handlers),
        "source": f"the training entry point {spec['entry_point']}",
    }


def resolve(home: Path, store: Store, model: dict[str, Any], request: dict[str, Any]) -> Any:
    """The inference code for a deploy (see the module docstring), or None."""
    code_root = home / "artifacts" / "models" / ".code"
    return given(code_root, request) or from_training(code_root, store, model)


def describe(code: dict[str, Any]) -> str:
    """A sentence for the endpoint's events."""
    if code.get("predictor"):
        return f"served by the Vertex Predictor {code['predictor']} in {code['script']}"
    return f"served by {', '.join(code.get('handlers') or [])} from {code['source']}"


__all__ = ["HANDLERS", "defined_names", "describe", "from_training", "given", "resolve", "stage"]
