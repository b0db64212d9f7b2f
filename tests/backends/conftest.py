"""The backends the contract suite runs against.

Each backend plugs in with a fixture entry: its name and a context manager that
makes it reachable (the local platform here; a moto server or a Vertex REST fake
for the clouds when those backends land). The suite then runs every test of
every capability the backend claims.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_serverless_ml import backends
from jupyter_serverless_ml.backends import Backend

#: name -> what the fixture needs (all local today)
CONTRACT_BACKENDS = ["local"]


@pytest.fixture(scope="module", params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest, platform_home: Path) -> Iterator[Backend]:
    """A backend under contract test, with a fresh home."""
    backends.reset()
    yield backends.get_backend(request.param)
    backends.reset()
