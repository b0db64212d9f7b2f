"""The job entry point: ``python -m jsml_runtime.runner`` inside the job's environment.

It reads the bundle's ``jsml.json`` from the code directory, checks the Python
version, runs the cell (with its captured values and definitions) or the
script-mode entry point, saves the model by its flavor into ``SM_MODEL_DIR``, and
on failure writes the reason to ``/opt/ml/output/failure`` (``SM_OUTPUT_DIR``)
and exits 1, as SageMaker and Vertex containers do.
"""

from __future__ import annotations

import json
import os
import platform
import runpy
import sys
import traceback
import types
from pathlib import Path
from typing import Any

from . import context, contract, flavors, metrics, toolkit

CONFIG_FILE = "jsml.json"
_ML_ROOT = Path("/opt/ml")


class BundleMismatch(RuntimeError):
    """The bundle was built for another Python than the one running it."""


def code_dir() -> Path:
    """The bundle's code directory (this package's parent)."""
    return Path(os.environ.get("JSML_CODE_DIR") or Path(__file__).resolve().parent.parent)


def _out_dir() -> Path:
    return Path(os.environ.get("SM_OUTPUT_DIR") or _ML_ROOT / "output")


def _model_dir() -> Path:
    return Path(os.environ.get("SM_MODEL_DIR") or _ML_ROOT / "model")


def check_python(config: dict[str, Any]) -> None:
    """Refuse to run a bundle whose pickled values were made by another major.minor Python
    (pickles only load on the same minor version). A bundle without pickled values (source,
    imports, an entry point) runs on any Python 3: a cloud's framework image need not match."""
    if not config.get("values_file"):
        return
    built = str(config.get("python", ""))
    here = platform.python_version()
    if built.split(".")[:2] != here.split(".")[:2]:
        raise BundleMismatch(
            f"the bundle was built with Python {built} but this environment runs {here}; "
            "captured values only load on the same minor version: run the job with a matching "
            "Python (for a Docker build, the Dockerfile's base image already matches)"
        )


def _main_module() -> types.ModuleType:
    """A fresh ``__main__`` for the cell, so pickling its classes by reference works."""
    module = types.ModuleType("__main__")
    module.__dict__.update(
        {name: getattr(context, name) for name in context.RUNTIME_NAMES}, __builtins__=__builtins__
    )
    sys.modules["__main__"] = module
    return module


def run_cell(config: dict[str, Any], code: Path) -> dict[str, Any]:
    """Run captured values, captured definitions and the cell; return the cell's namespace."""
    namespace = _main_module().__dict__
    values_file = config.get("values_file")
    if values_file:
        import pickle

        with open(code / values_file, "rb") as fh:
            namespace.update(pickle.load(fh))
    for key in ("captured_file", "cell_file"):
        name = config.get(key)
        if name:
            source = (code / name).read_text(encoding="utf-8")
            exec(compile(source, str(code / name), "exec"), namespace)
    return namespace


def hyperparameter_args(values: dict[str, Any], style: str = "toolkit") -> list[str]:
    """Hyperparameters as script-mode arguments, as the SageMaker training toolkit passes
    them (``style="json"``: as the SDK v3 ModelTrainer driver does); see :mod:`.toolkit`."""
    return toolkit.to_cmd_args(values, style)


def run_entry_point(config: dict[str, Any], code: Path) -> None:
    """Run a SageMaker/Vertex script-mode entry point unchanged, as ``__main__``."""
    entry = code / str(config["entry_point"])
    style = str(config.get("hp_args") or "toolkit")
    sys.argv = [str(entry), *hyperparameter_args(context.hp.to_dict(), style)]
    sys.path.insert(0, str(code))
    os.chdir(code)
    try:
        runpy.run_path(str(entry), run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise


def save_model(config: dict[str, Any], namespace: dict[str, Any]) -> None:
    """Save the cell's model variable by flavor, or describe files the code wrote itself."""
    if os.environ.get("RANK", "0") != "0":
        return
    directory = _model_dir()
    var = str(config.get("model_var") or "model")
    model = namespace.get(var)
    if model is not None:
        meta = flavors.save(model, directory, flavors.infer_signature(model, namespace))
        print(f"[jsml] saved {var} ({meta['class']}) as a {meta['flavor']} model", flush=True)
    elif flavors.mark_files(directory):
        print("[jsml] saved the files written to the model directory as the model", flush=True)
    elif config.get("mode") == "cell":
        print(
            f"[jsml] no variable {var!r} at the end of the cell: no model saved "
            "(name it with --model-var)",
            flush=True,
        )


def describe_failure(exc: BaseException) -> str:
    """The failure reason: ``Type: message`` then the traceback without runtime frames."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f"{os.sep}jsml_runtime{os.sep}" not in f.filename
        and f"{os.sep}runtime{os.sep}runner.py" not in f.filename
        and "<frozen" not in f.filename
    ]
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    tail = "".join(traceback.format_list(frames[-8:]))
    return f"{head}\n\nTraceback (most recent call last):\n{tail}{head}\n{_hint(exc)}"


def _hint(exc: BaseException) -> str:
    """Advice for failures that come from running away from the notebook."""
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return (
            f"hint: the job runs in {os.getcwd()} and sees the notebook's files only through data "
            f"channels: add --data NAME={exc.filename} and read channel('NAME') in the cell\n"
        )
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return (
            f"hint: {exc.name!r} is not installed in the job's environment; install it in the "
            "kernel (its version is then pinned into the bundle) or add it with --requirements\n"
        )
    return ""


def write_failure(reason: str) -> None:
    """Write the failure reason where the platform looks for it (first writer wins)."""
    path = _out_dir() / "failure"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(reason, encoding="utf-8")


def main() -> int:
    """Run the bundle; returns the process exit code."""
    contract.ensure_environment()
    code = code_dir()
    tap: metrics.LineTap | None = None
    try:
        config = json.loads((code / CONFIG_FILE).read_text())
        contract.complete_environment(config)
        tap = metrics.start(config.get("metric_definitions"))
        check_python(config)
        namespace: dict[str, Any] = {}
        if config.get("mode") == "entry_point":
            run_entry_point(config, code)
        else:
            namespace = run_cell(config, code)
        save_model(config, namespace)
    except BaseException as exc:  # everything, KeyboardInterrupt included, is a job failure
        reason = describe_failure(exc)
        write_failure(reason)
        sys.stderr.write(reason)
        sys.stderr.flush()
        if tap is not None:
            tap.stop()
        return 1
    sys.stdout.flush()
    if tap is not None:
        tap.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
