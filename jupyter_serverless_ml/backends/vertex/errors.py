"""Google Cloud errors mapped into the package's error tree, in one place, with retries.

:func:`call` runs one SDK call: throttling (429 without a quota, 503) is retried
with exponential backoff and full jitter, then every google-api-core, google-auth
and HTTP error becomes an error of :mod:`jupyter_serverless_ml.errors` whose one
line says what to fix.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ...errors import BackendError, ConfigError, Conflict, JsmlError, NotFound, UsageError

T = TypeVar("T")

#: Sleep between retries: ``random.uniform(0, min(CAP, BASE * 2**attempt))`` seconds.
BASE_DELAY = 0.5
CAP_DELAY = 20.0
_sleep = time.sleep


def _is_quota(message: str) -> bool:
    text = message.lower()
    return "quota" in text or ("limit" in text and "exceeded" in text)


def _retryable(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.TooManyRequests | gexc.ResourceExhausted):
        return not _is_quota(str(exc))
    return isinstance(exc, gexc.ServiceUnavailable | gexc.InternalServerError)


def translate(exc: BaseException, what: str) -> JsmlError | None:
    """The error of the tree for a foreign ``exc`` raised while doing ``what`` (None: not ours)."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as aexc

    text = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, aexc.DefaultCredentialsError):
        return ConfigError(
            f"{what}: no Google Cloud credentials found; run `gcloud auth application-default "
            "login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
        )
    if isinstance(exc, aexc.RefreshError | gexc.Unauthenticated | gexc.Unauthorized):
        return ConfigError(
            f"{what}: the Google Cloud credentials were refused ({text}); log in again with "
            "`gcloud auth application-default login`"
        )
    if isinstance(exc, gexc.PermissionDenied | gexc.Forbidden):
        return ConfigError(
            f"{what}: access denied ({text}); grant the account roles/aiplatform.user and "
            "roles/storage.objectAdmin on the bucket, and enable the Vertex AI API "
            "(gcloud services enable aiplatform.googleapis.com)"
        )
    if isinstance(exc, gexc.TooManyRequests | gexc.ResourceExhausted):
        if _is_quota(text):
            return BackendError(
                f"{what}: quota exceeded ({text}); request more in the console under IAM & Admin "
                "> Quotas, or use a smaller machine type or another region"
            )
        return BackendError(f"{what}: still throttled after retries ({text}); try again later")
    if isinstance(exc, gexc.NotFound):
        if "bucket" in text.lower():
            return ConfigError(
                f"{what}: the bucket does not exist ({text}); create it with `gcloud storage "
                "buckets create gs://BUCKET --location REGION` or fix --bucket"
            )
        return NotFound(f"{what}: not found ({text})")
    if isinstance(exc, gexc.AlreadyExists | gexc.Conflict | gexc.FailedPrecondition):
        return Conflict(f"{what}: {text}")
    if isinstance(exc, gexc.InvalidArgument | gexc.BadRequest):
        if "machine type" in text.lower() or "machine_type" in text.lower():
            return UsageError(
                f"{what}: {text}; pick a Vertex AI machine type such as n1-standard-4 or "
                "e2-standard-8 (--instance-type), available in this region"
            )
        return UsageError(f"{what}: the request was refused: {text}")
    if isinstance(exc, gexc.GoogleAPIError):
        return BackendError(f"{what}: Vertex AI failed: {text}")
    if isinstance(exc, OSError):  # connection refused, DNS: an endpoint that does not answer
        return BackendError(f"{what}: could not reach Google Cloud ({exc}); check the network")
    try:
        import requests

        if isinstance(exc, requests.RequestException):
            return BackendError(f"{what}: could not reach Google Cloud ({exc}); check the network")
    except ImportError:  # pragma: no cover
        pass
    return None


def call(what: str, fn: Callable[..., T], *args: Any, retries: int = 5, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``: throttling retried with backoff and jitter, errors translated."""
    attempt = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except JsmlError:
            raise
        except Exception as exc:
            if attempt < retries and _retryable(exc):
                _sleep(random.uniform(0, min(CAP_DELAY, BASE_DELAY * 2**attempt)))
                attempt += 1
                continue
            ours = translate(exc, what)
            if ours is None:
                raise
            raise ours from exc
