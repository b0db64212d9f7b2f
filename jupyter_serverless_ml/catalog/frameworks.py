"""SageMaker framework containers: which library versions ``--framework NAME==VERSION`` means.

The table is package data (``frameworks.json``), each entry with the page its
versions come from. A job run with ``--framework sklearn==1.2-1`` gets an
isolated uv environment whose pins for those libraries are the container's
(they replace the versions detected in the kernel), plus the container's
toolkits that are on PyPI (``sagemaker-training``, ``sagemaker-inference``), so
scripts that import them run.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

DATA_FILE = Path(__file__).with_name("frameworks.json")


@dataclass(frozen=True)
class Framework:
    """One framework container version."""

    name: str
    version: str
    python: str
    requirements: tuple[str, ...]
    toolkits: tuple[str, ...]
    image: str
    source: str

    @property
    def spec(self) -> str:
        """``name==version`` as the option takes it."""
        return f"{self.name}=={self.version}"

    def pins(self) -> list[str]:
        """The requirement lines the bundle gets: the libraries, then the toolkits."""
        return [*self.requirements, *self.toolkits]

    def to_config(self) -> dict[str, Any]:
        """What the bundle's ``jsml.json`` records about it."""
        return {"name": self.name, "version": self.version, "image": self.image}


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    return dict(json.loads(DATA_FILE.read_text())["frameworks"])


def known() -> list[str]:
    """Every ``name==version`` the table knows."""
    return [f"{name}=={v}" for name, entry in _table().items() for v in entry["versions"]]


def framework(spec: str) -> Framework:
    """Look up ``NAME==VERSION`` (``sklearn==1.2-1``); anything else is a UsageError listing
    the known ones."""
    name, sep, version = spec.partition("==")
    name = name.strip().lower()
    table = _table()
    for key, entry in table.items():
        if name == key or name in entry.get("aliases", []):
            name = key
            break
    entry = table.get(name)
    if not sep or entry is None or version.strip() not in entry["versions"]:
        raise UsageError(
            f"--framework {spec!r} is not a framework container this version knows; "
            f"use one of: {', '.join(known())}"
        )
    version = version.strip()
    item = entry["versions"][version]
    return Framework(
        name=name,
        version=version,
        python=str(item["python"]),
        requirements=tuple(item["requirements"]),
        toolkits=tuple(item.get("toolkits", ())),
        image=str(item.get("image", "")),
        source=str(item["source"]),
    )
