"""The registry part: Vertex AI Model Registry (``models:upload`` with versions and aliases).

A model name is one Vertex model (display name, labelled); each version is a
model version uploaded with ``parent_model``, aliased ``vN`` and ``default`` for
the newest. A completed job registers its model directory as the next version,
labelled with the job id, so asking twice never registers twice.

Stages: the version aliases ``production`` and ``staging`` (an alias names one version,
so moving it moves the stage), and the version label ``jsml-stage`` (``archived``,
``none``); approval is the version label ``jsml-approval``, and ``jsml-promoted-at``
(milliseconds) when it last entered production. Versions start PendingManualApproval.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...records import ModelRecord
from ...runtime import flavors
from ...statuses import ModelApproval, ModelStage
from ..protocol import Registry
from . import images
from .core import LABEL_FILTER, VertexCore, label_value, labels, quoted, timestamp

STAGE_LABEL = "jsml-stage"
APPROVAL_LABEL = "jsml-approval"
PROMOTED_LABEL = "jsml-promoted-at"
APPROVALS = {a.value.lower(): a.value for a in ModelApproval}


def _stage_of(aliases: list[str], labels: dict[str, str]) -> str:
    """A version's stage: its ``production`` or ``staging`` alias, else its stage label."""
    for stage in (ModelStage.PRODUCTION, ModelStage.STAGING):
        if stage.value in aliases:
            return stage.value
    return ModelStage.ARCHIVED.value if labels.get(STAGE_LABEL) == "archived" else "none"


