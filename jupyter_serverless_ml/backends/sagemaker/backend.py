"""The SageMaker backend: every capability part, over boto3.

Settings (``%backend sagemaker --region eu-west-1 --bucket s3://my-bucket/prefix
--role arn:aws:iam::...:role/...``): ``region``, ``bucket``, ``role``,
``endpoint_url`` (another endpoint for every AWS service, e.g. a local emulator),
``profile``, ``image`` and ``inference_image`` (containers to use instead of the
framework container chosen for the bundle), ``spot`` (managed spot training with
checkpoints), ``poll_interval``, ``deploy_timeout``, ``serverless_memory`` and
``serverless_max_concurrency`` (serverless endpoints), ``studio_metadata`` and
``quiet``. See :mod:`.base` for the defaults taken from the environment.

Costs (:mod:`.costs`) are the jobs' billable seconds, the endpoints' instance-hours or
serverless requests and GB-seconds, and transform jobs' run time at SageMaker's list
prices in the backend's region; SageMaker keeps no alerts for this tool.
``cleanup`` deletes what carries the ``jsml:created-by`` tag, and the S3 prefix.
"""

from __future__ import annotations

from typing import Any

from ...errors import NotFound
from ...records import EndpointRecord
from ..protocol import Backend, Batch, Monitoring, Registry, Serving
from .aws import CREATED_BY
from .batch import BatchPart
from .costs import SageMakerCosts
from .drift import SageMakerDrift
from .registry import RegistryPart
from .training import Training
from .tuning import SageMakerTuning


class SageMakerBackend(
    SageMakerTuning,
    Training,
    RegistryPart,
    BatchPart,
    SageMakerDrift,
    SageMakerCosts,
    Backend,
    Registry,
    Serving,
    Batch,
    Monitoring,
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

    # costs, alerts: SageMakerCosts (costs.py)

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
