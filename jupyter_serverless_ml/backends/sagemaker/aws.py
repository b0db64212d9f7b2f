"""The AWS side of the SageMaker backend: one session, its clients, and the one error map.

boto3 is imported here, lazily (a kernel that never names the backend never pays
for it). Every call to AWS goes through :meth:`Aws.call` or runs inside
:func:`aws_errors`, which maps botocore's exceptions into the package's error tree
once, each with one line that says what to fix. Throttling is retried by botocore's
``standard`` retry mode (exponential backoff with full jitter) before it surfaces.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
from collections.abc import Iterator
from typing import Any

from ...errors import BackendError, ConfigError, Conflict, NotFound, UsageError

#: Every resource this tool creates carries this tag; ``cleanup`` finds them by it.
CREATED_BY = ("jsml:created-by", "jupyter-serverless-ml")
THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
}
CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
}
DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}
QUOTA = {"ResourceLimitExceeded", "ServiceQuotaExceededException", "LimitExceededException"}
MISSING = {"ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "NotFound", "404"}


def _code_and_message(exc: Any) -> tuple[str, str]:
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code") or ""), str(error.get("Message") or exc)


def translate(exc: Exception, what: str) -> Exception:
    """The error of the package's tree for a botocore exception raised while doing ``what``."""
    import botocore.exceptions as bce

    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return ConfigError(
            f"{what}: no AWS credentials found; run `aws configure` (or `aws sso login`), or "
            "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, bce.NoRegionError):
        return ConfigError(
            f"{what}: no AWS region; %backend sagemaker --region eu-west-1 (or AWS_DEFAULT_REGION)"
        )
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectTimeoutError):
        return BackendError(
            f"{what}: cannot reach AWS ({exc}); check the network, a proxy, or the region"
        )
    if not isinstance(exc, bce.ClientError):
        return BackendError(f"{what}: {exc}")
    code, message = _code_and_message(exc)
    status = int(getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in CREDENTIALS:
        return ConfigError(
            f"{what}: AWS refused the credentials ({code}: {message}); renew them "
            "(`aws sso login`, or new keys) and try again"
        )
    if code in DENIED or status == 403:
        return ConfigError(
            f"{what}: access denied ({message}); give this identity (and the SageMaker "
            "execution role) the permission it names, see the README's SageMaker section"
        )
    if code == "NoSuchBucket":
        return ConfigError(
            f"{what}: the bucket does not exist ({message}); create it (`aws s3 mb s3://NAME`) "
            "or set another with %backend sagemaker --bucket s3://NAME/prefix"
        )
    if code in QUOTA:
        return BackendError(
            f"{what}: an AWS quota is exhausted ({message}); request an increase in the "
            "Service Quotas console, choose another instance type, or delete idle resources "
            "(jsml cleanup --backend sagemaker --dry-run)"
        )
    if code in THROTTLED:
        return BackendError(
            f"{what}: AWS kept throttling the request after retries with backoff ({message}); "
            "wait a minute and try again, or make fewer calls at once"
        )
    lowered = message.lower()
    if "role" in lowered and ("assume" in lowered or "not authorized" in lowered):
        return ConfigError(
            f"{what}: SageMaker cannot use the role ({message}); give --role an IAM role that "
            "trusts sagemaker.amazonaws.com and can read and write the bucket"
        )
    if "instance type" in lowered or "instancetype" in lowered:
        return UsageError(
            f"{what}: {message}; choose a type SageMaker offers for this use in this region "
            "(e.g. ml.m5.large)"
        )
    if (
        code in MISSING
        or status == 404
        or any(p in lowered for p in ("could not find", "not found", "does not exist"))
    ):
        return NotFound(f"{what}: {message}")
    if code in ("ResourceInUse", "ConflictException") or "already exist" in lowered:
        return Conflict(f"{what}: {message}")
    if code in ("ValidationException", "ValidationError"):
        return UsageError(f"{what}: {message}")
    return BackendError(f"{what}: AWS answered {code or status}: {message}")


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Run AWS calls, re-raising botocore's exceptions as the package's errors (once)."""
    import botocore.exceptions as bce

    try:
        yield
    except (bce.BotoCoreError, bce.ClientError) as exc:
        raise translate(exc, what) from exc


@functools.cache
def known_regions() -> frozenset[str]:
    """Regions botocore knows SageMaker in (from its bundled endpoint data, no call)."""
    import boto3.session

    session = boto3.session.Session()
    found: set[str] = set()
    for partition in session.get_available_partitions():
        found |= set(session.get_available_regions("sagemaker", partition))
    return frozenset(found)


def check_region(region: str) -> str:
    """``region`` when SageMaker exists there; a UsageError with the nearest names otherwise."""
    regions = known_regions()
    if region in regions or not regions:
        return region
    near = difflib.get_close_matches(region, sorted(regions), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(near)}? " if near else ""
    raise UsageError(
        f"unknown AWS region {region!r} for SageMaker; {hint}"
        "e.g. %backend sagemaker --region eu-west-1"
    )


class Aws:
    """A boto3 session for one region and its clients (made once each)."""

    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        profile: str | None = None,
        max_attempts: int = 8,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.profile = profile
        self.max_attempts = max_attempts
        self._clients: dict[str, Any] = {}
        self._session: Any = None

    @property
    def session(self) -> Any:
        """The boto3 session."""
        if self._session is None:
            import boto3.session

            self._session = boto3.session.Session(
                profile_name=self.profile or None, region_name=self.region
            )
        return self._session

    def client(self, service: str) -> Any:
        """The boto3 client of ``service`` (retries: standard mode, backoff with jitter)."""
        found = self._clients.get(service)
        if found is None:
            from botocore.config import Config

            config = Config(
                retries={"mode": "standard", "max_attempts": self.max_attempts},
                connect_timeout=10,
                read_timeout=70,
                user_agent_extra="jupyter-serverless-ml",
            )
            with aws_errors(f"creating the {service} client"):
                found = self.session.client(service, endpoint_url=self.endpoint_url, config=config)
            self._clients[service] = found
        return found

    def call(self, service: str, operation: str, what: str, **kwargs: Any) -> Any:
        """One AWS call with its errors mapped (``what`` says what was being done)."""
        with aws_errors(what):
            return getattr(self.client(service), operation)(**kwargs)

    def account(self) -> str:
        """The account id of the credentials."""
        return str(self.call("sts", "get_caller_identity", "reading the AWS account")["Account"])


def tags(**extra: str) -> list[dict[str, str]]:
    """The tags every created resource gets, plus ``extra`` (``jsml:<key>``)."""
    out = [{"Key": CREATED_BY[0], "Value": CREATED_BY[1]}]
    out += [{"Key": f"jsml:{k.replace('_', '-')}", "Value": str(v)[:256]} for k, v in extra.items()]
    return out


__all__ = ["CREATED_BY", "Aws", "aws_errors", "check_region", "known_regions", "tags", "translate"]
