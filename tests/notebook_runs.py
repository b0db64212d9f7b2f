"""Run an example notebook under papermill (a real kernel process) and read what it printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import papermill

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def outputs(path: Path) -> str:
    """Every stream and ``text/plain`` output of the executed notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def run_notebook(name: str, workdir: Path, **parameters: Any) -> str:
    """Execute ``notebooks/<name>`` in ``workdir`` with ``parameters``; what it printed.

    The kernel inherits this process's environment (``JSML_HOME``, ``JSML_<BACKEND>_*``...).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"out-{name}"
    papermill.execute_notebook(
        str(NOTEBOOKS / name),
        str(out),
        parameters=parameters,
        cwd=str(workdir),
        kernel_name="python3",
        progress_bar=False,
    )
    return outputs(out)
