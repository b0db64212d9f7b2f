"""The package's version: the installed distribution's, which hatch reads from
``labextension/package.json`` (one version for the Python package and the extension)."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path


def _version() -> str:
    try:
        return metadata.version("jupyter-serverless-ml")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        package_json = Path(__file__).resolve().parent.parent / "labextension" / "package.json"
        try:
            return str(json.loads(package_json.read_text())["version"])
        except (OSError, ValueError, KeyError):
            return "0+unknown"


__version__ = _version()
