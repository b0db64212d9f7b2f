"""Verifying AWS Signature Version 4, so boto3 clients can call local endpoints.

The platform token is the secret access key: a client configured with
``aws_secret_access_key=<token>`` (any access key id) signs its requests with
it, and the token itself never travels.
"""

from __future__ import annotations

import hashlib
import hmac
import re
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


def verify(
    method: str,
    raw_path: bytes,
    query_string: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    secret: str,
) -> bool:
    """True when the request's SigV4 signature was made with ``secret``."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    match = _AUTH.match((values.get("authorization") or [""])[0])
    amz_date = (values.get("x-amz-date") or [""])[0]
    if match is None or not amz_date:
        return False
    signed = match["signed"].split(";")
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in values.get(name, []))}\n"
        for name in sorted(set(signed))
    )
    query = "&".join(sorted(p for p in query_string.decode("latin-1").split("&") if p))
    payload_hash = (values.get("x-amz-content-sha256") or [hashlib.sha256(body).hexdigest()])[0]
    canonical = "\n".join(
        [
            method,
            quote(raw_path.decode("latin-1"), safe="/~"),
            query,
            canonical_headers,
            match["signed"],
            payload_hash,
        ]
    )
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _signing_key(secret, match["date"], match["region"], match["service"])
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match["signature"])
