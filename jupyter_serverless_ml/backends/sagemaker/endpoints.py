"""Endpoint records of the SageMaker backend: DescribeEndpoint and its config as an
:class:`EndpointRecord` (variants, traffic in percent, replicas, autoscaling bounds).

A variant is named ``v<version>``; its SageMaker model is named
``<endpoint>--<model>-v<version>-<stamp>``, so the record says which registered
version it serves without another call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import NotFound, UsageError
from ...records import EndpointRecord, VariantRecord
from ...statuses import EndpointStatus
from .base import Base
from .jobs import resource_name, timestamp

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
_STATUS = {
    "OutOfService": EndpointStatus.FAILED,
    "Creating": EndpointStatus.CREATING,
    "Updating": EndpointStatus.UPDATING,
    "SystemUpdating": EndpointStatus.UPDATING,
    "RollingBack": EndpointStatus.UPDATING,
    "InService": EndpointStatus.IN_SERVICE,
    "Deleting": EndpointStatus.DELETING,
    "Failed": EndpointStatus.FAILED,
    "UpdateRollbackFailed": EndpointStatus.FAILED,
}


def split_traffic(current: Mapping[str, float], named: Mapping[str, float]) -> dict[str, float]:
    """Named variants get their percent; the others share what is left in proportion."""
    unknown = sorted(set(named) - set(current))
    if unknown:
        raise UsageError(
            f"no variant {', '.join(unknown)} on this endpoint (variants: {', '.join(current)})"
        )
    if any(not 0 <= v <= 100 for v in named.values()) or sum(named.values()) > 100 + 1e-9:
        raise UsageError("traffic weights are percents from 0 to 100 that add up to at most 100")
    left = 100.0 - sum(named.values())
    rest = {k: v for k, v in current.items() if k not in named}
    total = sum(rest.values())
    out = dict(named)
    for key, value in rest.items():
        out[key] = left * (value / total if total else 1 / len(rest))
    return {k: round(v, 6) for k, v in out.items()}


def _percent(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {k: round(100.0 * v / total, 6) if total else 0.0 for k, v in weights.items()}


class EndpointViews(Base):
    """Reading endpoints (the base of :class:`.serving.ServingPart`)."""

    # -- records -----------------------------------------------------------------

    def _config(self, name: str) -> dict[str, Any]:
        return dict(
            self.aws.call(
                "sagemaker",
                "describe_endpoint_config",
                f"reading endpoint config {name}",
                EndpointConfigName=name,
            )
        )

    def _describe_endpoint(self, name: str) -> dict[str, Any]:
        try:
            return dict(
                self.aws.call(
                    "sagemaker",
                    "describe_endpoint",
                    f"reading endpoint {name}",
                    EndpointName=resource_name(name),
                )
            )
        except NotFound:
            raise NotFound(
                f"no SageMaker endpoint {name!r} in {self.region} (%endpoints lists them)"
            ) from None

    def _url(self, name: str) -> str:
        base = self.endpoint_url or f"https://runtime.sagemaker.{self.region}.amazonaws.com"
        return f"{base.rstrip('/')}/endpoints/{name}/invocations"

    def _scaling(self, name: str, variants: list[str]) -> dict[str, tuple[int, int]]:
        ids = [f"endpoint/{name}/variant/{v}" for v in variants]
        reply = self.aws.call(
            "application-autoscaling",
            "describe_scalable_targets",
            f"reading the autoscaling of {name}",
            ServiceNamespace="sagemaker",
            ResourceIds=ids,
            ScalableDimension=DIMENSION,
        )
        return {
            t["ResourceId"].rsplit("/", 1)[-1]: (int(t["MinCapacity"]), int(t["MaxCapacity"]))
            for t in reply.get("ScalableTargets", [])
        }

    def _endpoint_record(self, desc: Mapping[str, Any], full: bool = True) -> EndpointRecord:
        name = str(desc["EndpointName"])
        config = self._config(str(desc["EndpointConfigName"])) if full else {}
        by_variant = {v["VariantName"]: v for v in config.get("ProductionVariants", [])}
        live = list(desc.get("ProductionVariants") or [])
        weights = {
            str(v["VariantName"]): float(v.get("CurrentWeight", v.get("DesiredWeight", 1.0)) or 0.0)
            for v in live
        } or {k: float(v.get("InitialVariantWeight", 1.0)) for k, v in by_variant.items()}
        traffic = _percent(weights)
        scaling = self._scaling(name, list(traffic)) if full and traffic else {}
        variants = []
        for variant, share in traffic.items():
            now: dict[str, Any] = next((v for v in live if v["VariantName"] == variant), {})
            conf = by_variant.get(variant, {})
            model_name = str(conf.get("ModelName") or "")
            base, _, version = model_name.rpartition("-v")
            lo, hi = scaling.get(variant, (int(conf.get("InitialInstanceCount") or 0),) * 2)
            variants.append(
                VariantRecord(
                    name=variant,
                    model_name=base.split("--", 1)[-1] if "--" in base else base,
                    model_version=int(version.split("-", 1)[0]) if version[:1].isdigit() else 0,
                    traffic=share,
                    replicas=int(now.get("CurrentInstanceCount") or 0),
                    min_replicas=lo,
                    max_replicas=hi,
                    details={
                        "sagemaker_model": model_name,
                        "instance_type": conf.get("InstanceType"),
                        "serverless": conf.get("ServerlessConfig"),
                    },
                )
            )
        return EndpointRecord(
            name=name,
            backend="sagemaker",
            status=_STATUS.get(str(desc.get("EndpointStatus")), str(desc.get("EndpointStatus"))),
            created_at=timestamp(desc.get("CreationTime")),
            traffic=traffic,
            variants=tuple(variants),
            replicas=sum(v.replicas for v in variants),
            min_replicas=sum(v.min_replicas for v in variants),
            max_replicas=sum(v.max_replicas for v in variants),
            invocation_url=self._url(name),
            details={
                "arn": desc.get("EndpointArn"),
                "endpoint_config": desc.get("EndpointConfigName"),
                "failure_reason": desc.get("FailureReason"),
                "data_capture": config.get("DataCaptureConfig"),
                "console_url": f"https://{self.region}.console.aws.amazon.com/sagemaker/home?"
                f"region={self.region}#/endpoints/{name}",
            },
        )

    def endpoints(self) -> list[EndpointRecord]:
        found: list[dict[str, Any]] = []
        with self.errors("listing endpoints"):
            for page in self.aws.client("sagemaker").get_paginator("list_endpoints").paginate():
                found += page.get("Endpoints", [])
        return [self._endpoint_record(self._describe_endpoint(e["EndpointName"])) for e in found]

    def endpoint(self, name: str) -> EndpointRecord:
        return self._endpoint_record(self._describe_endpoint(name))


__all__ = ["DIMENSION", "EndpointViews", "split_traffic"]
