"""Handles of registered model versions: :class:`ModelVersion` and :class:`ModelList`."""

from __future__ import annotations

from typing import Any

from ..backends import Backend, Registry, require
from ..display import html_table, text_table, when
from ..records import ModelRecord


class ModelVersion:
    """A registered model version: ``name``, ``version``, ``uri``, ``flavor``; ``.load()``."""

    def __init__(self, backend: Backend, record: ModelRecord) -> None:
        self._backend = backend
        self.record = record
        self.name: str = record.name
        self.version: int = record.version
        self.uri: str = record.uri
        self.flavor: str = record.flavor
        self.job_id: str | None = record.job_id
        self.metadata: dict[str, Any] = dict(record.metadata)

    def load(self) -> Any:
        """Load the model into this process."""
        return require(self._backend, Registry).load_model(self.record)

    def __repr__(self) -> str:
        return (
            f"ModelVersion {self.name}:{self.version} ({self.flavor}, "
            f"{self.metadata.get('class')}) from job {self.job_id}\n  {self.uri}"
        )


class ModelList(list[ModelVersion]):
    """A list of model versions that renders as a table."""

    HEADERS = ("model", "version", "flavor", "class", "job", "created")

    def _rows(self) -> list[list[Any]]:
        return [
            [
                m.name,
                m.version,
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
