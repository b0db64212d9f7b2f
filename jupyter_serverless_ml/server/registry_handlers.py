"""The sidebar's Promote and Reject: stage and approval changes of model versions.

Routes (under ``<base_url>/serverless-ml/api/``)::

    GET  models                              (in handlers.py) every version with
        {"name", "version", "stage": "none|staging|production|archived",
         "approval": "PendingManualApproval|Approved|Rejected", "promoted_at", "metrics",
         "endpoints": [{"endpoint", "variant", "traffic"}], "serving": bool, "backend", ...}
    POST models/<name>/<version>/stage       {"stage": "production", "require": ["accuracy>=0.9"],
                                              "compare": "production", "reason": "...",
                                              "backend": "local"}
        -> the version as above; 409 {"error": "PromotionRefused", "message": why} when it
           fails the gate or is worse than the compared stage's version
    POST models/<name>/<version>/approval    {"approval": "Approved|Rejected|PendingManualApproval",
                                              "reason": "...", "backend": "local"}
        -> the version

``backend`` defaults to the first served backend with a registry that has the version.
The gate is the Python API's (:func:`jupyter_serverless_ml.registry.promote`).
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..backends import Registry
from ..errors import NotFound, UsageError
from ..registry import promote_on, set_approval_on
from .config import BackendSet
from .handlers import SidebarHandler


def _body(handler: SidebarHandler) -> dict[str, Any]:
    try:
        data = json.loads(handler.request.body or b"{}")
    except ValueError:
        raise UsageError("the request body must be JSON") from None
    if not isinstance(data, dict):
        raise UsageError("the request body must be a JSON object")
    return data


def _backend(backends: BackendSet, name: str, version: int, chosen: str | None) -> Any:
    if chosen:
        return backends.get(chosen)
    last: NotFound | None = None
    for _, backend in backends.having(Registry):
        try:
            backend.model(name, version)
            return backend
        except NotFound as exc:
            last = exc
    raise last or NotFound(f"no served backend has model {name}:{version}")


def _version(raw: str) -> int:
    try:
        return int(raw.lstrip("v"))
    except ValueError:
        raise UsageError(f"model version {raw!r} must be a number") from None


def change_stage(backends: BackendSet, name: str, raw: str, body: dict[str, Any]) -> dict[str, Any]:
    """Promote (or move) a version behind the gate in ``body``."""
    version = _version(raw)
    stage = body.get("stage")
    if not isinstance(stage, str):
        raise UsageError('a stage change needs {"stage": "none|staging|production|archived"}')
    require = body.get("require")
    if require is not None and not (
        isinstance(require, str) or all(isinstance(r, str) for r in require)
    ):
        raise UsageError('"require" is a list of gates such as "accuracy>=0.9"')
    backend = _backend(backends, name, version, body.get("backend"))
    done = promote_on(
        backend,
        f"{name}:{version}",
        stage,
        require=require,
        compare=body.get("compare"),
        reason=str(body.get("reason") or ""),
    )
    return dict(done.record.to_wire(), backend=backend.name)


def change_approval(
    backends: BackendSet, name: str, raw: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Approve or reject a version."""
    version = _version(raw)
    approval = body.get("approval")
    if not isinstance(approval, str):
        raise UsageError(
            'an approval change needs {"approval": "Approved|Rejected|PendingManualApproval"}'
        )
    backend = _backend(backends, name, version, body.get("backend"))
    done = set_approval_on(backend, f"{name}:{version}", approval, str(body.get("reason") or ""))
    return dict(done.record.to_wire(), backend=backend.name)


class ModelStageHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        await self.call(lambda: (change_stage, (name, version, _body(self))))


class ModelApprovalHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        await self.call(lambda: (change_approval, (name, version, _body(self))))


_NAME = r"([^/]+)"
ROUTES = [
    (f"models/{_NAME}/{_NAME}/stage", ModelStageHandler),
    (f"models/{_NAME}/{_NAME}/approval", ModelApprovalHandler),
]

__all__ = ["ROUTES", "change_approval", "change_stage"]
