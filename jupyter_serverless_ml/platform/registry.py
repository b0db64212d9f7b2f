"""The model registry: versions of named models, copied under ``artifacts/models/<name>/<version>``.

The version's directory holds what the training wrote and nothing else: the
platform's metadata (``jsml_model.json`` in a job's model directory) is moved
beside it, to ``<version>.meta.json``, so a ``model_fn`` listing the directory
finds the training's own files.

A job that completes with a saved model registers it in the same transaction
that marks the job Completed (see :meth:`ModelRegistry.stage` and
:meth:`~.store.jobs.JobsStore.complete_job_with_model`); a model saved from a
kernel variable is registered on its own (:meth:`ModelRegistry.register`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import Conflict, NotFound, UsageError
from ..options import validate_name
from ..runtime.flavors import META_FILE, sibling_meta
from ..statuses import ModelApproval, ModelStage
from . import lineage
from .store import Store


def job_model_dir(job: dict[str, Any]) -> Path:
    """Where a job saves its model (its ``/opt/ml/model``)."""
    return Path(job["job_dir"]) / "ml" / "model"


def has_model(job: dict[str, Any]) -> bool:
    """Whether the job saved a model that can be registered."""
    return (job_model_dir(job) / META_FILE).exists()


class ModelRegistry:
    """Registers model versions and looks them up."""

    def __init__(self, home: Path, store: Store) -> None:
        self.store = store
        self.models_dir = home / "artifacts" / "models"

    def stage(
        self, name: str, source: Path, copy: Callable[[Path, Path], object] = shutil.copytree
    ) -> dict[str, Any]:
        """Copy a saved model directory to the registry as the next version of ``name``.

        Returns the model row to insert; the caller commits it (the copy alone
        registers nothing, and a later registration overwrites an uncommitted copy).
        """
        version = self.store.next_model_version(name)
        target = self.models_dir / name / str(version)
        if target.exists():  # left by a registration that crashed before it committed
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{version}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            copy(source, staging)
            metadata = json.loads((staging / META_FILE).read_text())
            sibling_meta(target).write_text(json.dumps(metadata, indent=2))
            (staging / META_FILE).unlink()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        os.replace(staging, target)
        metadata.pop("serving_python", None)  # the platform's to decide, never the saver's
        return {
            "name": name,
            "version": version,
            "uri": target.as_uri(),
            "flavor": metadata["flavor"],
            "metadata": metadata,
        }

    def stage_job_model(self, job: dict[str, Any]) -> dict[str, Any]:
        """Stage the model a completed job saved, as the next version of the job's name.

        The job wrote the directory: it is copied without following links, and a
        link, a special file or more than the job's disk limit raises
        :class:`~.jobs.jobfiles.UnsafeJobFile` with the reason.
        """
        from .jobs import jobfiles
        from .jobs.limits import DEFAULT_MAX_DISK

        cap = int(job["spec"].get("max_disk") or DEFAULT_MAX_DISK)
        model = self.stage(
            job["name"], job_model_dir(job), lambda src, dst: jobfiles.copy_tree(src, dst, cap)
        )
        model["metadata"]["lineage"] = lineage.of_job(job)
        return model

    def register(self, name: str, directory: str, python: str) -> dict[str, Any]:
        """Register a model saved outside a job (a kernel variable); served with ``python``."""
        name = validate_name(name)
        source = Path(directory)
        if not (source / META_FILE).is_file():
            raise UsageError(f"{directory} holds no saved model ({META_FILE} missing)")
        if not Path(python).exists():
            raise UsageError(f"python {python} does not exist")
        model = self.stage(name, source)
        model["metadata"]["serving_python"] = python  # in the model row, not the directory
        model["metadata"]["lineage"] = lineage.of_kernel()
        self.store.add_model(model)
        return self.get(name, model["version"])

    def _with_metrics(self, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each version with the final value of every metric its job logged."""
        latest = self.store.latest_metrics([m["job_id"] for m in models if m.get("job_id")])
        for model in models:
            model["metrics"] = latest.get(model.get("job_id") or "", {})
            if "lineage" not in model["metadata"] and model.get("job_id"):
                job = self.store.job(model["job_id"])  # registered before lineage was recorded
                if job is not None:
                    model["metadata"]["lineage"] = lineage.of_job(job, hash_data=False)
        return models

    def versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Model versions (of one name, or all), by name then version, with their metrics."""
        return self._with_metrics(self.store.models(name))

    def get(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One model version (the latest when ``version`` is None); NotFound names the known models."""
        model = self.store.model(name, version)
        if model is None:
            known = sorted({m["name"] for m in self.store.models()})
            what = f"{name}:{version}" if version else name
            raise NotFound(f"no model {what}; registered models: {', '.join(known) or 'none'}")
        model = self._with_metrics([model])[0]
        model["events"] = self.store.model_events(name, model["version"])
        return model

    def set_stage(
        self, name: str, version: int, stage: str, actor: str = "", reason: str = ""
    ) -> dict[str, Any]:
        """Move a version to ``stage``; the version that held staging or production is
        archived. Entering production approves the version; a Rejected one is refused."""
        try:
            chosen = ModelStage(stage)
        except ValueError:
            known = ", ".join(s.value for s in ModelStage)
            raise UsageError(f"stage {stage!r} is not one of {known}") from None
        current = self.get(name, version)
        approval = None
        if chosen == ModelStage.PRODUCTION:
            if current["approval"] == ModelApproval.REJECTED:
                raise Conflict(
                    f"{name}:{version} was Rejected; approve it first (%approve {name}:{version})"
                    " if it should serve"
                )
            approval = ModelApproval.APPROVED.value
        self.store.set_model_state(
            name,
            version,
            stage=chosen.value,
            approval=approval,
            actor=actor or lineage.user(),
            reason=reason,
        )
        return self.get(name, version)

    def set_approval(
        self, name: str, version: int, approval: str, actor: str = "", reason: str = ""
    ) -> dict[str, Any]:
        """Set a version's approval; rejecting a version in production or staging archives it."""
        try:
            chosen = ModelApproval(approval)
        except ValueError:
            known = ", ".join(s.value for s in ModelApproval)
            raise UsageError(f"approval {approval!r} is not one of {known}") from None
        current = self.get(name, version)
        stage = None
        if chosen == ModelApproval.REJECTED and current["stage"] in ("staging", "production"):
            stage = ModelStage.ARCHIVED.value
        self.store.set_model_state(
            name,
            version,
            stage=stage,
            approval=chosen.value,
            actor=actor or lineage.user(),
            reason=reason,
            exclusive=False,
        )
        return self.get(name, version)

    def events(self, name: str) -> list[dict[str, Any]]:
        """Every stage and approval change of a model, oldest first."""
        self.get(name)
        return self.store.model_events(name)


__all__ = ["ModelRegistry", "has_model", "job_model_dir"]
