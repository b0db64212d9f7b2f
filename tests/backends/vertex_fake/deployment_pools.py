"""Vertex AI co-hosting in the fake: DeploymentResourcePools and models deployed on them.

Routes of ``DeploymentResourcePoolService`` (create, get, list, delete,
queryDeployedModels), bodies parsed into ``aiplatform_v1`` messages with unknown fields
refused, as :mod:`.api` does. ``endpoints.deployModel`` is answered here first: a
deployed model with ``shared_resources`` must name a pool that exists and takes no
``dedicated_resources`` of its own (the real API's 400s); one without goes on to
:meth:`.api.VertexApi.deploy_model`. A pool that still hosts deployed models cannot be
deleted (FAILED_PRECONDITION), as on Vertex. Predictions on co-hosted models run
through the same emulator as any deployed model.
"""

from __future__ import annotations

import re
from typing import Any

from google.cloud import aiplatform_v1 as v1

from .api import LOC, MACHINE, VertexApi, VertexStore
from .messages import now, parse, reply
from .web import ApiError, Request, Response, Router

POOL_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


class DeploymentPools:
    """The pools of one fake (``pools``: full name -> pool)."""

    def __init__(self, store: VertexStore, emulator: Any) -> None:
        self.store = store
        self.api = VertexApi(store, emulator)  # the endpoint routes' helpers (no state of its own)
        self.pools: dict[str, v1.DeploymentResourcePool] = {}

    def install(self, router: Router) -> None:
        pools = LOC + r"/deploymentResourcePools"
        router.add("POST", pools, self.create)
        router.add("GET", pools, self.list)
        router.add("GET", pools + r"/(?P<id>[^/:]+)", self.get)
        router.add("DELETE", pools + r"/(?P<id>[^/:]+)", self.delete)
        router.add("GET", pools + r"/(?P<id>[^/:]+):queryDeployedModels", self.query)
        deploy = re.compile(LOC + r"/endpoints/(?P<id>[^/:]+):deployModel$")
        router.routes.insert(0, ("POST", deploy, self.deploy_model))

    def _pool(self, req: Request) -> v1.DeploymentResourcePool:
        name = f"{self.api.parent(req)}/deploymentResourcePools/{req.params['id']}"
        pool = self.pools.get(name)
        if pool is None:
            raise ApiError(404, f"DeploymentResourcePool {name} is not found.")
        return pool

    def _hosted(self, pool: str) -> list[tuple[v1.Endpoint, v1.DeployedModel]]:
        return [
            (ep, d)
            for ep in self.store.endpoints.values()
            for d in ep.deployed_models
            if d.shared_resources == pool
        ]

    def create(self, req: Request) -> Response:
        request = parse(v1.CreateDeploymentResourcePoolRequest, req, "*")
        self.store.requests.append(("deploymentResourcePools.create", request))
        pool_id = request.deployment_resource_pool_id
        if not POOL_ID.match(pool_id):
            raise ApiError(
                400,
                f"deployment_resource_pool_id {pool_id!r} must match "
                "[a-z]([a-z0-9-]{0,61}[a-z0-9])?.",
            )
        pool = request.deployment_resource_pool
        resources = pool.dedicated_resources
        if not MACHINE.match(resources.machine_spec.machine_type):
            raise ApiError(
                400, f'Machine type "{resources.machine_spec.machine_type}" is not supported.'
            )
        if resources.min_replica_count < 1 or resources.max_replica_count < (
            resources.min_replica_count
        ):
            raise ApiError(
                400,
                "dedicated_resources.min_replica_count must be at least 1 and at most "
                "max_replica_count.",
            )
        name = f"{self.api.parent(req)}/deploymentResourcePools/{pool_id}"
        with self.store.lock:
            if name in self.pools:
                raise ApiError(409, f"DeploymentResourcePool {name} already exists.")
            pool.name = name
            pool.create_time = now()
            self.pools[name] = pool
        return self.store.operation(self.api.parent(req), pool)

    def get(self, req: Request) -> Response:
        return reply(self._pool(req))

    def list(self, req: Request) -> Response:
        parent = self.api.parent(req) + "/"
        found = [p for n, p in self.pools.items() if n.startswith(parent)]
        return reply(v1.ListDeploymentResourcePoolsResponse(deployment_resource_pools=found))

    def delete(self, req: Request) -> Response:
        pool = self._pool(req)
        hosted = self._hosted(pool.name)
        if hosted:
            raise ApiError(
                400,
                f"DeploymentResourcePool {pool.name} still hosts {len(hosted)} deployed "
                "model(s); undeploy them first.",
                "FAILED_PRECONDITION",
            )
        del self.pools[pool.name]
        return self.store.operation(self.api.parent(req), None)

    def query(self, req: Request) -> Response:
        pool = self._pool(req)
        hosted = self._hosted(pool.name)
        return reply(
            v1.QueryDeployedModelsResponse(
                deployed_models=[d for _, d in hosted],
                deployed_model_refs=[
                    v1.DeployedModelRef(endpoint=ep.name, deployed_model_id=d.id)
                    for ep, d in hosted
                ],
                total_deployed_model_count=len(hosted),
                total_endpoint_count=len({ep.name for ep, _ in hosted}),
            )
        )

    def deploy_model(self, req: Request) -> Response:
        request = parse(v1.DeployModelRequest, req, "*")
        deployed = request.deployed_model
        if not deployed.shared_resources:
            return self.api.deploy_model(req)
        self.store.requests.append(("endpoints.deployModel", request))
        if deployed.dedicated_resources.machine_spec.machine_type or (
            deployed.automatic_resources.min_replica_count
        ):
            raise ApiError(
                400, "A deployed model takes one of dedicated, automatic or shared resources."
            )
        if deployed.shared_resources not in self.pools:
            raise ApiError(404, f"DeploymentResourcePool {deployed.shared_resources} is not found.")
        ep = self.api._endpoint(req)
        model = self.store.model(deployed.model)
        deployed.id = self.store.new_id()
        deployed.model = model.name
        deployed.model_version_id = model.version_id
        deployed.create_time = now()
        split = {
            (deployed.id if k == "0" else k): v for k, v in dict(request.traffic_split).items()
        }
        ep.deployed_models = [*ep.deployed_models, deployed]
        self.api._check_split(ep, split or {deployed.id: 100})
        ep.traffic_split = split or {deployed.id: 100}
        return self.store.operation(
            self.api.parent(req), v1.DeployModelResponse(deployed_model=deployed)
        )
