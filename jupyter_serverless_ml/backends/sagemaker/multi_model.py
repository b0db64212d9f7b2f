"""SageMaker multi-model endpoints (``%deploy NAME --multi-model --backend sagemaker``).

SageMaker serves every model archive under one S3 prefix from one container
(``PrimaryContainer.Mode = "MultiModel"``, ``ModelDataUrl`` the prefix); a request
names its archive, relative to the prefix, as ``TargetModel``, and the container
loads it on first use and unloads the least recently used under memory pressure
(SageMaker's own cache; ``--model-cache`` has no SageMaker setting and is refused).

``deploy`` copies each registered version the source names (a model's every version,
or ``PREFIX*``) to ``<bucket>/multi-model/<endpoint>/<model>-v<version>.tar.gz``
(S3 CopyObject, server side), creates the model in MultiModel mode with the newest
version's image and environment (the source is kept in its environment as
``JSML_MULTI_MODEL_SOURCE``), and one production variant ``models``.
``invoke_model`` maps our target (``fleet:3``, ``3``, ``fleet`` for the latest) to
its archive and sends ``TargetModel``; a version registered after the deploy is
copied under the prefix on its first request, as one adds a model to a SageMaker
MME. A ``TargetModel`` ending in ``.tar.gz`` goes through as it is.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...platform.serving.model_sets import describe_set, in_set, parse_target
from ...records import DeployRequest, EndpointRecord, Invocation, ModelRecord
from .aws import aws_errors
from .endpoints import EndpointViews
from .jobs import resource_name
from .storage import split_uri

VARIANT = "models"
SOURCE_ENV = "JSML_MULTI_MODEL_SOURCE"
#: how long a target naming a model's latest version keeps its archive
LATEST_SECONDS = 5.0

__all__ = ["SOURCE_ENV", "VARIANT", "MultiModelPart", "archive_key"]


def archive_key(model: ModelRecord) -> str:
    """The archive of ``model`` under a multi-model prefix (its ``TargetModel``)."""
    return f"{resource_name(model.name)}-v{model.version}.tar.gz"


class MultiModelPart(EndpointViews):
    """Deploying and invoking multi-model endpoints (the base of ``ServingPart``)."""

    @property
    def _targets(self) -> dict[tuple[str, str], tuple[float, str]]:
        """(endpoint, target) -> (valid until, archive key) of resolved targets."""
        if not hasattr(self, "_targets_cache"):
            self._targets_cache: dict[tuple[str, str], tuple[float, str]] = {}
        return self._targets_cache

    def _matching(self, source: str) -> list[ModelRecord]:
        registry: Any = self
        if source.endswith("*"):
            return [m for m in registry.models() if in_set(source, m.name)]
        try:
            return list(registry.models(source))
        except NotFound:
            return []

    def _copy_archive(self, model: ModelRecord, prefix: str) -> str:
        key = archive_key(model)
        bucket, target = split_uri(prefix + key)
        source_bucket, source_key = split_uri(model.uri)
        with aws_errors(f"copying {model.ref} under {prefix}"):
            self.storage.s3.copy_object(
                Bucket=bucket, Key=target, CopySource={"Bucket": source_bucket, "Key": source_key}
            )
        return key

    def _deploy_multi(self, request: DeployRequest) -> EndpointRecord:
        serving: Any = self
        source = str(request.model)
        if request.endpoint:
            raise UsageError("a multi-model endpoint is created on its own (no --endpoint)")
        if request.serverless_memory:
            raise UsageError(
                "SageMaker multi-model endpoints run on instances, not serverless; "
                "drop --serverless or --multi-model"
            )
        if request.model_cache:
            raise UsageError(
                "--model-cache: a SageMaker multi-model endpoint unloads models by its own "
                "memory pressure; choose the instance type for the memory instead"
            )
        if request.inference_script or request.source_dir or request.predictor:
            raise UsageError(
                "a multi-model endpoint serves registered models without inference code"
            )
        found = self._matching(source)
        if not found:
            raise NotFound(
                f"--multi-model {source}: no registered SageMaker model "
                + (
                    f"starts with {source[:-1]!r}"
                    if source.endswith("*")
                    else f"is called {source!r}"
                )
                + " (%models --backend sagemaker lists them)"
            )
        images = sorted({str(m.details.get("image") or "") for m in found})
        if len(images) > 1 and not (self.inference_image or self.image):
            raise UsageError(
                f"--multi-model {source}: the models use different images ({', '.join(images)}); "
                "a multi-model endpoint runs one container: give one image with "
                "%backend sagemaker --inference-image"
            )
        name = resource_name(request.name or source.rstrip("*").rstrip("-_./") or "models")
        try:
            self._describe_endpoint(name)
        except NotFound:
            pass
        else:
            raise Conflict(f"endpoint {name} already exists; %undeploy it first")
        prefix = self.storage.uri("multi-model", name) + "/"
        for model in found:
            self._copy_archive(model, prefix)
        latest = max(found, key=lambda m: (m.created_at or 0, m.version))
        environment = dict(latest.details.get("environment") or {})
        environment[SOURCE_ENV] = source
        if request.method:
            environment["JSML_METHOD"] = request.method
        stamp = time.strftime("%m%d%H%M%S", time.gmtime())
        sm_model = f"{resource_name(name, 40)}--mme-{stamp}"
        self.aws.call(
            "sagemaker",
            "create_model",
            f"creating the multi-model SageMaker model of {name}",
            ModelName=sm_model,
            PrimaryContainer={
                "Image": str(self.inference_image or latest.details.get("image") or self.image),
                "Mode": "MultiModel",
                "ModelDataUrl": prefix,
                "Environment": environment,
            },
            ExecutionRoleArn=self.role_arn(),
            Tags=self.tags(model=source),
        )
        variant = {
            "VariantName": VARIANT,
            "ModelName": sm_model,
            "InitialVariantWeight": 1.0,
            "InstanceType": request.instance_type or "ml.m5.large",
            "InitialInstanceCount": max(1, int(request.min_replicas or 1)),
        }
        serving._estimate(variant, request)
        config = serving._new_config(name, [variant], request.capture_percent)
        self.aws.call(
            "sagemaker",
            "create_endpoint",
            f"creating endpoint {name}",
            EndpointName=name,
            EndpointConfigName=config,
            Tags=self.tags(endpoint=name, model=source),
        )
        serving._wait_in_service(name)
        serving._autoscale(name, variant, request)
        return self.endpoint(name)

    def _multi_settings(self, sm_model: str) -> tuple[str, str]:
        """(source, S3 prefix) of a multi-model SageMaker model."""
        desc = self.aws.call(
            "sagemaker", "describe_model", f"reading model {sm_model}", ModelName=sm_model
        )
        container = desc.get("PrimaryContainer") or {}
        source = str((container.get("Environment") or {}).get(SOURCE_ENV) or "")
        return source, str(container.get("ModelDataUrl") or "")

    def _multi_details(self, sm_model: str) -> dict[str, Any]:
        """What a ``models`` variant's record says: its model set and prefix."""
        source, prefix = self._multi_settings(sm_model)
        count = sum(1 for k in self.storage.keys(prefix) if k.endswith(".tar.gz"))
        return {
            "model_name": source.rstrip("*") or sm_model,
            "model_set": describe_set(source, count),
            "multi_model": {
                "source": source,
                "model_data_url": prefix,
                "cache_bytes": None,
                "models": {},
            },
        }

    def _endpoint_record(self, desc: Mapping[str, Any], full: bool = True) -> EndpointRecord:
        record = super()._endpoint_record(desc, full)
        if not full or not any(v.name == VARIANT for v in record.variants):
            return record
        variants = []
        details = dict(record.details)
        for variant in record.variants:
            sm_model = str(variant.details.get("sagemaker_model") or "")
            if variant.name == VARIANT and sm_model:
                extra = self._multi_details(sm_model)
                details["multi_model"] = extra.pop("multi_model")
                variant = dataclasses.replace(
                    variant,
                    model_name=extra.pop("model_name"),
                    model_version=0,
                    details={**variant.details, **extra},
                )
            variants.append(variant)
        return dataclasses.replace(record, variants=tuple(variants), details=details)

    def _archive_for(self, name: str, target: str) -> str:
        """The ``TargetModel`` of ``target`` on endpoint ``name`` (copied under the prefix
        when a version registered after the deploy is asked for the first time)."""
        if target.endswith(".tar.gz"):
            return target
        cached = self._targets.get((name, target))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        desc = self._describe_endpoint(name)
        config = self._config(str(desc["EndpointConfigName"]))
        variant = next(
            (v for v in config.get("ProductionVariants", []) if v["VariantName"] == VARIANT), None
        )
        if variant is None:
            raise UsageError(
                f"endpoint {name} serves one model: call it without model= (ep.predict(rows))"
            )
        source, prefix = self._multi_settings(str(variant["ModelName"]))
        wanted = parse_target(source, target)
        if wanted is None:
            raise NotFound(f"endpoint {name} serves {source}; it has no model {target!r}")
        registry: Any = self
        model = registry.model(*wanted)
        key = archive_key(model)
        if not self.storage.exists(prefix + key):
            self._copy_archive(model, prefix)
        until = float("inf") if wanted[1] is not None else time.monotonic() + LATEST_SECONDS
        self._targets[(name, target)] = (until, key)
        return key

    def invoke_model(
        self,
        name: str,
        target_model: str,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Invocation:
        """InvokeEndpoint with ``TargetModel`` (our ``name:version`` mapped to its archive)."""
        serving: Any = self
        key = self._archive_for(resource_name(name), target_model)
        return serving._invoke(name, body, content_type, accept, TargetModel=key)
