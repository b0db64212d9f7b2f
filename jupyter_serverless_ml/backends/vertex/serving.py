"""The serving part: Vertex AI endpoints, deployed model versions, traffic splits, predict.

Each variant is a deployed model named ``vN`` (the version it serves). Traffic
splits are whole percentages keyed by deployed-model id, as the API takes them;
every change first saves the split it replaces to Cloud Storage, so
``%rollback`` works from any kernel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...errors import Conflict, NotFound, UsageError
from ...platform.serving import traffic as splits
from ...records import DeployRequest, EndpointRecord, Invocation, VariantRecord
from ...statuses import EndpointStatus
from ..protocol import Serving
from . import images
from .cohosting import COHOSTED, VertexCohosting
from .core import LABEL_FILTER, labels, quoted, timestamp

DEFAULT_MACHINE = "n1-standard-2"


def whole_percentages(split: Mapping[str, float]) -> dict[str, int]:
    """``split`` rounded to whole percentages that still sum to 100 (largest remainders)."""
    if not split:
        return {}
    floors = {k: int(v) for k, v in split.items()}
    left = 100 - sum(floors.values())
    for key in sorted(split, key=lambda k: split[k] - int(split[k]), reverse=True)[: max(0, left)]:
        floors[key] += 1
    return floors


class VertexServing(VertexCohosting, Serving):
    """Endpoints on Vertex AI (multi-model endpoints: :mod:`.cohosting`)."""

    def curl(self, record: EndpointRecord, body: str = '{"instances": [[...]]}') -> str:
        """curl with an access token from your Google credentials."""
        return (
            f"curl -X POST {record.invocation_url} "
            '-H "Authorization: Bearer $(gcloud auth print-access-token)" '
            f"-H 'Content-Type: application/json' -d '{body}'"
        )

    def _history_uri(self, endpoint: Any) -> str:
        return self.uri("endpoints", endpoint.name.rsplit("/", 1)[-1], "traffic-history.json")

    def _endpoint_record(self, ep: Any, status: str | None = None) -> EndpointRecord:
        by_id = {d.id: d for d in ep.deployed_models}
        traffic = {
            by_id[i].display_name: float(p) for i, p in ep.traffic_split.items() if i in by_id
        }
        variants = []
        for d in ep.deployed_models:
            resources = d.dedicated_resources
            variants.append(
                VariantRecord(
                    name=d.display_name,
                    model_name=self._model_name(d.model),
                    model_version=int(d.model_version_id or 0),
                    traffic=traffic.get(d.display_name, 0.0),
                    replicas=int(resources.min_replica_count),
                    min_replicas=int(resources.min_replica_count),
                    max_replicas=int(resources.max_replica_count),
                    details={
                        "deployed_model_id": d.id,
                        "model": d.model,
                        "machine_type": resources.machine_spec.machine_type,
                    },
                )
            )
        state = status or (EndpointStatus.IN_SERVICE if variants else EndpointStatus.CREATING)
        return EndpointRecord(
            name=ep.display_name,
            backend=self.name,
            status=state,
            created_at=timestamp(ep.create_time),
            traffic=traffic,
            variants=tuple(variants),
            replicas=sum(v.replicas for v in variants),
            min_replicas=sum(v.min_replicas for v in variants),
            max_replicas=sum(v.max_replicas for v in variants),
            invocation_url=f"{self.settings.api_endpoint}/v1/{ep.name}:predict",
            details={
                "resource_name": ep.name,
                "console_url": self.settings.console("endpoints", ep.name.rsplit("/", 1)[-1]),
            },
        )

    @property
    def _model_names(self) -> dict[str, str]:
        if not hasattr(self, "_names_cache"):
            self._names_cache: dict[str, str] = {}
        return self._names_cache

    def _model_name(self, resource: str) -> str:
        """The display name of a model resource (read once)."""
        resource = resource.split("@")[0]
        if resource not in self._model_names:
            model = self._call(
                "reading a deployed model", self.client("model").get_model, name=resource
            )
            self._model_names[resource] = model.display_name
        return self._model_names[resource]

    def _list_endpoints(self, name: str | None = None) -> list[Any]:
        query = LABEL_FILTER + (f" AND display_name={quoted(name)}" if name else "")
        pager = self._call(
            "listing Vertex AI endpoints",
            self.client("endpoint").list_endpoints,
            request={"parent": self.settings.parent, "filter": query, "page_size": 100},
        )
        return list(self._call("listing Vertex AI endpoints", list, pager))

    def _find_endpoint(self, name: str) -> Any:
        found = self._list_endpoints(name)
        if not found:
            raise NotFound(
                f"no Vertex AI endpoint {name!r}; list them with %endpoints --backend vertex"
            )
        return found[0]

    def _apply(self, ep: Any, split: Mapping[str, float], remember: bool = True) -> Any:
        """Set the split (variant name -> percent), saving the one it replaces."""
        from google.cloud import aiplatform_v1 as v1

        ids = {d.display_name: d.id for d in ep.deployed_models}
        if remember:
            self._remember(ep)
        body = v1.Endpoint(
            name=ep.name, traffic_split={ids[k]: v for k, v in whole_percentages(split).items()}
        )
        return self._call(
            f"updating the traffic of {ep.display_name}",
            self.client("endpoint").update_endpoint,
            endpoint=body,
            update_mask={"paths": ["traffic_split"]},
        )

    def _history(self, ep: Any) -> list[dict[str, float]]:
        data = self.storage.read(self._history_uri(ep))
        return list(json.loads(data)) if data else []

    def _remember(self, ep: Any) -> None:
        current = dict(self._endpoint_record(ep).traffic)
        if current:
            history = splits.remember(self._history(ep), current)[-splits.HISTORY_KEPT :]
            self.storage.write(
                self._history_uri(ep), json.dumps(history).encode(), "application/json"
            )

    def deploy(self, request: DeployRequest) -> EndpointRecord:
        from google.cloud import aiplatform_v1 as v1

        if request.serverless_memory:
            raise UsageError(
                "Vertex AI has no serverless endpoints; deploy with --min-replicas and "
                "--max-replicas (Vertex needs at least one replica), or use --backend sagemaker"
            )

        if request.multi_model:
            return self._deploy_cohosted(request)
        model = self.model(request.model, request.version)  # type: ignore[attr-defined]
        if not model.details.get("serving_exact", True):
            images.prediction_image(model.flavor, {}, None)  # raises the reason, nothing created
        minimum = 1 if request.min_replicas is None else request.min_replicas
        if minimum < 1:
            raise UsageError(
                "Vertex AI endpoints keep at least one replica; deploy with --min-replicas 1 "
                "(scale to zero is a feature of the local backend)"
            )
        maximum = max(minimum, request.max_replicas or minimum)
        share = splits.new_variant_share(request.traffic if request.endpoint else None)
        machine = images.machine_spec(request.instance_type or DEFAULT_MACHINE)
        name = request.endpoint or request.name or model.name
        self.estimate(f"endpoint {name}", str(machine["machine_type"]), minimum, None)
        if request.endpoint:
            ep = self._find_endpoint(request.endpoint)
        else:
            if self._list_endpoints(name):
                raise Conflict(
                    f"endpoint {name} exists; add a variant with --endpoint {name} --traffic PCT, or %undeploy it"
                )
            operation = self._call(
                f"creating endpoint {name}",
                self.client("endpoint").create_endpoint,
                parent=self.settings.parent,
                endpoint=v1.Endpoint(display_name=name, labels=labels("endpoint", name=name)),
            )
            ep = self._wait(f"creating endpoint {name}", operation)
        variant = f"v{model.version}"
        if any(d.display_name == variant for d in ep.deployed_models):
            raise Conflict(f"endpoint {name} already serves {model.ref} as {variant}")
        current = self._endpoint_record(ep).traffic
        rest = (
            splits.shift(name, current, [*current, variant], {variant: share})
            if current
            else {variant: 100.0}
        )
        old_ids = {d.display_name: d.id for d in ep.deployed_models}
        split = {
            ("0" if k == variant else old_ids[k]): v for k, v in whole_percentages(rest).items()
        }
        if current:
            self._remember(ep)
        deployed = v1.DeployedModel(
            model=model.details["resource_name"],
            display_name=variant,
            dedicated_resources=v1.DedicatedResources(
                machine_spec=v1.MachineSpec(**machine),
                min_replica_count=minimum,
                max_replica_count=maximum,
            ),
        )
        operation = self._call(
            f"deploying {model.ref} to {name}",
            self.client("endpoint").deploy_model,
            endpoint=ep.name,
            deployed_model=deployed,
            traffic_split=split,
        )
        self._wait(f"deploying {model.ref} to {name}", operation)
        self._model_names[model.details["resource_name"].split("@")[0]] = model.name
        return self.endpoint(name)

    def endpoints(self) -> list[EndpointRecord]:
        found = self._list_endpoints()
        records = [
            self._endpoint_record(e) for e in found if dict(e.labels).get("jsml-kind") != COHOSTED
        ]
        pools: dict[str, list[Any]] = {}
        for ep in found:
            if dict(ep.labels).get("jsml-kind") == COHOSTED and ep.description:
                head = ep.description.split(": ", 1)[0]
                pools.setdefault(head.rsplit(" ", 1)[-1], []).append(ep)
        for name, eps in sorted(pools.items()):
            pool = self._pool(name)
            if pool is not None:
                records.append(self._pool_record(name, pool, endpoints=eps))
        return records

    def endpoint(self, name: str) -> EndpointRecord:
        try:
            return self._endpoint_record(self._find_endpoint(name))
        except NotFound:
            pool = self._pool(name)
            if pool is None:
                raise
            return self._pool_record(name, pool)

    def invoke_model(
        self,
        name: str,
        target_model: str,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Invocation:
        """Predict on the endpoint of the deployed model ``target_model`` names."""
        return self._predict(
            name, lambda: self._cohosted_endpoint(name, target_model), body, content_type, False
        )

    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Invocation:
        """Vertex's ``predict``: the body is ``{"instances": [...], "parameters": ...}``."""
        return self._predict(name, lambda: self._find_endpoint(name), body, content_type)

    def _predict(
        self, name: str, find: Any, body: bytes, content_type: str, plain: bool = True
    ) -> Invocation:
        """PredictionService.predict on the endpoint ``find()`` gives (``plain``: a call
        without a model, refused with advice on a multi-model endpoint)."""

        def refuse(status: int, message: str) -> Invocation:
            return Invocation(status, "application/json", json.dumps({"error": message}).encode())

        if "json" not in content_type:
            return refuse(415, f"Vertex AI predict takes application/json, not {content_type}")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return refuse(400, f"the request body is not JSON: {exc}")
        if isinstance(payload, dict):
            payload = _as_instances(payload)
        if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
            return refuse(400, 'the request body must be {"instances": [...]}')
        try:
            ep = find()
        except NotFound:
            if not plain or self._pool(name) is None:
                raise
            return refuse(
                400,
                f"{name} is a multi-model endpoint: name the model, "
                "ep.predict(rows, model='NAME:VERSION')",
            )
        try:
            reply = self._call(
                f"invoking {name}",
                self.client("prediction").predict,
                endpoint=ep.name,
                instances=payload["instances"],
                parameters=payload.get("parameters"),
            )
        except UsageError as exc:  # the model refused the input (HTTP 400)
            return refuse(400, str(exc))
        variant = next(
            (d.display_name for d in ep.deployed_models if d.id == reply.deployed_model_id), None
        )
        out = {
            "predictions": [_plain(p) for p in reply.predictions],
            "deployedModelId": reply.deployed_model_id,
            "model": reply.model,
            "modelVersionId": reply.model_version_id,
        }
        return Invocation(200, "application/json", json.dumps(out).encode(), variant)

    def traffic(self, name: str, weights: Mapping[str, float]) -> EndpointRecord:
        ep = self._find_endpoint(name)
        current = self._endpoint_record(ep)
        new = splits.shift(name, current.traffic, [v.name for v in current.variants], weights)
        return self._endpoint_record(self._apply(ep, new))

    def rollback(self, name: str) -> EndpointRecord:
        ep = self._find_endpoint(name)
        variants = [d.display_name for d in ep.deployed_models]
        split, history = splits.roll_back(name, self._history(ep), variants)
        updated = self._apply(ep, split, remember=False)
        self.storage.write(self._history_uri(ep), json.dumps(history).encode(), "application/json")
        return self._endpoint_record(updated)

    def undeploy(self, name: str) -> EndpointRecord:
        try:
            ep = self._find_endpoint(name)
        except NotFound:
            pool = self._pool(name)
            if pool is None:
                raise
            return self._undeploy_cohosted(name, pool)
        last = self._endpoint_record(ep, EndpointStatus.DELETED)
        ids = [d.id for d in ep.deployed_models]
        for index, deployed_id in enumerate(ids):
            remaining = ids[index + 1 :]
            split = {remaining[0]: 100} if remaining else {}
            split.update({i: 0 for i in remaining[1:]})
            operation = self._call(
                f"undeploying from {name}",
                self.client("endpoint").undeploy_model,
                endpoint=ep.name,
                deployed_model_id=deployed_id,
                traffic_split=split,
            )
            self._wait(f"undeploying from {name}", operation)
        operation = self._call(
            f"deleting endpoint {name}", self.client("endpoint").delete_endpoint, name=ep.name
        )
        self._wait(f"deleting endpoint {name}", operation)
        self.storage.delete_prefix(self.uri("endpoints", ep.name.rsplit("/", 1)[-1]))
        return last


def _as_instances(payload: dict[str, Any]) -> dict[str, Any]:
    """A DataFrame body (``dataframe_split``/``dataframe_records``, what ``ep.predict`` sends
    for a DataFrame) as Vertex ``instances``: one list of feature values per row."""
    split = payload.get("dataframe_split")
    if isinstance(split, dict) and isinstance(split.get("data"), list):
        return {"instances": split["data"], "parameters": payload.get("parameters")}
    records = payload.get("dataframe_records")
    if isinstance(records, list) and all(isinstance(r, dict) for r in records):
        return {"instances": [list(r.values()) for r in records]}
    return payload


def _plain(value: Any) -> Any:
    """A protobuf ``Value`` (or proto-plus wrapper) as plain JSON data."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or type(value).__name__ in (
        "RepeatedComposite",
        "RepeatedScalarContainer",
    ):
        return [_plain(v) for v in value]
    return value
