"""The serving part of the SageMaker backend: real-time endpoints.

``deploy`` creates a SageMaker Model from a registered version (its package's
image, ``model.tar.gz`` and handler), an endpoint config (one production variant
per version: ``v<version>``, instance type and count, or a serverless config;
data capture from ``--capture``) and the endpoint, waits until it is InService,
and registers the variant with Application Auto Scaling (target tracking on
invocations per instance between min and max). A new version for an existing
endpoint is a new config with one more variant, applied in place with
UpdateEndpoint. ``%traffic`` and ``%rollback`` call
UpdateEndpointWeightsAndCapacities; the split before the last change is kept in
the endpoint's ``jsml:previous-traffic`` tag. ``invoke`` goes through the
sagemaker-runtime client (botocore signs it with SigV4).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from ...catalog.pricing import hourly
from ...errors import BackendError, Conflict, NotFound, UsageError
from ...records import DeployRequest, EndpointRecord, Invocation, ModelRecord
from ...statuses import EndpointStatus
from .endpoints import DIMENSION, split_traffic
from .jobs import resource_name
from .multi_model import VARIANT, MultiModelPart

PREVIOUS_TAG = "jsml:previous-traffic"


class ServingPart(MultiModelPart):
    """Deploying, traffic, invoking and undeploying (mixed into :class:`SageMakerBackend`)."""

    # -- deploy ------------------------------------------------------------------

    def _create_model(self, endpoint: str, model: ModelRecord, method: str | None) -> str:
        stamp = time.strftime("%m%d%H%M%S", time.gmtime())
        head = resource_name(f"{endpoint}--{model.name}", 63 - len(f"-v{model.version}-{stamp}"))
        name = f"{head}-v{model.version}-{stamp}"
        environment = dict(model.details.get("environment") or {})
        if method:
            environment["JSML_METHOD"] = method
        self.aws.call(
            "sagemaker",
            "create_model",
            f"creating the SageMaker model for {model.ref}",
            ModelName=name,
            PrimaryContainer={
                "Image": str(model.details.get("image") or self.inference_image or self.image),
                "ModelDataUrl": model.uri,
                "Environment": environment,
            },
            ExecutionRoleArn=self.role_arn(),
            Tags=self.tags(model=model.ref),
        )
        return name

    def _variant(self, request: DeployRequest, model: ModelRecord, sm_model: str) -> dict[str, Any]:
        variant: dict[str, Any] = {
            "VariantName": f"v{model.version}",
            "ModelName": sm_model,
            "InitialVariantWeight": 1.0,
        }
        memory = int(
            request.serverless_memory
            or request.policy.get("serverless_memory")
            or self.serverless_memory
            or 0
        )
        if memory:
            concurrency = (
                request.max_concurrency
                or request.policy.get("max_concurrency")
                or self.serverless_max_concurrency
            )
            variant["ServerlessConfig"] = {
                "MemorySizeInMB": memory,
                "MaxConcurrency": int(concurrency),
            }
        else:
            variant["InstanceType"] = request.instance_type or "ml.m5.large"
            variant["InitialInstanceCount"] = max(1, int(request.min_replicas or 1))
        return variant

    def _estimate(self, variant: Mapping[str, Any], request: DeployRequest) -> None:
        if "ServerlessConfig" in variant:
            self.notice("cost estimate: serverless endpoint, billed per request and GB-second")
            return
        kind = str(variant["InstanceType"])
        price = hourly(kind, "sagemaker")
        low = int(variant["InitialInstanceCount"])
        high = max(low, int(request.max_replicas or low))
        self.notice(
            f"cost estimate: {kind} at ${price:.3f}/h x{low}"
            + (f" to x{high}" if high > low else "")
            + f" = ${price * low:.3f}/h"
            + (f" to ${price * high:.3f}/h" if high > low else "")
            + " while the endpoint exists (SageMaker list price); %undeploy stops it"
        )
        if request.min_replicas == 0:
            self.notice("SageMaker instance endpoints keep at least one instance: min is 1")

    def _new_config(
        self, endpoint: str, variants: list[dict[str, Any]], capture: float | None
    ) -> str:
        name = resource_name(f"{endpoint}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}")
        name = f"{name[:58]}-{int(time.time() * 1000) % 10000:04d}"
        kwargs: dict[str, Any] = {}
        if capture:
            kwargs["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": max(1, min(100, int(capture))),
                "DestinationS3Uri": self.storage.uri("capture", endpoint),
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            }
        self.aws.call(
            "sagemaker",
            "create_endpoint_config",
            f"creating the endpoint config of {endpoint}",
            EndpointConfigName=name,
            ProductionVariants=variants,
            Tags=self.tags(endpoint=endpoint),
            **kwargs,
        )
        return name

    def _wait_in_service(self, name: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.deploy_timeout
        while True:
            desc = self._describe_endpoint(name)
            status = desc.get("EndpointStatus")
            if status == "InService":
                return desc
            if status in ("Failed", "OutOfService", "UpdateRollbackFailed"):
                raise BackendError(
                    f"endpoint {name} is {status}: {desc.get('FailureReason') or 'no reason given'}"
                    f" (CloudWatch log group /aws/sagemaker/Endpoints/{name})"
                )
            if time.monotonic() > deadline:
                raise BackendError(
                    f"endpoint {name} is still {status} after {self.deploy_timeout:.0f} s; "
                    "%endpoint NAME shows it later"
                )
            time.sleep(self.poll_interval)

    def _autoscale(self, endpoint: str, variant: Mapping[str, Any], request: DeployRequest) -> None:
        if "ServerlessConfig" in variant:
            return
        low = int(variant["InitialInstanceCount"])
        high = max(low, int(request.max_replicas or low))
        resource = f"endpoint/{endpoint}/variant/{variant['VariantName']}"
        what = f"registering the autoscaling of {endpoint}"
        self.aws.call(
            "application-autoscaling",
            "register_scalable_target",
            what,
            ServiceNamespace="sagemaker",
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            MinCapacity=low,
            MaxCapacity=high,
        )
        per_minute = float(
            request.policy.get("invocations_per_instance")
            or 60.0 * float(request.target_concurrency or 2)
        )
        self.aws.call(
            "application-autoscaling",
            "put_scaling_policy",
            what,
            PolicyName=f"jsml-{endpoint}-{variant['VariantName']}",
            ServiceNamespace="sagemaker",
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": per_minute,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleInCooldown": int(request.policy.get("downscale_delay") or 300),
                "ScaleOutCooldown": int(request.policy.get("upscale_delay") or 60),
            },
        )

    def deploy(self, request: DeployRequest) -> EndpointRecord:
        if request.multi_model:
            return self._deploy_multi(request)
        model = self.model(request.model, request.version)  # type: ignore[attr-defined]
        if request.endpoint:
            return self._add_variant(request, model)
        name = resource_name(request.name or model.name)
        try:
            self._describe_endpoint(name)
        except NotFound:
            pass
        else:
            raise Conflict(
                f"endpoint {name} already exists; add a version with --endpoint {name} "
                "--traffic PCT, or %undeploy it first"
            )
        sm_model = self._create_model(name, model, request.method)
        variant = self._variant(request, model, sm_model)
        self._estimate(variant, request)
        config = self._new_config(name, [variant], request.capture_percent)
        self.aws.call(
            "sagemaker",
            "create_endpoint",
            f"creating endpoint {name}",
            EndpointName=name,
            EndpointConfigName=config,
            Tags=self.tags(endpoint=name, model=model.ref),
        )
        self._wait_in_service(name)
        self._autoscale(name, variant, request)
        return self.endpoint(name)

    def _add_variant(self, request: DeployRequest, model: ModelRecord) -> EndpointRecord:
        name = resource_name(str(request.endpoint))
        desc = self._describe_endpoint(name)
        old = self._config(str(desc["EndpointConfigName"]))
        variants = [dict(v) for v in old.get("ProductionVariants", [])]
        if any(v["VariantName"] == f"v{model.version}" for v in variants):
            raise Conflict(f"endpoint {name} already serves {model.ref} (variant v{model.version})")
        current = self._endpoint_record(desc).traffic
        share = 100.0 if request.traffic is None else float(request.traffic)
        split = {**{k: v * (100.0 - share) / 100.0 for k, v in current.items()}}
        sm_model = self._create_model(name, model, request.method)
        variant = self._variant(request, model, sm_model)
        self._estimate(variant, request)
        split[variant["VariantName"]] = share
        for item in variants:
            item["InitialVariantWeight"] = split.get(item["VariantName"], 0.0)
            if item.get("ServerlessConfig") is None:
                item.pop("ServerlessConfig", None)
        variant["InitialVariantWeight"] = share
        variants.append(variant)
        config = self._new_config(name, variants, request.capture_percent)
        self.aws.call(
            "sagemaker",
            "update_endpoint",
            f"updating endpoint {name}",
            EndpointName=name,
            EndpointConfigName=config,
        )
        self._remember(desc, current)
        self._wait_in_service(name)
        self._autoscale(name, variant, request)
        return self.endpoint(name)

    # -- traffic -------------------------------------------------------------------

    def _remember(self, desc: Mapping[str, Any], split: Mapping[str, float]) -> None:
        self.aws.call(
            "sagemaker",
            "add_tags",
            f"recording the traffic of {desc['EndpointName']}",
            ResourceArn=desc["EndpointArn"],
            Tags=[{"Key": PREVIOUS_TAG, "Value": json.dumps(dict(split), separators=(",", ":"))}],
        )

    def _apply(self, name: str, split: Mapping[str, float]) -> EndpointRecord:
        desc = self._describe_endpoint(name)
        before = self._endpoint_record(desc, full=False).traffic
        self.aws.call(
            "sagemaker",
            "update_endpoint_weights_and_capacities",
            f"shifting the traffic of {name}",
            EndpointName=name,
            DesiredWeightsAndCapacities=[
                {"VariantName": k, "DesiredWeight": float(v)} for k, v in split.items()
            ],
        )
        self._remember(desc, before)
        self._wait_in_service(name)
        return self.endpoint(name)

    def traffic(self, name: str, weights: Mapping[str, float]) -> EndpointRecord:
        current = self.endpoint(name).traffic
        return self._apply(resource_name(name), split_traffic(current, weights))

    def rollback(self, name: str) -> EndpointRecord:
        desc = self._describe_endpoint(name)
        tags = self.aws.call(
            "sagemaker", "list_tags", f"reading the tags of {name}", ResourceArn=desc["EndpointArn"]
        ).get("Tags", [])
        values = [t["Value"] for t in tags if t["Key"] == PREVIOUS_TAG]
        previous = values[-1] if values else None  # add_tags replaces it; the last one counts
        if not previous:
            raise Conflict(f"endpoint {name} has no earlier traffic split to go back to")
        split = {k: float(v) for k, v in json.loads(previous).items()}
        live = self._endpoint_record(desc, full=False).traffic
        return self._apply(str(desc["EndpointName"]), {k: split.get(k, 0.0) for k in live})

    # -- invoke and undeploy ---------------------------------------------------------

    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Invocation:
        return self._invoke(name, body, content_type, accept)

    def _invoke(
        self, name: str, body: bytes, content_type: str, accept: str, **extra: str
    ) -> Invocation:
        """InvokeEndpoint (``extra``: ``TargetModel`` on a multi-model endpoint)."""
        import botocore.exceptions

        client = self.aws.client("sagemaker-runtime")
        try:
            with self.errors(f"invoking endpoint {name}"):
                try:
                    reply = client.invoke_endpoint(
                        EndpointName=resource_name(name),
                        Body=body,
                        ContentType=content_type,
                        Accept=accept,
                        **extra,
                    )
                except botocore.exceptions.ClientError as exc:
                    error = exc.response.get("Error", {})
                    if error.get("Code") != "ModelError":
                        raise
                    status = int(
                        exc.response.get("OriginalStatusCode")
                        or error.get("OriginalStatusCode")
                        or 500
                    )
                    message = str(
                        exc.response.get("OriginalMessage") or error.get("OriginalMessage") or ""
                    )
                    return Invocation(status, "application/json", message.encode())
                return Invocation(
                    status=200,
                    content_type=str(reply.get("ContentType") or ""),
                    body=reply["Body"].read(),
                    variant=reply.get("InvokedProductionVariant"),
                )
        except NotFound:
            raise NotFound(f"no SageMaker endpoint {name!r} in {self.region}") from None

    def _delete_endpoint(self, name: str, desc: Mapping[str, Any]) -> list[str]:
        deleted = []
        for variant in desc.get("ProductionVariants") or []:
            resource = f"endpoint/{name}/variant/{variant['VariantName']}"
            try:
                self.aws.call(
                    "application-autoscaling",
                    "deregister_scalable_target",
                    f"removing the autoscaling of {name}",
                    ServiceNamespace="sagemaker",
                    ResourceId=resource,
                    ScalableDimension=DIMENSION,
                )
                deleted.append(f"scaling target {resource}")
            except (NotFound, UsageError):
                pass
        self.aws.call(
            "sagemaker", "delete_endpoint", f"deleting endpoint {name}", EndpointName=name
        )
        deleted.append(f"endpoint {name}")
        return deleted

    def undeploy(self, name: str) -> EndpointRecord:
        desc = self._describe_endpoint(name)
        record = self._endpoint_record(desc)
        real = str(desc["EndpointName"])
        self._delete_endpoint(real, desc)
        config = str(desc["EndpointConfigName"])
        models = {v.details.get("sagemaker_model") for v in record.variants}
        with contextlib.suppress(NotFound):
            self.aws.call(
                "sagemaker",
                "delete_endpoint_config",
                f"deleting endpoint config {config}",
                EndpointConfigName=config,
            )
        for model in sorted(m for m in models if m):
            with contextlib.suppress(NotFound):
                self.aws.call(
                    "sagemaker", "delete_model", f"deleting model {model}", ModelName=model
                )
        if any(v.name == VARIANT for v in record.variants):  # the archives copied for it
            self.storage.delete_prefix(self.storage.uri("multi-model", real) + "/")
        return EndpointRecord.from_wire({**record.to_wire(), "status": EndpointStatus.DELETED})


__all__ = ["ServingPart", "split_traffic"]
