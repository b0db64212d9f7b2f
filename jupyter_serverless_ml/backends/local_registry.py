"""The local backend's model stages and approval (the rest of its registry is in
:mod:`.local`): the platform keeps them with every change, who made it and why."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..records import ModelRecord
from .protocol import Registry


class LocalRegistry(Registry):
    """Mixed into :class:`~.local.LocalBackend` (which provides ``_call``) before ``Registry``."""

    def _call(
        self, method: str, path: str, body: Any = None, timeout: float = 30.0, **params: Any
    ) -> Any:
        raise NotImplementedError  # LocalBackend's own _call is the one used

    def set_stage(self, name: str, version: int, stage: str, reason: str = "") -> ModelRecord:
        path = f"/v1/models/{quote(name, safe='')}/{int(version)}/stage"
        return ModelRecord.from_wire(self._call("POST", path, {"stage": stage, "reason": reason}))

    def set_approval(self, name: str, version: int, approval: str, reason: str = "") -> ModelRecord:
        path = f"/v1/models/{quote(name, safe='')}/{int(version)}/approval"
        body = {"approval": approval, "reason": reason}
        return ModelRecord.from_wire(self._call("POST", path, body))

    def model_events(self, name: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/v1/model-events/{quote(name, safe='')}")["events"])


__all__ = ["LocalRegistry"]
