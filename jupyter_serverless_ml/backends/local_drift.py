"""The local backend's drift part: a thin client of the platform's drift routes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote


class LocalDrift:
    """Drift checks, baselines and rules on the embedded platform (mixed into LocalBackend)."""

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
        **params: Any,
    ) -> Any:  # provided by LocalBackend
        raise NotImplementedError

    def drift(self, endpoint: str, window: float | None = None) -> dict[str, Any]:
        """Check ``endpoint`` now over the last ``window`` seconds: ``{"report", "alerts"}``."""
        params: dict[str, Any] = {} if window is None else {"window": float(window)}
        return dict(self._call("GET", f"/v1/drift/{quote(endpoint, safe='')}", **params))

    def drift_report(self, endpoint: str) -> dict[str, Any]:
        """The latest report (scheduled or on demand) of ``endpoint`` with its alerts."""
        return dict(self._call("GET", f"/v1/drift/{quote(endpoint, safe='')}/report"))

    def set_baseline(self, model: str, path: str, version: int | None = None) -> dict[str, Any]:
        """Profile the table at ``path`` as the baseline of ``model`` (latest version)."""
        body: dict[str, Any] = {"model": model, "path": str(Path(path).expanduser().resolve())}
        if version is not None:
            body["version"] = int(version)
        return dict(self._call("POST", "/v1/baselines", body, timeout=300.0))

    def baseline(self, model: str, version: int | None = None) -> dict[str, Any]:
        """A model version's baseline (latest by default), without its samples."""
        tail = f"/{int(version)}" if version is not None else ""
        return dict(self._call("GET", f"/v1/baselines/{quote(model, safe='')}{tail}"))

    def drift_rules(
        self, endpoint: str, changes: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Merge ``changes`` into the endpoint's drift rules (none: read them)."""
        path = f"/v1/drift/{quote(endpoint, safe='')}/rules"
        if not changes:
            return dict(self._call("GET", path))
        return dict(self._call("POST", path, dict(changes)))


__all__ = ["LocalDrift"]
