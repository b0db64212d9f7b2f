"""Fixtures of the schedule tests: small notebooks (nbformat, a cell tagged ``parameters``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest


def write(path: Path, body: str, parameters: str = "value = 1\nfail = False\n") -> Path:
    """A notebook whose first cell is tagged ``parameters``."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


COUNTER = (
    "from pathlib import Path\n"
    "assert not fail, f'asked to fail with value={value}'\n"
    "out = Path('runs.txt')\n"
    "out.write_text(out.read_text() + f'{value}\\n' if out.exists() else f'{value}\\n')\n"
    "print('wrote', value)\n"
)


@pytest.fixture()
def make_notebook() -> Callable[..., Path]:
    """``make_notebook(path, body=COUNTER, parameters=...)`` writes a notebook and returns its path."""

    def make(
        path: Path, body: str = COUNTER, parameters: str = "value = 1\nfail = False\n"
    ) -> Path:
        return write(path, body, parameters)

    return make
