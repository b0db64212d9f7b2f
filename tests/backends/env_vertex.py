"""The Vertex backend's contract environment: the local fake of Vertex AI, Logging and GCS."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backends.vertex_fake import fake_vertex


@contextlib.contextmanager
def vertex_environment(home: Path) -> Iterator[dict[str, Any]]:
    """Start the fake beside ``home`` and yield the backend's settings for it."""
    with fake_vertex(home.parent / f"{home.name}-vertex") as fake:
        yield fake.settings()
