"""Stages and approval on every backend with a registry: the local platform, SageMaker model
packages (moto + the emulator: customer metadata ``jsml:stage``, ModelApprovalStatus) and Vertex
model versions (the REST fake: version aliases and labels), through the same API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backends.env_sagemaker import sagemaker_environment
from backends.env_vertex import vertex_environment
from sklearn.linear_model import LogisticRegression

from jupyter_serverless_ml import backends, registry
from jupyter_serverless_ml.backends import Backend
from jupyter_serverless_ml.errors import NotFound
from jupyter_serverless_ml.registry import PromotionRefused


@contextlib.contextmanager
def local_environment(home: Path) -> Iterator[dict[str, Any]]:
    yield {}


ENVIRONMENTS = {
    "local": local_environment,
    "sagemaker": sagemaker_environment,
    "vertex": vertex_environment,
}


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def backend(request: pytest.FixtureRequest, platform_home: Path) -> Iterator[Backend]:
    backends.reset()
    with ENVIRONMENTS[request.param](platform_home) as settings:
        built = backends.use_backend(request.param, **settings)
        assert built is not None
        try:
            yield built
        finally:
            backends.use_backend(None)
            backends.reset()


def test_stages_approval_and_the_previous_production(backend: Backend) -> None:
    fitted = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    refs = [registry.model_ref(fitted, "stages", None) for _ in range(3)]
    first, second, third = (f"stages:{v}" for _, v in refs)
    assert registry.model(first).stage == "none"

    one = registry.promote(first, "production")
    assert (one.stage, one.approval) == ("production", "Approved") and one.record.promoted_at
    assert registry.promote(second, "staging").stage == "staging"
    assert registry.model("stages@staging").ref == second
    registry.promote(second, "production")
    assert registry.model("stages@production").ref == second
    assert registry.model(first).stage == "archived"
    with pytest.raises(NotFound, match="no version of stages is in staging"):
        registry.model("stages@staging")
    assert registry.previous_production(backend, "stages").ref == first  # type: ignore[arg-type]

    rejected = registry.reject(second, reason="drifts")
    assert (rejected.approval, rejected.stage) == ("Rejected", "archived")
    with pytest.raises(PromotionRefused, match="was Rejected"):
        registry.promote(second, "production")
    assert registry.approve(third).approval == "Approved"
    assert registry.model(third).stage == "none"
    listed = {m.ref: (m.stage, m.approval) for m in registry.models("stages")}
    assert listed[first] == ("archived", "Approved")
    assert listed[second] == ("archived", "Rejected")
    assert listed[third] == ("none", "Approved")
