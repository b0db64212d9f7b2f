"""Vertex AI co-hosting: a multi-model endpoint (``%deploy NAME --multi-model``) as a
DeploymentResourcePool whose machines every model of the set shares.

What was chosen, and why: Vertex routes a ``predict`` on an endpoint by its traffic
split, with no per-request choice of deployed model, so each registered version of
the set gets an endpoint of its own (display name ``<name>--<model>-v<version>``,
labels ``jsml-kind=cohosted``, ``jsml-pool``, ``jsml-model``, ``jsml-version``) whose
one deployed model (display name ``model:version``) runs on the pool through
``shared_resources``: the models share the pool's replicas as an MME's share its
instances. A request names its model (``ep.predict(rows, model="fleet:3")``: ``3``,
``v3``, or a name for its latest version) and goes to that deployed model's endpoint.
The pool is named ``jsml-<name>``; machine type and min/max replicas are the pool's.
Vertex keeps every co-hosted model loaded, so ``--model-cache`` is refused, and the set
is deployed when the endpoint is: a version registered later is not served until the
endpoint is deployed again (a request for it says so).
"""

from __future__ import annotations

import re
import time
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...platform.serving.model_sets import describe_set, in_set, parse_target
from ...records import DeployRequest, EndpointRecord, ModelRecord, VariantRecord
from ...statuses import EndpointStatus
from . import images
from .core import LABEL_FILTER, VertexCore, label_value, labels, timestamp

COHOSTED = "cohosted"
VARIANT = "models"
#: how long a target naming a model's latest version keeps its endpoint
LATEST_SECONDS = 5.0
DEFAULT_MACHINE = "n1-standard-2"

__all__ = ["COHOSTED", "VARIANT", "VertexCohosting", "pool_id"]


