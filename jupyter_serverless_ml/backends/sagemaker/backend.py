"""The SageMaker backend: every capability part, over boto3.

Settings (``%backend sagemaker --region eu-west-1 --bucket s3://my-bucket/prefix
--role arn:aws:iam::...:role/...``): ``region``, ``bucket``, ``role``,
``endpoint_url`` (another endpoint for every AWS service, e.g. a local emulator),
``profile``, ``image`` and ``inference_image`` (containers to use instead of the
framework container chosen for the bundle), ``spot`` (managed spot training with
checkpoints), ``poll_interval``, ``deploy_timeout``, ``serverless_memory`` and
``serverless_max_concurrency`` (serverless endpoints), ``studio_metadata`` and
``quiet``. See :mod:`.base` for the defaults taken from the environment.

Costs are the jobs' billed seconds and the endpoints' hours at SageMaker's list
prices; SageMaker keeps no alerts for this tool, so ``alerts`` is empty.
``cleanup`` deletes what carries the ``jsml:created-by`` tag, and the S3 prefix.
"""

from __future__ import annotations

import time
from typing import Any

from ...catalog.pricing import price_items, summarize
from ...errors import NotFound
from ...records import AlertRecord, EndpointRecord
from ..protocol import Backend, Batch, Monitoring, Registry, Serving
from .aws import CREATED_BY
from .batch import BatchPart
from .registry import RegistryPart
from .training import Training


class SageMakerBackend(
    Training, RegistryPart, BatchPart, Backend, Registry, Serving, Batch, Monitoring
):
    """Training jobs, the model registry, endpoints and batch transform on Amazon SageMaker."""

    name = "sagemaker"
    native_schemes = frozenset({"s3"})
    serverless = True

    def curl(self, record: EndpointRecord, body: str = '{"instances": [[...]]}') -> str:
        """curl signing the request with SigV4 from your AWS credentials (curl 7.75+)."""
        return (
            f"curl -X POST {record.invocation_url} --aws-sigv4 'aws:amz:{self.region}:sagemaker' "
            '--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" '
            f"-H 'Content-Type: application/json' -d '{body}'"
        )

    def bundle_root(self) -> Any:
        from ... import config

        return config.home() / "artifacts" / "bundles"

    # -- monitoring ------------------------------------------------------------------

    def costs(self) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        for job in self.jobs(limit=1000):
            billed = job.details.get("billed_seconds")
            if billed is None or not job.started_at:
                continue
            items.append(
                {
                    "kind": "training",
                    "name": job.id,
                    "backend": self.name,
                    "instance_type": job.spec.get("instance_type") or "ml.m5.large",
                    "count": int(job.spec.get("instance_count") or 1),
                    "started_at": job.started_at,
                    "seconds": float(billed),
                }
            )
        now = time.time()
        for endpoint in self.endpoints():
            for variant in endpoint.variants:
                kind = variant.details.get("instance_type")
                if not kind or not endpoint.created_at:
                    continue
                items.append(
                    {
                        "kind": "endpoint",
                        "name": f"{endpoint.name}/{variant.name}",
                        "backend": self.name,
                        "instance_type": kind,
                        "count": max(1, variant.replicas),
                        "started_at": endpoint.created_at,
                        "seconds": max(0.0, now - endpoint.created_at),
                    }
                )
        out = summarize(price_items(items))
        out["note"] = (
            "billed seconds of training jobs and hours of endpoints at SageMaker list prices"
        )
        return out

    def alerts(self) -> list[AlertRecord]:
        return []

    def acknowledge_alert(self, alert_id: int) -> AlertRecord:
        raise NotFound(f"no alert {alert_id}: the sagemaker backend records no alerts")

    # -- cleanup ---------------------------------------------------------------------

    def _tagged(self, arn: str) -> bool:
        try:
            reply = self.aws.call(
                "sagemaker", "list_tags", f"reading the tags of {arn}", ResourceArn=arn
            )
        except NotFound:
            return False
        return any((t["Key"], t["Value"]) == CREATED_BY for t in reply.get("Tags", []))

    def cleanup(self, dry_run: bool = True) -> list[str]:
        done: list[str] = []
        sm = "sagemaker"
        endpoints = self.aws.call(sm, "list_endpoints", "listing endpoints").get("Endpoints", [])
        for item in endpoints:
            if not self._tagged(item["EndpointArn"]):
                continue
            name = str(item["EndpointName"])
            if dry_run:
                done.append(f"endpoint {name} (and its scaling targets)")
                continue
            desc = self.aws.call(sm, "describe_endpoint", f"reading {name}", EndpointName=name)
            done += self._delete_endpoint(name, desc)
        configs = self.aws.call(sm, "list_endpoint_configs", "listing endpoint configs")
        for item in configs.get("EndpointConfigs", []):
            if self._tagged(item["EndpointConfigArn"]):
                name = str(item["EndpointConfigName"])
                if not dry_run:
                    self.aws.call(
                        sm, "delete_endpoint_config", f"deleting {name}", EndpointConfigName=name
                    )
                done.append(f"endpoint config {name}")
        models = self.aws.call(sm, "list_models", "listing models").get("Models", [])
        for item in models:
            if self._tagged(item["ModelArn"]):
                name = str(item["ModelName"])
                if not dry_run:
                    self.aws.call(sm, "delete_model", f"deleting {name}", ModelName=name)
                done.append(f"model {name}")
        groups = self.aws.call(sm, "list_model_package_groups", "listing model groups")
        for item in groups.get("ModelPackageGroupSummaryList", []):
            if not self._tagged(item["ModelPackageGroupArn"]):
                continue
            group = str(item["ModelPackageGroupName"])
            for package in self._packages(group):
                if not dry_run:
                    self.aws.call(
                        sm,
                        "delete_model_package",
                        f"deleting {group}",
                        ModelPackageName=package["ModelPackageArn"],
                    )
                done.append(f"model package {group}/{package['ModelPackageVersion']}")
            if not dry_run:
                self.aws.call(
                    sm,
                    "delete_model_package_group",
                    f"deleting {group}",
                    ModelPackageGroupName=group,
                )
            done.append(f"model package group {group}")
        count = len(self.storage.keys(self.storage.base + "/"))
        if count:
            if not dry_run:
                self.storage.delete_prefix(self.storage.base + "/")
            done.append(f"{count} objects under {self.storage.base}/")
        return done


__all__ = ["SageMakerBackend"]
