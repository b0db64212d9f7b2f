"""The local backend's multi-model invocations (a part of :class:`~.local.LocalBackend`)."""

from __future__ import annotations

from typing import Any

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
        backend: Any = self  # the LocalBackend this part is mixed into
        headers = {
            "Content-Type": content_type,
            "Accept": accept,
            "X-Amzn-SageMaker-Target-Model": target_model,
        }
        result: Invocation = backend._post_invocation(name, body, headers)
        return result


__all__ = ["LocalMultiModel"]
