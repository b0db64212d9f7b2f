"""Vertex AI co-hosting through google-cloud-aiplatform, against the REST fake: a
multi-model endpoint is a DeploymentResourcePool whose models are deployed with
``shared_resources``, one endpoint per model version; a request names its model and is
answered by that deployed model; refusals; ``%deploy --multi-model``; undeploy removes
the endpoints and the pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from backends.vertex_fake import FakeVertex, fake_vertex

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import backends
from jupyter_serverless_ml.backends.vertex import VertexBackend
from jupyter_serverless_ml.errors import NotFound, PredictionError, UsageError
from jupyter_serverless_ml.registry.api import model_ref


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory, platform_home: Path) -> Iterator[FakeVertex]:
    with fake_vertex(tmp_path_factory.mktemp("cloud")) as running:
        yield running


@pytest.fixture()
def vertex(fake: FakeVertex) -> Iterator[VertexBackend]:
    backends.reset()
    built = backends.use_backend("vertex", **fake.settings())
    assert isinstance(built, VertexBackend)
    yield built
    backends.use_backend(None)
    backends.reset()


def register(name: str, value: float) -> str:
    from sklearn.dummy import DummyRegressor

    model = DummyRegressor(strategy="constant", constant=value).fit(np.zeros((2, 3)), np.zeros(2))
    found, version = model_ref(model, name, "vertex")
    return f"{found}:{version}"


def pools_client(fake: FakeVertex) -> Any:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1 as v1

    return v1.DeploymentResourcePoolServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=fake.url),
    )


def test_a_multi_model_endpoint_is_a_deployment_resource_pool(
    vertex: VertexBackend, fake: FakeVertex
) -> None:
    refs = [register("fleet-vx", float(i)) for i in range(3)]
    ep = jsml.deploy(
        "fleet-vx",
        multi_model=True,
        name="fleet-pool",
        instance_type="n1-standard-4",
        max_replicas=3,
    )
    try:
        pool_name = f"{vertex.settings.parent}/deploymentResourcePools/jsml-fleet-pool"
        pool = pools_client(fake).get_deployment_resource_pool(name=pool_name)
        assert pool.dedicated_resources.machine_spec.machine_type == "n1-standard-4"
        assert (
            pool.dedicated_resources.min_replica_count,
            pool.dedicated_resources.max_replica_count,
        ) == (1, 3)
        hosted = pools_client(fake).query_deployed_models(deployment_resource_pool=pool_name)
        deployed = list(hosted.deployed_models)
        assert sorted(d.display_name for d in deployed) == refs
        assert all(d.shared_resources == pool_name for d in deployed)
        assert not any(d.dedicated_resources.machine_spec.machine_type for d in deployed)
        assert hosted.total_endpoint_count == 3  # one endpoint per model version

        record = ep.record
        assert record.variants[0].model == "fleet-vx:* (3 models)"
        assert record.details["resource_name"] == pool_name
        assert set(record.details["multi_model"]["endpoints"]) == set(refs)
        assert "fleet-vx: 3 co-hosted model endpoint(s)" in repr(ep)

        # each request is answered by the deployed model it names
        for number, ref in enumerate(refs):
            assert ep.predict([[0, 0, 0]], model=ref).tolist() == [float(number)]
        assert ep.predict([[0, 0, 0]], model="2").tolist() == [1.0]
        assert ep.predict([[0, 0, 0]], model="fleet-vx").tolist() == [2.0]  # the latest
        answer = vertex.invoke_model("fleet-pool", "fleet-vx:1", b'{"instances": [[0, 0, 0]]}')
        by_id = {d.id: d.display_name for d in deployed}
        assert by_id[__import__("json").loads(answer.body)["deployedModelId"]] == "fleet-vx:1"

        # %endpoints shows the pool as one endpoint, not its three model endpoints
        listed = [e.name for e in jsml.endpoints(backend="vertex")]
        assert listed.count("fleet-pool") == 1
        assert not any(n.startswith("fleet-pool--") for n in listed)

        # refusals: no model named, one outside the set, one registered after the deploy
        with pytest.raises(PredictionError, match="multi-model endpoint: name the model"):
            ep.predict([[0, 0, 0]])
        with pytest.raises(NotFound, match="no model 'other:1'"):
            ep.predict([[0, 0, 0]], model="other:1")
        late = register("fleet-vx", 9.0)
        with pytest.raises(NotFound, match=f"does not host {late}"):
            ep.predict([[0, 0, 0]], model=late)
    finally:
        ep.undeploy()
    with pytest.raises(Exception, match="not found"):
        pools_client(fake).get_deployment_resource_pool(name=pool_name)
    assert not [e for e in jsml.endpoints(backend="vertex") if e.name.startswith("fleet-pool")]


def test_co_hosting_refusals(vertex: VertexBackend, fake: FakeVertex) -> None:
    register("solo-vx", 1.0)
    with pytest.raises(UsageError, match="keeps every co-hosted model loaded"):
        jsml.deploy("solo-vx", multi_model=True, model_cache="1G")
    with pytest.raises(UsageError, match="at least one replica"):
        jsml.deploy("solo-vx", multi_model=True, min_replicas=0)
    with pytest.raises(NotFound, match="starts with 'none-'"):
        jsml.deploy("none-*", multi_model=True)
    # the fake refuses what Vertex refuses: a pool that hosts models cannot be deleted
    ep = jsml.deploy("solo-vx", multi_model=True, name="solo-pool")
    try:
        name = f"{vertex.settings.parent}/deploymentResourcePools/jsml-solo-pool"
        with pytest.raises(Exception, match="still hosts 1 deployed model"):
            pools_client(fake).delete_deployment_resource_pool(name=name).result()
    finally:
        ep.undeploy()


def test_deploy_multi_model_through_the_magic(ipython: Any, fake: FakeVertex) -> None:
    try:
        line = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in fake.settings().items())
        ipython.run_line_magic("backend", f"vertex {line}")
        register("crew-a", 3.0)
        register("crew-b", 4.0)
        ep = ipython.run_line_magic("deploy", "crew-* --multi-model --name crews")
        try:
            assert ep.predict([[0, 0, 0]], model="crew-b").tolist() == [4.0]
            assert "crew-* (2 models)" in repr(ipython.run_line_magic("endpoint", "crews"))
        finally:
            ep.undeploy()
    finally:
        backends.use_backend(None)
        backends.reset()