def pool_id(name: str) -> str:
    """The DeploymentResourcePool id of multi-model endpoint ``name``."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return f"jsml-{cleaned}"[:63].rstrip("-")


class VertexCohosting(VertexCore):
    """Multi-model endpoints on Vertex AI (the base of ``VertexServing``)."""

    def _pools(self) -> Any:
        found = self._clients.get("pool")
        if found is None:
            from google.api_core.client_options import ClientOptions
            from google.cloud import aiplatform_v1 as v1

            found = v1.DeploymentResourcePoolServiceClient(
                transport="rest",
                credentials=self.credentials,
                client_options=ClientOptions(api_endpoint=self.settings.api_endpoint),
            )
            self._clients["pool"] = found
        return found

    @property
    def _cohost_targets(self) -> dict[tuple[str, str], tuple[float, Any]]:
        if not hasattr(self, "_cohost_cache"):
            self._cohost_cache: dict[tuple[str, str], tuple[float, Any]] = {}
        return self._cohost_cache

    def _pool(self, name: str) -> Any | None:
        """The pool of multi-model endpoint ``name``, or None."""
        full = f"{self.settings.parent}/deploymentResourcePools/{pool_id(name)}"
        try:
            return self._call(
                f"reading {full}", self._pools().get_deployment_resource_pool, name=full
            )
        except NotFound:
            return None

    def _pool_endpoints(self, name: str) -> list[Any]:
        query = f'{LABEL_FILTER} AND labels.jsml-pool="{label_value(name)}"'
        pager = self._call(
            f"listing the endpoints of {name}",
            self.client("endpoint").list_endpoints,
            request={"parent": self.settings.parent, "filter": query, "page_size": 100},
        )
        return list(self._call(f"listing the endpoints of {name}", list, pager))

    def _matching(self, source: str) -> list[ModelRecord]:
        registry: Any = self
        if source.endswith("*"):
            return [m for m in registry.models() if in_set(source, m.name)]
        return list(registry.models(source))

    def _deploy_cohosted(self, request: DeployRequest) -> EndpointRecord:
        from google.cloud import aiplatform_v1 as v1

        source = str(request.model)
        if request.endpoint:
            raise UsageError("a multi-model endpoint is created on its own (no --endpoint)")
        if request.model_cache:
            raise UsageError(
                "--model-cache: Vertex AI keeps every co-hosted model loaded on the pool's "
                "replicas; choose the machine type for the memory instead"
            )
        found = self._matching(source)
        if not found:
            raise NotFound(
                f"--multi-model {source}: no registered Vertex AI model "
                + (
                    f"starts with {source[:-1]!r}"
                    if source.endswith("*")
                    else f"is called {source!r}"
                )
                + " (%models --backend vertex lists them)"
            )
        minimum = 1 if request.min_replicas is None else request.min_replicas
        if minimum < 1:
            raise UsageError("Vertex AI deployment resource pools keep at least one replica")
        maximum = max(minimum, request.max_replicas or minimum)
        name = request.name or source.rstrip("*").rstrip("-_./") or "models"
        if self._pool(name) is not None or self._list_endpoints_named(name):
            raise Conflict(f"endpoint {name} exists on Vertex AI; %undeploy it first")
        machine = images.machine_spec(request.instance_type or DEFAULT_MACHINE)
        self.estimate(
            f"endpoint {name} (pool of {len(found)} models)",
            str(machine["machine_type"]),
            minimum,
            None,
        )
        operation = self._call(
            f"creating the deployment resource pool of {name}",
            self._pools().create_deployment_resource_pool,
            parent=self.settings.parent,
            deployment_resource_pool=v1.DeploymentResourcePool(
                dedicated_resources=v1.DedicatedResources(
                    machine_spec=v1.MachineSpec(**machine),
                    min_replica_count=minimum,
                    max_replica_count=maximum,
                )
            ),
            deployment_resource_pool_id=pool_id(name),
        )
        pool = self._wait(f"creating the deployment resource pool of {name}", operation)
        for model in found:
            self._cohost(name, source, pool.name, model)
        return self._pool_record(name, pool)

    def _cohost(self, name: str, source: str, pool: str, model: ModelRecord) -> Any:
        """An endpoint for ``model`` with its deployed model on ``pool``."""
        from google.cloud import aiplatform_v1 as v1

        display = f"{name}--{label_value(model.name)}-v{model.version}"
        operation = self._call(
            f"creating endpoint {display}",
            self.client("endpoint").create_endpoint,
            parent=self.settings.parent,
            endpoint=v1.Endpoint(
                display_name=display,
                description=f"jsml multi-model endpoint {name}: {source}",
                labels=labels(COHOSTED, pool=name, model=model.name, version=str(model.version)),
            ),
        )
        ep = self._wait(f"creating endpoint {display}", operation)
        operation = self._call(
            f"deploying {model.ref} to {name}",
            self.client("endpoint").deploy_model,
            endpoint=ep.name,
            deployed_model=v1.DeployedModel(
                model=model.details["resource_name"],
                display_name=model.ref,
                shared_resources=pool,
            ),
            traffic_split={"0": 100},
        )
        self._wait(f"deploying {model.ref} to {name}", operation)
        return ep

    def _pool_record(
        self, name: str, pool: Any, status: str | None = None, endpoints: list[Any] | None = None
    ) -> EndpointRecord:
        eps = self._pool_endpoints(name) if endpoints is None else endpoints
        source = next((e.description.split(": ", 1)[-1] for e in eps if e.description), name)
        resources = pool.dedicated_resources
        models = {
            d.display_name: f"{self.settings.api_endpoint}/v1/{e.name}:predict"
            for e in eps
            for d in e.deployed_models
        }
        variant = VariantRecord(
            name=VARIANT,
            model_name=source.rstrip("*"),
            model_version=0,
            traffic=100.0,
            replicas=int(resources.min_replica_count),
            min_replicas=int(resources.min_replica_count),
            max_replicas=int(resources.max_replica_count),
            details={
                "model_set": describe_set(source, len(models)),
                "deployment_resource_pool": pool.name,
                "machine_type": resources.machine_spec.machine_type,
            },
        )
        return EndpointRecord(
            name=name,
            backend="vertex",
            status=status or EndpointStatus.IN_SERVICE,
            created_at=timestamp(pool.create_time),
            traffic={VARIANT: 100.0},
            variants=(variant,),
            replicas=variant.replicas,
            min_replicas=variant.min_replicas,
            max_replicas=variant.max_replicas,
            invocation_url=next(iter(models.values()), ""),
            details={
                "resource_name": pool.name,
                "multi_model": {
                    "source": source,
                    "cache_bytes": None,
                    "models": {},
                    "endpoints": models,
                },
            },
        )

    def _cohosted_endpoint(self, name: str, target: str) -> Any:
        """The endpoint of the deployed model ``target`` names on multi-model endpoint ``name``."""
        cached = self._cohost_targets.get((name, target))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        eps = self._pool_endpoints(name)
        if not eps:
            if self._pool(name) is None:
                raise NotFound(f"no Vertex AI multi-model endpoint {name!r} (see %endpoints)")
            raise NotFound(f"multi-model endpoint {name} has no deployed models")
        source = eps[0].description.split(": ", 1)[-1]
        wanted = parse_target(source, target)
        if wanted is None:
            raise NotFound(f"endpoint {name} serves {source}; it has no model {target!r}")
        model_name, version = wanted
        if version is None:
            registry: Any = self
            version = registry.model(model_name).version
        for ep in eps:
            meta = dict(ep.labels)
            if meta.get("jsml-model") == label_value(model_name) and meta.get(
                "jsml-version"
            ) == str(version):
                until = float("inf") if wanted[1] is not None else time.monotonic() + LATEST_SECONDS
                self._cohost_targets[(name, target)] = (until, ep)
                return ep
        served = ", ".join(sorted(d.display_name for e in eps for d in e.deployed_models))
        raise NotFound(
            f"endpoint {name} does not host {model_name}:{version} (it hosts {served}); "
            "co-hosted models are deployed with the endpoint: %undeploy and %deploy it again "
            "to add a version registered since"
        )

    def _undeploy_cohosted(self, name: str, pool: Any) -> EndpointRecord:
        eps = self._pool_endpoints(name)
        last = self._pool_record(name, pool, EndpointStatus.DELETED, eps)
        for ep in eps:
            for deployed in ep.deployed_models:
                operation = self._call(
                    f"undeploying {deployed.display_name} from {name}",
                    self.client("endpoint").undeploy_model,
                    endpoint=ep.name,
                    deployed_model_id=deployed.id,
                    traffic_split={},
                )
                self._wait(f"undeploying {deployed.display_name}", operation)
            operation = self._call(
                f"deleting endpoint {ep.display_name}",
                self.client("endpoint").delete_endpoint,
                name=ep.name,
            )
            self._wait(f"deleting endpoint {ep.display_name}", operation)
        operation = self._call(
            f"deleting the deployment resource pool of {name}",
            self._pools().delete_deployment_resource_pool,
            name=pool.name,
        )
        self._wait(f"deleting the deployment resource pool of {name}", operation)
        self._cohost_targets.clear()
        return last

    def _list_endpoints_named(self, name: str) -> list[Any]:
        lister: Any = self
        return list(lister._list_endpoints(name))
