"""The local backend's tuning part: studies run by the platform daemon's tuning service.

The study's orchestration lives in the daemon (see
:mod:`jupyter_serverless_ml.platform.tuning`), so a study goes on when the kernel
that started it dies, and ``resume_study`` re-attaches to it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..packaging import Bundle
from .tuning_part import StudyRecord, StudyRequest, Tuning


class LocalTuning(Tuning):
    """Mixed into :class:`~.local.LocalBackend` (which provides ``_call``)."""

    def _call(
        self, method: str, path: str, body: Any = None, timeout: float = 30.0, **params: Any
    ) -> Any:
        raise NotImplementedError  # LocalBackend's own _call is the one used

    def submit_study(self, bundle: Bundle, request: StudyRequest) -> StudyRecord:
        wire = request.to_wire()
        job = dict(wire.pop("training"), bundle=str(bundle.path))
        wire["job"] = job
        return StudyRecord.from_wire(self._call("POST", "/v1/studies", wire, timeout=120.0))

    def study(self, name: str, wait: float | None = None, since: float = 0.0) -> StudyRecord:
        path = f"/v1/studies/{quote(name, safe='')}"
        if wait is None:
            return StudyRecord.from_wire(self._call("GET", path))
        return StudyRecord.from_wire(
            self._call("GET", path, wait=wait, since=repr(float(since)), timeout=wait + 30)
        )

    def studies(self) -> list[StudyRecord]:
        return [StudyRecord.from_wire(s) for s in self._call("GET", "/v1/studies")["studies"]]

    def stop_study(self, name: str) -> StudyRecord:
        return StudyRecord.from_wire(self._call("POST", f"/v1/studies/{quote(name, safe='')}/stop"))

    def resume_study(
        self, name: str, trials: int | None = None, parallel: int | None = None
    ) -> StudyRecord:
        body = {"trials": trials, "parallel": parallel}
        return StudyRecord.from_wire(
            self._call("POST", f"/v1/studies/{quote(name, safe='')}/resume", body, timeout=120.0)
        )


__all__ = ["LocalTuning"]
