"""The local backend's cost part beyond :class:`~.protocol.Monitoring`: the whole ledger
since a time, and serving-mode advice from an endpoint's captured traffic."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


class LocalCosts:
    """Mixed into :class:`~.local.LocalBackend` (a client of the daemon's cost routes)."""

    def _call(
        self, method: str, path: str, body: Any = None, timeout: float = 30.0, **params: Any
    ) -> Any:
        raise NotImplementedError  # the backend's own

    def cost_ledger(self, since: float = 0.0) -> dict[str, Any]:
        """The priced ledger with every item since ``since`` (epoch seconds)."""
        return dict(self._call("GET", "/v1/costs", since=since, limit=100_000))

    def cost_advice(self, endpoint: str, memory_gb: float = 2.0) -> dict[str, Any]:
        """Provisioned vs serverless for ``endpoint``'s captured traffic."""
        path = f"/v1/costs/advice/{quote(endpoint, safe='')}"
        return dict(self._call("GET", path, memory_gb=memory_gb))


__all__ = ["LocalCosts"]
