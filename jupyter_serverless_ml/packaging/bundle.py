"""The bundle: what a job runs, content-addressed.

Layout of a bundle directory (its name is its hash)::

    code/jsml.json           mode, Python version, model variable, entry point
    code/jsml_cell.py        the cell's source            (cell mode)
    code/jsml_captured.py    imports + captured definitions
    code/jsml_values.pkl     captured values (cloudpickle)
    code/jsml_runtime/       the job runtime (runner, context, flavors)
    code/<module>.py         local modules the code imports
    code/<...>               the source directory          (entry-point mode)
    requirements.txt         pinned from the kernel's distributions
    Dockerfile               builds an image that runs the bundle
    manifest.json            hash, created-at, what was captured and why

The hash covers every file but the manifest and the Dockerfile (derived from the
hash and its template), so the same inputs give the same hash and a second build
is a cache hit.
"""

from __future__ import annotations

import compileall
import hashlib
import html
import json
import os
import platform
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..display import html_table, text_table
from ..errors import UsageError
from ..options import format_size
from ..runtime import RUNTIME_DIR
from . import dockerfile, requirements
from .capture import DEFAULT_MAX_VALUE_BYTES, capture
from .freevars import channel_literals, imported_modules

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Bundle:
    """A built bundle on disk."""

    path: Path
    manifest: dict[str, Any]
    cache_hit: bool = False

    @property
    def hash(self) -> str:
        """The content hash (sha256 hex)."""
        return str(self.manifest["hash"])

    @property
    def requirements(self) -> list[str]:
        """The pinned requirements."""
        return list(self.manifest["requirements"])

    @property
    def captured(self) -> list[dict[str, Any]]:
        """What was captured from the notebook, and why."""
        return list(self.manifest.get("captured", []))

    def export(self, directory: str | Path) -> Path:
        """Copy the bundle as a Docker build context into ``directory``."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(
            self.path, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
        return target

    def _rows(self) -> list[list[Any]]:
        return [
            [c["name"], c["kind"], c["reason"], c["detail"], format_size(c.get("size"))]
            for c in self.captured
        ]

    def __repr__(self) -> str:
        lines = [
            f"Bundle {self.hash[:12]} ({self.manifest.get('mode')}, Python "
            f"{self.manifest.get('python_version')}) at {self.path}"
        ]
        if self.captured:
            lines += [
                "captured from the notebook:",
                text_table(("name", "how", "why", "what", "size"), self._rows()),
            ]
        lines.append("requirements: " + (", ".join(self.requirements) or "none"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            f"<b>Bundle</b> <code>{self.hash[:12]}</code> ({self.manifest.get('mode')}, "
            f"Python {self.manifest.get('python_version')})"
        )
        table = (
            html_table(("name", "how", "why", "what", "size"), self._rows())
            if self.captured
            else ""
        )
        reqs = html.escape(", ".join(self.requirements) or "none")
        return f"{head}{table}<div>requirements: <code>{reqs}</code></div>"


def load_bundle(path: str | Path) -> Bundle:
    """Open a bundle directory."""
    path = Path(path)
    return Bundle(path, json.loads((path / MANIFEST).read_text()))


def _content_hash(root: Path) -> str:
    """sha256 over every file but the manifest and the Dockerfile (derived from this hash and
    the template, whose text is hashed too, so a new template is a new bundle)."""
    digest = hashlib.sha256(dockerfile.TEMPLATE.encode() + b"\0")
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        if "__pycache__" in file.parts or file.name in (MANIFEST, "Dockerfile"):
            continue
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def _copy_runtime(code: Path) -> None:
    target = code / "jsml_runtime"
    target.mkdir(parents=True)
    for source in sorted(RUNTIME_DIR.glob("*.py")):
        shutil.copyfile(source, target / source.name)


def _finish(
    staging: Path,
    root: Path,
    manifest: dict[str, Any],
    user_requirements: Path | None,
    detected: list[str],
    framework: Iterable[str] = (),
) -> Bundle:
    """Write requirements, Dockerfile and manifest; move into ``root/<hash>`` (or reuse it).

    ``framework`` pins (a framework container's libraries) replace the detected pins of
    the same distributions; the user's requirements file still wins over both, as a
    ``requirements.txt`` installed into that container would."""
    user_lines = user_requirements.read_text().splitlines() if user_requirements else []
    reqs = requirements.merge(user_lines, requirements.merge(framework, detected))
    (staging / "requirements.txt").write_text("".join(line + "\n" for line in reqs))
    digest = _content_hash(staging)
    final = root / digest
    if not final.exists():
        (staging / "Dockerfile").write_text(dockerfile.render(digest))
        manifest.update(
            hash=digest,
            requirements=reqs,
            python_version=platform.python_version(),
            created_at=time.time(),
        )
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        compileall.compile_dir(staging / "code" / "jsml_runtime", quiet=1)  # sandbox is read-only
        try:
            os.rename(staging, final)
            return Bundle(final, manifest)
        except OSError:  # built concurrently by another client: theirs is identical
            pass
    shutil.rmtree(staging, ignore_errors=True)
    return Bundle(final, json.loads((final / MANIFEST).read_text()), cache_hit=True)


def _staging(root: Path) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".build-{uuid.uuid4().hex}"
    code = staging / "code"
    code.mkdir(parents=True)
    _copy_runtime(code)
    return staging, code


def _check_channels(sources: Iterable[str], channels: Iterable[str]) -> None:
    given = set(channels)
    for source in sources:
        for name in sorted(channel_literals(source) - given):
            listed = ", ".join(sorted(given)) or "none"
            raise UsageError(
                f"the code reads channel({name!r}) but no data channel {name!r} was given "
                f"(channels: {listed}); add --data {name}=PATH"
            )


def _copy_local_modules(code: Path, local: Mapping[str, Path]) -> list[str]:
    copied = []
    for name, path in sorted(local.items()):
        if path.is_dir():
            shutil.copytree(path, code / path.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(path, code / path.name)
        copied.append(name)
    return copied


def build_cell_bundle(
    source: str,
    namespace: Mapping[str, Any],
    root: Path,
    *,
    channels: Iterable[str] = (),
    model_var: str = "model",
    history: Iterable[str] = (),
    requirements_file: str | Path | None = None,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    job_config: Mapping[str, Any] | None = None,
    framework_requirements: Iterable[str] = (),
) -> Bundle:
    """Build (or reuse) the bundle for a cell ``source`` run against ``namespace``.

    ``job_config`` adds settings the runtime reads from ``jsml.json`` (instance type,
    metric definitions, hyperparameter argument style, framework);
    ``framework_requirements`` override the detected pins (see :func:`_finish`)."""
    if not source.strip():
        raise UsageError(
            "the %%train cell is empty; write the training code in the cell, "
            "or run an existing script with --entry-point train.py [--source-dir src/]"
        )
    req_path = _requirements_path(requirements_file)
    main_name = str(namespace.get("__name__", "__main__"))
    captured = capture(
        source, namespace, history=history, main_name=main_name, max_value_bytes=max_value_bytes
    )
    _check_channels(captured.sources, channels)
    staging, code = _staging(root)
    try:
        (code / "jsml_cell.py").write_text(source if source.endswith("\n") else source + "\n")
        (code / "jsml_captured.py").write_text(captured.captured_source())
        values = captured.pickled_values()
        if values is not None:
            (code / "jsml_values.pkl").write_bytes(values)
            captured.modules.add("cloudpickle")
        detected, local = requirements.pin(captured.modules)
        local_copied = _copy_local_modules(code, local)
        config = {
            "mode": "cell",
            "python": platform.python_version(),
            "model_var": model_var,
            "cell_file": "jsml_cell.py",
            "captured_file": "jsml_captured.py",
            "values_file": "jsml_values.pkl" if values is not None else None,
            **dict(job_config or {}),
        }
        (code / "jsml.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        manifest = {
            "mode": "cell",
            "model_var": model_var,
            "captured": [vars(r) for r in captured.records],
            "local_modules": local_copied,
        }
        return _finish(staging, root, manifest, req_path, detected, framework_requirements)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _requirements_path(requirements_file: str | Path | None) -> Path | None:
    if requirements_file is None:
        return None
    path = Path(requirements_file).expanduser()
    if not path.is_file():
        raise UsageError(
            f"--requirements {requirements_file}: no such file; give a pip requirements file"
        )
    return path


def build_entry_point_bundle(
    entry_point: str,
    root: Path,
    *,
    source_dir: str | Path | None = None,
    requirements_file: str | Path | None = None,
    job_config: Mapping[str, Any] | None = None,
    framework_requirements: Iterable[str] = (),
) -> Bundle:
    """Build (or reuse) the bundle for a script-mode ``entry_point`` (in ``source_dir``);
    ``job_config`` and ``framework_requirements`` as for :func:`build_cell_bundle`."""
    base = Path(source_dir).expanduser().resolve() if source_dir else Path.cwd()
    if source_dir and not base.is_dir():
        raise UsageError(f"--source-dir {source_dir}: no such directory")
    entry = base / entry_point
    if not entry.is_file():
        raise UsageError(
            f"--entry-point {entry_point}: no such file in {base}; give a script path relative to "
            "--source-dir (or to the current directory)"
        )
    if requirements_file is None and source_dir and (base / "requirements.txt").is_file():
        requirements_file = base / "requirements.txt"
    req_path = _requirements_path(requirements_file)
    staging, code = _staging(root)
    try:
        if source_dir:
            shutil.copytree(
                base,
                code,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", ".git", "*.pyc", ".ipynb_checkpoints"),
            )
        else:
            shutil.copyfile(entry, code / entry.name)
            entry_point = entry.name
        modules: set[str] = set()
        for script in code.rglob("*.py"):
            if "jsml_runtime" not in script.parts:
                try:
                    modules |= imported_modules(script.read_text(encoding="utf-8"))
                except (UsageError, UnicodeDecodeError):
                    continue
        local_names = {p.stem for p in code.iterdir()}
        detected, _ = requirements.pin(m for m in modules if m.split(".")[0] not in local_names)
        config = {
            "mode": "entry_point",
            "python": platform.python_version(),
            "entry_point": entry_point,
            **dict(job_config or {}),
        }
        (code / "jsml.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        manifest: dict[str, Any] = {
            "mode": "entry_point",
            "entry_point": entry_point,
            "source_dir": str(base) if source_dir else None,
            "captured": [],
        }
        return _finish(staging, root, manifest, req_path, detected, framework_requirements)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
