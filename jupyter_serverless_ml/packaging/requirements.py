"""Pinned requirements from the kernel's installed distributions."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

_PROVIDED = {"jsml_runtime", "jupyter_serverless_ml", "__main__", "__future__"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)")


@functools.lru_cache(maxsize=1)
def _module_index() -> dict[str, list[str]]:
    return {k: sorted(set(v)) for k, v in metadata.packages_distributions().items()}


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _owner(module: str, candidates: list[str]) -> list[str]:
    """Narrow the distributions sharing a namespace package to the one holding ``module``."""
    mod = sys.modules.get(module)
    origin = getattr(mod, "__file__", None)
    if not origin:
        return candidates
    for dist_name in candidates:
        dist = metadata.distribution(dist_name)
        root = Path(str(dist.locate_file("")))
        if any(Path(str(root / f)) == Path(origin) for f in dist.files or ()):
            return [dist_name]
    return candidates


def local_module_path(module: str) -> Path | None:
    """The file or package directory of a module that no distribution provides (local code)."""
    top = module.split(".")[0]
    mod = sys.modules.get(top)
    origin = getattr(mod, "__file__", None)
    if origin is None:
        return None
    path = Path(origin)
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return None
    return path.parent if path.name == "__init__.py" else path


def pin(modules: Iterable[str]) -> tuple[list[str], dict[str, Path]]:
    """Requirements (``dist==version``) for ``modules``, and local modules to copy into the bundle."""
    index = _module_index()
    pins: dict[str, str] = {}
    local: dict[str, Path] = {}
    for module in sorted(set(modules)):
        top = module.split(".")[0]
        if not top or top in sys.stdlib_module_names or top in _PROVIDED:
            continue
        dists = index.get(top)
        if not dists:
            path = local_module_path(module)
            if path is not None:
                local[top] = path
            continue
        if len(dists) > 1:
            dists = _owner(module, dists)
            if len(dists) > 1:
                continue  # a namespace package: a deeper import names the distribution
        for dist in dists:
            try:
                pins[canonical(dist)] = f"{canonical(dist)}=={metadata.version(dist)}"
            except metadata.PackageNotFoundError:
                continue
    return sorted(pins.values()), local


def requirement_name(line: str) -> str | None:
    """The canonical distribution name a requirements line names, or None for comments/options."""
    if line.strip().startswith(("#", "-")):
        return None
    match = _NAME.match(line)
    return canonical(match.group(1)) if match else None


def merge(user_lines: Iterable[str], detected: Iterable[str]) -> list[str]:
    """The user's requirements, then detected pins for distributions the user did not name."""
    user = [line.rstrip() for line in user_lines if line.strip()]
    named = {requirement_name(line) for line in user}
    return user + [d for d in detected if requirement_name(d) not in named]
