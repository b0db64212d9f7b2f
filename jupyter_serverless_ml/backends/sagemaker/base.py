"""What every part of the SageMaker backend shares: settings, the AWS session, S3, tags.

Settings come from :func:`jupyter_serverless_ml.config.backend_settings` (the
call, ``%backend sagemaker --region ... --bucket ... --role ...``, environment
variables ``JSML_SAGEMAKER_<SETTING>``, ``config.toml``). Missing ones fall back
on what the environment knows: the region from the AWS configuration
(``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile), and inside SageMaker Studio
the execution role (``DescribeUserProfile``/``DescribeDomain``) and the default
bucket ``sagemaker-<region>-<account>``, as the SageMaker SDK uses them.
A setting that is still missing when it is needed is a :class:`ConfigError` naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...records import ModelRecord
from .aws import Aws, aws_errors, check_region, tags
from .storage import Storage

STUDIO_METADATA = "/opt/ml/metadata/resource-metadata.json"


def _how(setting: str, example: str) -> str:
    return (
        f"%backend sagemaker --{setting.replace('_', '-')} {example} (or "
        f'JSML_SAGEMAKER_{setting.upper()}, or {setting} = "{example}" under '
        "[backends.sagemaker] in $JSML_HOME/config.toml)"
    )


class Base:
    """Settings and shared helpers of the SageMaker backend's parts."""

    def __init__(
        self,
        region: str | None = None,
        bucket: str | None = None,
        role: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        image: str | None = None,
        inference_image: str | None = None,
        spot: bool = False,
        poll_interval: float = 5.0,
        deploy_timeout: float = 1800.0,
        serverless_memory: int = 0,
        serverless_max_concurrency: int = 5,
        studio_metadata: str = STUDIO_METADATA,
        quiet: bool = False,
    ) -> None:
        self.endpoint_url = endpoint_url or None
        self.profile = profile or None
        self.studio_metadata = Path(studio_metadata)
        resolved = region or self._environment_region()
        if not resolved:
            raise ConfigError(
                "the sagemaker backend needs a region: " + _how("region", "eu-west-1")
            )
        self.region = check_region(resolved)
        self.aws = Aws(self.region, self.endpoint_url, self.profile)
        self._bucket = bucket or None
        self._role = role or None
        self._storage: Storage | None = None
        self.image = image or None
        self.inference_image = inference_image or None
        self.spot = bool(spot)
        self.poll_interval = float(poll_interval)
        self.deploy_timeout = float(deploy_timeout)
        self.serverless_memory = int(serverless_memory or 0)
        self.serverless_max_concurrency = int(serverless_max_concurrency or 5)
        self.quiet = bool(quiet)

    # -- environment defaults ----------------------------------------------------

    def _environment_region(self) -> str | None:
        found = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if found:
            return found
        try:
            import boto3.session

            return boto3.session.Session(profile_name=self.profile).region_name
        except Exception:  # no profile, no configuration: the error names the setting
            return None

    def _studio(self) -> dict[str, Any]:
        """SageMaker Studio's resource metadata (empty outside Studio)."""
        try:
            return dict(json.loads(self.studio_metadata.read_text()))
        except (OSError, ValueError):
            return {}

    def _studio_role(self) -> str | None:
        meta = self._studio()
        domain = meta.get("DomainId")
        if not domain:
            return None
        user = meta.get("UserProfileName")
        with contextlib.suppress(Exception):
            if user:
                profile = self.aws.call(
                    "sagemaker",
                    "describe_user_profile",
                    "reading the Studio user profile",
                    DomainId=domain,
                    UserProfileName=user,
                )
                role = (profile.get("UserSettings") or {}).get("ExecutionRole")
                if role:
                    return str(role)
        reply = self.aws.call(
            "sagemaker", "describe_domain", "reading the Studio domain", DomainId=domain
        )
        role = (reply.get("DefaultUserSettings") or {}).get("ExecutionRole")
        return str(role) if role else None

    def role_arn(self) -> str:
        """The execution role jobs and models run as (the setting, or Studio's)."""
        if self._role is None:
            self._role = self._studio_role()
        if not self._role:
            raise ConfigError(
                "the sagemaker backend needs an execution role that SageMaker can assume: "
                + _how("role", "arn:aws:iam::123456789012:role/SageMakerRole")
            )
        return self._role

    @property
    def bucket(self) -> str:
        """``s3://bucket/prefix`` (the setting, or Studio's default bucket)."""
        if self._bucket is None and self._studio():
            self._bucket = (
                f"s3://sagemaker-{self.region}-{self.aws.account()}/jupyter-serverless-ml"
            )
        if not self._bucket:
            raise ConfigError(
                "the sagemaker backend needs an S3 location for bundles, data and models: "
                + _how("bucket", "s3://my-bucket/prefix")
            )
        return self._bucket

    @property
    def storage(self) -> Storage:
        """The backend's S3 prefix."""
        if self._storage is None:
            self._storage = Storage(self.aws, self.bucket, self.notice)
        return self._storage

    # -- shared helpers ------------------------------------------------------------

    def notice(self, text: str) -> None:
        """Tell the user something (upload sizes and progress, cost estimates)."""
        if not self.quiet:
            print(f"[sagemaker] {text}", file=sys.stdout, flush=True)

    @staticmethod
    def tags(**extra: str) -> list[dict[str, str]]:
        """The tags of a created resource."""
        return tags(**extra)

    @staticmethod
    @contextlib.contextmanager
    def errors(what: str) -> Iterator[None]:
        """Map AWS errors while doing ``what``."""
        with aws_errors(what):
            yield

    def model_of_job(self, record: Any) -> ModelRecord | None:
        """The registered model version a completed job made (registering it on first sight)."""
        return None


__all__ = ["Base"]
