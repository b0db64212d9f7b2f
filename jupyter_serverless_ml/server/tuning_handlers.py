"""The sidebar API's tuning routes (under ``<base_url>/serverless-ml/api/``)::

    GET  studies          {"studies": [summary, ...]}: every tuning backend's studies, newest
                          first, each with its "backend"
    GET  studies/<name>   one study with its trials

A summary::

    {"name": "cancer", "backend": "local", "status": "Running",
     "objective": "accuracy", "direction": "maximize", "strategy": "tpe",
     "early_stop": false, "trials_budget": 20, "parallel": 2, "space": {...},
     "counts": {"Running": 2, "Completed": 5, "Pruned": 1, "Failed": 0, "Stopped": 0},
     "best": {"number": 3, "value": 0.97, "params": {"C": 0.4}, "job_id": "..."} | null,
     "model_name": "cancer", "model_version": 4 | null, "failure_reason": null,
     "created_at": 1767000000.0, "updated_at": ..., "ended_at": null}

A study is its summary plus ``"trials"``, by number::

    {"number": 0, "status": "Completed" | "Running" | "Pruned" | "Failed" | "Stopped",
     "params": {"C": 0.4, "penalty": "l2"}, "value": 0.95, "step": null,
     "job_id": "cancer-t0-...", "started_at": ..., "ended_at": ..., "duration": 1.2,
     "best_so_far": 0.95, "reason": null}

``value`` is the objective (the last intermediate value of a running or pruned trial),
``best_so_far`` the best completed objective among trials up to this one, ``duration``
seconds. The status lists are in ``GET backends`` (``statuses.study``, ``statuses.trial``).
"""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..backends.tuning_part import Tuning
from ..errors import NotFound
from .config import BackendSet
from .handlers import SidebarHandler


def studies(backends: BackendSet) -> dict[str, Any]:
    """Every study of every tuning backend, newest first."""
    found = []
    for name, backend in backends.having(Tuning):
        for record in backend.studies():
            found.append(dict(record.to_wire(), backend=name))
    found.sort(key=lambda s: s["created_at"], reverse=True)
    return {"studies": found}


def study(backends: BackendSet, name: str) -> dict[str, Any]:
    """One study with its trials (the first tuning backend that knows it)."""
    last: NotFound | None = None
    for backend_name, backend in backends.having(Tuning):
        try:
            return dict(backend.study(name).to_wire(), backend=backend_name)
        except NotFound as exc:
            last = exc
    raise last or NotFound("no served backend runs tuning studies")


class StudiesHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(lambda: (studies, ()))


class StudyHandler(SidebarHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.call(lambda: (study, (name,)))


ROUTES = [("studies", StudiesHandler), (r"studies/([^/]+)", StudyHandler)]

__all__ = ["ROUTES", "StudiesHandler", "StudyHandler", "studies", "study"]
