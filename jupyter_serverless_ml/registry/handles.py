"""Handles of registered model versions: :class:`ModelVersion` and :class:`ModelList`."""

from __future__ import annotations

import html
from typing import Any

from ..backends import Backend, Registry, require
from ..display import format_metrics, html_table, text_table, when
from ..records import ModelRecord


class ModelVersion:
    """A registered model version: ``name``, ``version``, ``uri``, ``flavor``, ``stage``,
    ``approval``, ``metrics`` and ``lineage`` (job, bundle hash, data and their hashes,
    parameters, who and when); ``.load()``."""

    def __init__(self, backend: Backend, record: ModelRecord) -> None:
        self._backend = backend
        self.record = record
        self.name: str = record.name
        self.version: int = record.version
        self.uri: str = record.uri
        self.flavor: str = record.flavor
        self.job_id: str | None = record.job_id
        self.metadata: dict[str, Any] = dict(record.metadata)
        self.stage: str = str(record.stage)
        self.approval: str = str(record.approval)
        self.metrics: dict[str, float] = dict(record.metrics)
        self.lineage: dict[str, Any] = dict(self.metadata.get("lineage") or {})

    @property
    def ref(self) -> str:
        """``name:version``."""
        return f"{self.name}:{self.version}"

    def load(self) -> Any:
        """Load the model into this process."""
        return require(self._backend, Registry).load_model(self.record)

    def _lineage_lines(self) -> list[str]:
        lineage = self.lineage
        lines = []
        if lineage.get("job") or self.job_id:
            lines.append(f"job {lineage.get('job') or self.job_id}")
        if lineage.get("bundle_hash"):
            lines.append(f"bundle {str(lineage['bundle_hash'])[:16]}")
        for channel, data in (lineage.get("data") or {}).items():
            digest = data.get("sha256") or data.get("fingerprint")
            tag = (
                f" sha256 {digest[:16]}"
                if digest
                else (" (missing)" if data.get("missing") else "")
            )
            lines.append(f"data {channel}={data.get('uri')}{tag}")
        if lineage.get("hyperparameters"):
            params = ", ".join(f"{k}={v}" for k, v in lineage["hyperparameters"].items())
            lines.append(f"parameters {params}")
        if lineage.get("user"):
            lines.append(f"by {lineage['user']} {when(lineage.get('registered_at'))}")
        return lines

    def __repr__(self) -> str:
        head = (
            f"ModelVersion {self.ref} [{self.stage}, {self.approval}] ({self.flavor}, "
            f"{self.metadata.get('class')}) from job {self.job_id}\n  {self.uri}"
        )
        extra = [f"metrics {format_metrics(self.metrics)}"] if self.metrics else []
        return "\n  ".join([head, *extra, *self._lineage_lines()])

    def _repr_html_(self) -> str:
        rows = [["stage", self.stage], ["approval", self.approval], ["flavor", self.flavor]]
        rows += [["metrics", format_metrics(self.metrics)]] if self.metrics else []
        rows += [["lineage", line] for line in self._lineage_lines()]
        rows += [["uri", self.uri]]
        return f"<b>{html.escape(self.ref)}</b>" + html_table(("", ""), rows)


class ModelList(list[ModelVersion]):
    """A list of model versions that renders as a table."""

    HEADERS = (
        "model",
        "version",
        "stage",
        "approval",
        "metrics",
        "flavor",
        "class",
        "job",
        "created",
    )

    def _rows(self) -> list[list[Any]]:
        return [
            [
                m.name,
                m.version,
                m.stage,
                m.approval,
                format_metrics(m.metrics),
                m.flavor,
                m.metadata.get("class"),
                m.job_id,
                when(m.record.created_at),
            ]
            for m in self
        ]

    def __repr__(self) -> str:
        return text_table(self.HEADERS, self._rows()) if self else "no models"

    def _repr_html_(self) -> str:
        return html_table(self.HEADERS, self._rows()) if self else "<i>no models</i>"
