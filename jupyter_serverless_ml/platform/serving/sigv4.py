"""Verifying AWS Signature Version 4, so boto3 clients can call local endpoints.

The platform token is the secret access key: a client configured with
``aws_secret_access_key=<token>`` (any access key id) signs its requests with
it, and the token itself never travels.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from functools import lru_cache
from urllib.parse import quote

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,]+)/(?P<date>\d{8})/(?P<region>[^/,]+)/"
    r"(?P<service>[^/,]+)/aws4_request,\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


@lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def is_sigv4(authorization: str) -> bool:
    """Whether an Authorization header is a SigV4 signature."""
    return authorization.startswith("AWS4-HMAC-SHA256")


MAX_SKEW_SECONDS = 15 * 60  # AWS refuses a signature dated further from its clock


def _values(headers: list[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return values


def precheck(headers: list[tuple[bytes, bytes]], now: float | None = None) -> str | None:
    """Why a SigV4 request fails before its body is read (malformed, undated, stale), or None.

    The signature itself needs the body's hash, so :func:`check` verifies it afterwards.
    """
    values = _values(headers)
    match = _AUTH.match((values.get("authorization") or [""])[0])
    if match is None:
        return "the SigV4 Authorization header is malformed (AWS4-HMAC-SHA256 Credential=...)"
    amz_date = (values.get("x-amz-date") or [""])[0]
    try:
        signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return f"X-Amz-Date {amz_date[:40]!r} is missing or not of the form 20240131T235959Z"
    if not amz_date.startswith(match["date"]):
        return f"X-Amz-Date {amz_date} does not match the credential's date {match['date']}"
    skew = (time.time() if now is None else now) - signed_at
    if abs(skew) > MAX_SKEW_SECONDS:
        return (
            f"Signature expired: X-Amz-Date {amz_date} is {abs(skew) / 60:.0f} minutes "
            f"{'old' if skew > 0 else 'in the future'}, more than {MAX_SKEW_SECONDS // 60} "
            "minutes from this machine's clock; sign requests as you send them "
            "(check the client's clock)"
        )
    return None


def check(
    method: str,
    raw_path: bytes,
    query_string: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    secret: str,
    now: float | None = None,
) -> str | None:
    """Why the request's SigV4 signature does not hold for ``secret`` and ``body``, or None."""
    problem = precheck(headers, now)
    if problem:
        return problem
    values = _values(headers)
    match = _AUTH.match(values["authorization"][0])
    assert match is not None  # precheck matched it
    amz_date = values["x-amz-date"][0]
    payload_hash = hashlib.sha256(body).hexdigest()
    declared = (values.get("x-amz-content-sha256") or [payload_hash])[0]
    if not hmac.compare_digest(declared.encode("latin-1"), payload_hash.encode()):
        return (
            "x-amz-content-sha256 does not match the body's SHA-256: the body changed after "
            "signing (sign the body you send)"
        )
    signed = match["signed"].split(";")
    if "host" not in signed:
        return "the SigV4 signature must cover the host header"
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in values.get(name, []))}\n"
        for name in sorted(set(signed))
    )
    query = "&".join(sorted(p for p in query_string.decode("latin-1").split("&") if p))
    canonical = "\n".join(
        [
            method,
            quote(raw_path.decode("latin-1"), safe="/~"),
            query,
            canonical_headers,
            match["signed"],
            declared,
        ]
    )
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _signing_key(secret, match["date"], match["region"], match["service"])
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        return (
            "the SigV4 signature does not match: sign with the platform token as the AWS "
            "secret key (`jsml platform status --json` prints it)"
        )
    return None


def verify(
    method: str,
    raw_path: bytes,
    query_string: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    secret: str,
) -> bool:
    """True when the request's SigV4 signature was made with ``secret`` over ``body``, recently."""
    return check(method, raw_path, query_string, headers, body, secret) is None
