"""The local backend's multi-model invocations (a part of :class:`~.local.LocalBackend`)."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import quote, urlparse

from ..errors import PlatformUnavailable, map_exceptions
from ..records import Invocation


class LocalMultiModel:
    """``invoke_model``: the SageMaker-runtime route with ``X-Amzn-SageMaker-Target-Model``,
    on the backend's kept-alive connection (resent once when the platform moved)."""

    def invoke_model(
        self,
        name: str,
        target_model: str,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Invocation:
        """Send one request for ``target_model`` to the multi-model endpoint ``name``."""
        backend: Any = self
        for attempt in (1, 2):
            client = backend.client
            path = urlparse(f"{client.url}/endpoints/{quote(name, safe='')}/invocations").path
            headers = {
                "Authorization": f"Bearer {client.token}",
                "Content-Type": content_type,
                "Accept": accept,
                "X-Amzn-SageMaker-Target-Model": target_model,
            }
            conn = backend._connection(name)
            try:
                with map_exceptions(
                    {(ConnectionError, http.client.HTTPException, OSError): PlatformUnavailable},
                    f"endpoint {name} at {client.url} did not answer",
                ):
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    return Invocation(
                        status=response.status,
                        content_type=response.getheader("Content-Type", ""),
                        body=response.read(),
                        variant=response.getheader("x-Amzn-Invoked-Production-Variant"),
                    )
            except PlatformUnavailable:
                backend._drop_connection(name)
                if attempt == 2:
                    raise
                backend._client = backend._connect()
        raise AssertionError("unreachable")


__all__ = ["LocalMultiModel"]