class VertexRegistry(VertexCore, Registry):
    """Model versions in the Vertex AI Model Registry."""

    _by_job: dict[str, ModelRecord]

    def _job_models(self) -> dict[str, ModelRecord]:
        if not hasattr(self, "_by_job"):
            self._by_job = {}
        return self._by_job

    def _model_record(self, model: Any) -> ModelRecord:
        meta = dict(model.labels)
        aliases = list(model.version_aliases)
        promoted = meta.get(PROMOTED_LABEL)
        return ModelRecord(
            stage=_stage_of(aliases, meta),
            approval=APPROVALS.get(meta.get(APPROVAL_LABEL, ""), ModelApproval.PENDING.value),
            promoted_at=int(promoted) / 1000 if promoted and promoted.isdigit() else None,
            name=model.display_name,
            version=int(model.version_id or 1),
            uri=model.artifact_uri,
            flavor=meta.get("jsml-flavor", "files"),
            metadata={"aliases": list(model.version_aliases)},
            job_id=f"{model.display_name}-{meta['jsml-job']}" if meta.get("jsml-job") else None,
            created_at=timestamp(model.version_create_time) or timestamp(model.create_time),
            details={
                "resource_name": f"{model.name}@{model.version_id}",
                "image": model.container_spec.image_uri,
                "serving_exact": meta.get("jsml-serving") != "mismatch",
                "console_url": self.settings.console("models", model.name.rsplit("/", 1)[-1]),
            },
        )

    def _parents(self, name: str | None = None) -> list[Any]:
        query = LABEL_FILTER + (f" AND display_name={quoted(name)}" if name else "")
        pager = self._call(
            "listing Vertex AI models",
            self.client("model").list_models,
            request={"parent": self.settings.parent, "filter": query, "page_size": 100},
        )
        return list(self._call("listing Vertex AI models", list, pager))

    def _versions(self, parent: Any) -> list[ModelRecord]:
        pager = self._call(
            f"listing the versions of {parent.display_name}",
            self.client("model").list_model_versions,
            request={"name": parent.name, "page_size": 100},
        )
        found = [self._model_record(m) for m in self._call("listing model versions", list, pager)]
        return sorted(found, key=lambda r: r.version)

    def models(self, name: str | None = None) -> list[ModelRecord]:
        out: list[ModelRecord] = []
        for parent in sorted(self._parents(name), key=lambda m: m.display_name):
            out.extend(self._versions(parent))
        return out

    def model(self, name: str, version: int | None = None) -> ModelRecord:
        parents = self._parents(name)
        versions = self._versions(parents[0]) if parents else []
        chosen = [v for v in versions if version is None or v.version == version]
        if not chosen:
            what = f"{name}:{version}" if version is not None else name
            known = ", ".join(str(v.version) for v in versions) or "none"
            raise NotFound(f"no Vertex AI model version {what} (versions: {known}); see %models")
        return chosen[-1]

    def _serving_image(self, meta: dict[str, Any]) -> tuple[str, bool]:
        """The container the version is served by, and whether it matches the model."""
        flavor = str(meta.get("flavor", "files"))
        try:
            return images.prediction_image(
                flavor, dict(meta.get("libraries") or {}), self.serving_image
            ), True
        except UsageError:
            fallback = "sklearn" if flavor != "xgboost" else "xgboost"
            from google.cloud.aiplatform import helpers

            return str(
                helpers.get_prebuilt_prediction_container_uri(
                    framework=fallback,
                    framework_version="1.5" if fallback == "sklearn" else "1.7",
                    accelerator="cpu",
                )
            ), False

    def _upload(
        self, name: str, artifact_uri: str, meta: dict[str, Any], job_id: str | None
    ) -> ModelRecord:
        from google.cloud import aiplatform_v1 as v1

        parents = self._parents(name)
        versions = self._versions(parents[0]) if parents else []
        number = (versions[-1].version + 1) if versions else 1
        image, exact = self._serving_image(meta)
        extra = {"name": name, "flavor": str(meta.get("flavor", "files")), "job": job_id or ""}
        if not exact:
            extra["serving"] = "mismatch"
        model = v1.Model(
            display_name=name,
            artifact_uri=artifact_uri,
            container_spec=v1.ModelContainerSpec(image_uri=image),
            labels=labels("model", **extra),
            version_aliases=["default", f"v{number}"],
            version_description="registered by jupyter-serverless-ml"
            + (f" from job {job_id}" if job_id else ""),
        )
        request = v1.UploadModelRequest(parent=self.settings.parent, model=model)
        if parents:
            request.parent_model = parents[0].name
        operation = self._call(
            f"registering model {name}", self.client("model").upload_model, request=request
        )
        reply = self._wait(f"registering model {name}", operation)
        uploaded = self._call(
            f"reading model {name}",
            self.client("model").get_model,
            name=f"{reply.model}@{reply.model_version_id}",
        )
        return self._model_record(uploaded)

    def _meta_of(self, uri: str) -> dict[str, Any] | None:
        data = self.storage.read(f"{uri.rstrip('/')}/{flavors.META_FILE}")
        return dict(json.loads(data)) if data else None

    def _model_for_job(self, job_id: str, output_uri: str, name: str) -> Any:
        cache = self._job_models()
        if job_id in cache:
            return cache[job_id]
        for parent in self._parents(name):
            for version in self._versions(parent):
                if version.job_id == f"{name}-{job_id}":
                    cache[job_id] = version
                    return version
        meta = self._meta_of(f"{output_uri}/model")
        if meta is None:
            return None  # the job saved no model
        record = self._upload(name, f"{output_uri}/model", meta, job_id)
        cache[job_id] = record
        return record

    def register_model(self, name: str, directory: Path, python: str) -> ModelRecord:
        meta = flavors.describe(directory)
        uri = self.uri("models", name, uuid.uuid4().hex[:12])
        self.storage.upload_tree(Path(directory), uri)
        return self._upload(name, uri, meta, None)

    def load_model(self, record: ModelRecord) -> Any:
        tag = uuid.uuid5(uuid.NAMESPACE_URL, record.uri).hex[:8]
        target = self.cache_dir() / "models" / f"{label_value(record.name)}-{record.version}-{tag}"
        if not (target / flavors.META_FILE).exists() and not self.storage.download_tree(
            record.uri, target
        ):
            raise NotFound(f"model {record.ref} has no files at {record.uri}")
        return flavors.load(target)

    # -- stages (version aliases ``production`` / ``staging``, label ``jsml-stage``) and
    # -- approval (label ``jsml-approval``) -------------------------------------------

    def _relabel(self, record: ModelRecord, what: str, **changes: str) -> None:
        """Replace a version's labels with its current ones plus ``changes``."""
        from google.cloud import aiplatform_v1 as v1
        from google.protobuf import field_mask_pb2

        name = record.details["resource_name"]
        current = self._call(what, self.client("model").get_model, name=name)
        updated = v1.Model(name=name, labels={**dict(current.labels), **changes})
        self._call(
            what,
            self.client("model").update_model,
            model=updated,
            update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
        )

    def _alias(self, record: ModelRecord, what: str, *aliases: str) -> None:
        self._call(
            what,
            self.client("model").merge_version_aliases,
            name=record.details["resource_name"],
            version_aliases=list(aliases),
        )

    def set_stage(self, name: str, version: int, stage: str, reason: str = "") -> ModelRecord:
        target = ModelStage(stage)
        record = self.model(name, version)
        if target == ModelStage.PRODUCTION and record.approval == ModelApproval.REJECTED:
            raise Conflict(f"{record.ref} was Rejected; approve it first (%approve {record.ref})")
        for other in self.models(name):
            if (
                other.version != record.version
                and other.stage == target
                and target
                in (
                    ModelStage.STAGING,
                    ModelStage.PRODUCTION,
                )
            ):
                self._relabel(other, f"archiving {other.ref}", **{STAGE_LABEL: "archived"})
        for alias in (ModelStage.PRODUCTION, ModelStage.STAGING):
            if record.stage == alias and target != alias:
                self._alias(record, f"moving {record.ref} out of {alias}", f"-{alias.value}")
        changes = {STAGE_LABEL: target.value if target in ("none", "archived") else "none"}
        if target == ModelStage.PRODUCTION:
            changes[APPROVAL_LABEL] = "approved"
            changes[PROMOTED_LABEL] = str(int(time.time() * 1000))
        self._relabel(record, f"moving {record.ref} to {target}", **changes)
        if target in (ModelStage.STAGING, ModelStage.PRODUCTION):
            self._alias(record, f"moving {record.ref} to {target}", target.value)
        return self.model(name, version)

    def set_approval(self, name: str, version: int, approval: str, reason: str = "") -> ModelRecord:
        chosen = ModelApproval(approval)
        record = self.model(name, version)
        if chosen == ModelApproval.REJECTED and record.stage in (
            ModelStage.STAGING,
            ModelStage.PRODUCTION,
        ):
            return self._reject_serving(record)
        self._relabel(record, f"approving {record.ref}", **{APPROVAL_LABEL: chosen.value.lower()})
        return self.model(name, version)

    def _reject_serving(self, record: ModelRecord) -> ModelRecord:
        self._alias(record, f"archiving {record.ref}", f"-{record.stage}")
        self._relabel(
            record,
            f"rejecting {record.ref}",
            **{APPROVAL_LABEL: "rejected", STAGE_LABEL: "archived"},
        )
        return self.model(record.name, record.version)
