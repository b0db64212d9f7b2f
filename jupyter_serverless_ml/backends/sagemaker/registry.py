"""The registry part of the SageMaker backend: the SageMaker Model Registry.

A jsml model name is a model package group; each version is a model package
(``ModelPackageVersion`` is the version, ``Approved``), whose inference container
is the framework image with the model's ``model.tar.gz`` (which carries the
inference handler in ``code/``). A completed job registers its model the first
time the backend sees it complete (the package's description names the job, so
it is registered once); :meth:`register_model` registers a model saved from the
kernel. :meth:`load_model` downloads and unpacks a version into
``$JSML_HOME/cache/sagemaker/``. A version's stage is the package's customer metadata
``jsml:stage`` (with ``jsml:promoted-at``), its approval the package's
``ModelApprovalStatus``: versions register Approved (deployable), as before stages existed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import tarfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ... import config
from ...errors import Conflict, NotFound
from ...records import JobRecord, ModelRecord
from ...runtime import flavors
from ...statuses import ModelApproval, ModelStage
from . import images
from .base import Base
from .jobs import resource_name
from .storage import extract, split_uri

STAGE_KEY = "jsml:stage"
PROMOTED_KEY = "jsml:promoted-at"
JOB_PREFIX = "jsml job "
KERNEL_PREFIX = "jsml kernel"
CONTENT_TYPES = ["application/json", "text/csv", "application/jsonlines"]


def _inference_environment(region: str) -> dict[str, str]:
    return {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": region,
    }


class RegistryPart(Base):
    """Model package groups and packages (mixed into :class:`SageMakerBackend`)."""

    def _group(self, name: str) -> str:
        group = resource_name(name)
        try:
            self.aws.call(
                "sagemaker",
                "describe_model_package_group",
                f"reading model {name}",
                ModelPackageGroupName=group,
            )
        except NotFound:
            self.aws.call(
                "sagemaker",
                "create_model_package_group",
                f"creating model {name}",
                ModelPackageGroupName=group,
                ModelPackageGroupDescription=f"jupyter-serverless-ml model {name}",
                Tags=self.tags(name=name),
            )
        return group

    def _packages(self, group: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        try:
            with self.errors(f"listing the versions of {group}"):
                paginator = self.aws.client("sagemaker").get_paginator("list_model_packages")
                for page in paginator.paginate(ModelPackageGroupName=group):
                    out += page.get("ModelPackageSummaryList", [])
        except NotFound:
            return []
        return [p for p in out if str(p.get("ModelPackageDescription") or "").startswith("jsml")]

    def _model_record(self, arn: str) -> ModelRecord:
        desc = self.aws.call(
            "sagemaker", "describe_model_package", f"reading {arn}", ModelPackageName=arn
        )
        container = (desc.get("InferenceSpecification") or {}).get("Containers", [{}])[0]
        meta = dict(desc.get("CustomerMetadataProperties") or {})
        description = str(desc.get("ModelPackageDescription") or "")
        job_id = description[len(JOB_PREFIX) :] if description.startswith(JOB_PREFIX) else None
        created = desc.get("CreationTime")
        promoted = meta.get(PROMOTED_KEY)
        return ModelRecord(
            name=str(desc["ModelPackageGroupName"]),
            version=int(desc["ModelPackageVersion"]),
            uri=str(container.get("ModelDataUrl") or ""),
            flavor=meta.get("jsml:flavor", "files"),
            metadata={
                k[5:]: v
                for k, v in meta.items()
                if k.startswith("jsml:") and k not in (STAGE_KEY, PROMOTED_KEY)
            },
            job_id=job_id,
            created_at=created.timestamp() if hasattr(created, "timestamp") else None,
            stage=meta.get(STAGE_KEY, ModelStage.NONE.value),
            approval=str(desc.get("ModelApprovalStatus") or ModelApproval.PENDING.value),
            promoted_at=float(promoted) if promoted else None,
            details={
                "arn": arn,
                "image": container.get("Image"),
                "approval_description": desc.get("ApprovalDescription"),
                "environment": dict(container.get("Environment") or {}),
            },
        )

    # -- stages and approval: customer metadata ``jsml:stage`` and ModelApprovalStatus --

    def _update_package(
        self, record: ModelRecord, what: str, approval: str | None = None, **metadata: str
    ) -> None:
        """Update a package's approval and stage metadata, sending both in full (an update
        without ``ModelApprovalStatus`` loses it on some implementations)."""
        desc = self.aws.call(
            "sagemaker",
            "describe_model_package",
            f"reading {record.ref}",
            ModelPackageName=record.details["arn"],
        )
        properties = {**dict(desc.get("CustomerMetadataProperties") or {}), **metadata}
        self.aws.call(
            "sagemaker",
            "update_model_package",
            what,
            ModelPackageArn=record.details["arn"],
            ModelApprovalStatus=approval or str(desc.get("ModelApprovalStatus") or "Approved"),
            CustomerMetadataProperties=properties,
        )

    def set_stage(self, name: str, version: int, stage: str, reason: str = "") -> ModelRecord:
        target = ModelStage(stage)
        record = self.model(name, version)
        if target == ModelStage.PRODUCTION and record.approval == ModelApproval.REJECTED:
            raise Conflict(f"{record.ref} was Rejected; approve it first (%approve {record.ref})")
        if target in (ModelStage.STAGING, ModelStage.PRODUCTION):
            for holder in self.models(name):
                if holder.stage == target and holder.version != record.version:
                    self._update_package(
                        holder, f"archiving {holder.ref}", **{STAGE_KEY: ModelStage.ARCHIVED.value}
                    )
        extra = {PROMOTED_KEY: repr(time.time())} if target == ModelStage.PRODUCTION else {}
        self._update_package(
            record,
            f"moving {record.ref} to {target}",
            ModelApproval.APPROVED.value if target == ModelStage.PRODUCTION else None,
            **{STAGE_KEY: target.value, **extra},
        )
        return self.model(name, version)

    def set_approval(self, name: str, version: int, approval: str, reason: str = "") -> ModelRecord:
        chosen = ModelApproval(approval)
        record = self.model(name, version)
        stage = {}
        if chosen == ModelApproval.REJECTED and record.stage in (
            ModelStage.STAGING,
            ModelStage.PRODUCTION,
        ):
            stage = {STAGE_KEY: ModelStage.ARCHIVED.value}
        self._update_package(record, f"setting the approval of {record.ref}", chosen.value, **stage)
        return self.model(name, version)

    def _flavor_of(self, uri: str) -> dict[str, Any]:
        """The model's ``jsml_model.json``, read from its ``model.tar.gz`` as a stream."""
        bucket, key = split_uri(uri)
        try:
            with self.errors(f"reading {uri}"):
                body = self.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        except NotFound:
            return {}
        with tarfile.open(fileobj=body, mode="r|gz") as archive:
            for member in archive:
                if member.name.lstrip("./") == flavors.META_FILE:
                    handle = archive.extractfile(member)
                    return dict(json.loads(handle.read())) if handle else {}
        return {}

    def _create_package(
        self, name: str, uri: str, image: str, description: str, meta: dict[str, Any]
    ) -> ModelRecord:
        group = self._group(name)
        properties = {
            "jsml:flavor": str(meta.get("flavor") or "files"),
            "jsml:class": str(meta.get("class") or ""),
            "jsml:python": str(meta.get("python") or ""),
        }
        reply = self.aws.call(
            "sagemaker",
            "create_model_package",
            f"registering a version of model {name}",
            ModelPackageGroupName=group,
            ModelPackageDescription=description,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": image,
                        "ModelDataUrl": uri,
                        "Environment": _inference_environment(self.region),
                    }
                ],
                "SupportedContentTypes": CONTENT_TYPES,
                "SupportedResponseMIMETypes": CONTENT_TYPES,
            },
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties={k: v for k, v in properties.items() if v},
            Tags=self.tags(name=name),
        )
        return self._model_record(str(reply["ModelPackageArn"]))

    def model_of_job(self, record: JobRecord) -> ModelRecord | None:
        artifact = record.details.get("model_artifact")
        if not artifact:
            return None
        group = resource_name(record.name)
        for package in self._packages(group):
            if package.get("ModelPackageDescription") == JOB_PREFIX + record.id:
                return self._model_record(str(package["ModelPackageArn"]))
        meta = self._flavor_of(str(artifact))
        if not meta:
            return None  # the job saved no model
        image = self.inference_image or str(record.spec.get("image") or "")
        return self._create_package(record.name, str(artifact), image, JOB_PREFIX + record.id, meta)

    def models(self, name: str | None = None) -> list[ModelRecord]:
        if name is not None:
            groups = [resource_name(name)]
        else:
            groups = []
            with self.errors("listing models"):
                paginator = self.aws.client("sagemaker").get_paginator("list_model_package_groups")
                for page in paginator.paginate():
                    groups += [
                        g["ModelPackageGroupName"]
                        for g in page.get("ModelPackageGroupSummaryList", [])
                    ]
        arns = [str(p["ModelPackageArn"]) for g in groups for p in self._packages(g)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            found = list(pool.map(self._model_record, arns))
        return sorted(found, key=lambda m: (m.name, m.version))

    def model(self, name: str, version: int | None = None) -> ModelRecord:
        packages = self._packages(resource_name(name))
        if version is not None:
            packages = [p for p in packages if int(p["ModelPackageVersion"]) == int(version)]
        if not packages:
            which = f"{name}:{version}" if version is not None else name
            raise NotFound(
                f"no registered SageMaker model {which} (%models --backend sagemaker lists them)"
            )
        newest = max(packages, key=lambda p: int(p["ModelPackageVersion"]))
        return self._model_record(str(newest["ModelPackageArn"]))

    def _kernel_image(self) -> str:
        if self.inference_image or self.image:
            return str(self.inference_image or self.image)
        from importlib import metadata

        pins = []
        for dist in images.LIBRARIES.values():
            try:
                pins.append(f"{dist}=={metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                continue
        image, _ = images.choose(
            {"python": platform.python_version()}, pins, self.region, scope="inference"
        )
        return image

    def register_model(self, name: str, directory: Path, python: str) -> ModelRecord:
        meta = flavors.describe(directory)
        image = self._kernel_image()
        uri = self.storage.uri("models", resource_name(name), uuid.uuid4().hex[:12], "model.tar.gz")
        self.storage.upload_model_dir(Path(directory), uri)
        return self._create_package(
            name, uri, image, f"{KERNEL_PREFIX} {time.strftime('%Y-%m-%d %H:%M:%S')}", meta
        )

    def load_model(self, record: ModelRecord) -> Any:
        digest = hashlib.sha256(record.uri.encode()).hexdigest()[:24]
        target = config.home() / "cache" / "sagemaker" / digest
        if not (target / flavors.META_FILE).exists():
            data = self.storage.get_bytes(record.uri) if record.uri.startswith("s3://") else b""
            if not data:
                raise NotFound(f"model {record.ref} has no files at {record.uri!r}")
            staging = target.with_name(f"{digest}.{uuid.uuid4().hex[:6]}")
            extract(data, staging)
            if target.exists():
                import shutil

                shutil.rmtree(staging, ignore_errors=True)
            else:
                staging.rename(target)
        return flavors.load(target)


__all__ = ["RegistryPart"]
