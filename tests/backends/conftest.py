"""The backends the contract suite runs against.

Each backend plugs in with one entry of :data:`ENVIRONMENTS`: its name and a
context manager that makes it reachable and yields the settings to build it with
(the local platform needs nothing; a cloud backend starts its local server, a
moto server or a REST fake, and yields region, bucket, endpoint...). The suite
then runs every test of every capability the backend claims.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from backends.env_sagemaker import sagemaker_environment
from backends.env_vertex import vertex_environment

from jupyter_serverless_ml import backends
from jupyter_serverless_ml.backends import Backend

Environment = Callable[[Path], contextlib.AbstractContextManager[dict[str, Any]]]


@contextlib.contextmanager
def local_environment(home: Path) -> Iterator[dict[str, Any]]:
    """The embedded platform of the module's ``$JSML_HOME`` (started on first use)."""
    yield {}


#: backend name -> the environment it runs in; cloud backends add their entry here
ENVIRONMENTS: dict[str, Environment] = {
    "local": local_environment,
    "sagemaker": sagemaker_environment,
    "vertex": vertex_environment,
}


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def backend(request: pytest.FixtureRequest, platform_home: Path) -> Iterator[Backend]:
    """A backend under contract test, with a fresh home, built as a user would
    (``use_backend`` with its settings), so the API's default backend is this one."""
    backends.reset()
    with ENVIRONMENTS[request.param](platform_home) as settings:
        built = backends.use_backend(request.param, **settings)
        assert built is not None
        try:
            yield built
        finally:
            backends.use_backend(None)
            backends.reset()
