"""The Vertex AI REST routes the backend uses, validated against the API's own messages.

Every request body is parsed into its ``google.cloud.aiplatform_v1.types`` message with
unknown fields refused (400 ``INVALID_ARGUMENT`` in Google's error shape, naming the
field, as the real API answers); every reply is that message's JSON. Resources live
in memory; long-running operations finish at once and are kept for ``operations.get``.
"""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

from google.cloud import aiplatform_v1 as v1

from .api_batch import BatchRoutes
from .messages import TYPE_URL, now, parse, reply, to_json
from .pipelines import PipelineRoutes
from .web import ApiError, Request, Response, Router

LOC = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
_TERM = re.compile(r'^\s*([\w.-]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$')
MACHINE = re.compile(
    r"^(n1|n2|n2d|e2|c2|c2d|a2|a3|g2|m1)-(standard|highmem|highcpu|highgpu|megagpu|ultragpu|ultramem|megamem)-\d+g?$"
)


def matches(resource: Any, query: str) -> bool:
    """The list filters the backend sends: ``labels.K="V"`` and ``display_name="V"`` with AND."""
    for raw in filter(None, re.split(r"\s+AND\s+", query or "")):
        term = _TERM.match(raw)
        if not term:
            raise ApiError(400, f"Invalid filter: {raw}")
        key, value = term.group(1), term.group(2).replace('\\"', '"')
        if key.startswith("labels."):
            if dict(resource.labels).get(key[len("labels.") :]) != value:
                return False
        elif key == "display_name":
            if resource.display_name != value:
                return False
        else:
            raise ApiError(400, f"Unsupported filter field: {key}")
    return True


class VertexStore:
    """Resources by full name, and the hooks the emulator runs."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.ids = itertools.count(1001)
        self.jobs: dict[str, v1.CustomJob] = {}
        self.batches: dict[str, v1.BatchPredictionJob] = {}
        self.models: dict[str, list[v1.Model]] = {}
        self.endpoints: dict[str, v1.Endpoint] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        #: every parsed request body, (route, message), for tests to assert on
        self.requests: list[tuple[str, Any]] = []

    def new_id(self) -> str:
        return str(next(self.ids))

    def operation(self, parent: str, response: Any | None, kind: str = "") -> Response:
        name = f"{parent}/operations/{self.new_id()}"
        body: dict[str, Any] = {"name": name, "done": True}
        if response is None:
            body["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
        else:
            body["response"] = {
                "@type": TYPE_URL + (kind or type(response).__name__),
                **to_json(response),
            }
        self.operations[name] = body
        return Response.of_json(body)

    def model_versions(self, name: str) -> list[v1.Model]:
        base = name.split("@")[0]
        versions = self.models.get(base)
        if not versions:
            raise ApiError(404, f"Model {base} is not found.")
        return versions

    def model(self, name: str) -> v1.Model:
        versions = self.model_versions(name)
        _, _, wanted = name.partition("@")
        wanted = wanted or "default"
        for model in versions:
            if model.version_id == wanted or wanted in model.version_aliases:
                return model
        raise ApiError(404, f"Model {name} is not found.")


class VertexApi(BatchRoutes, PipelineRoutes):
    """The routes; ``emulator`` runs jobs and predictions (see :mod:`.emulator`)."""

    def __init__(self, store: VertexStore, emulator: Any) -> None:
        self.store = store
        self.emulator = emulator

    def install(self, router: Router) -> None:
        add = router.add
        add("POST", LOC + r"/customJobs", self.create_job)
        add("GET", LOC + r"/customJobs", self.list_jobs)
        add("GET", LOC + r"/customJobs/(?P<id>[^/:]+)", self.get_job)
        add("POST", LOC + r"/customJobs/(?P<id>[^/:]+):cancel", self.cancel_job)
        add("POST", LOC + r"/models:upload", self.upload_model)
        add("GET", LOC + r"/models", self.list_models)
        add("GET", LOC + r"/models/(?P<id>[^/:]+)", self.get_model)
        add("GET", LOC + r"/models/(?P<id>[^/:]+):listVersions", self.list_versions)
        add("DELETE", LOC + r"/models/(?P<id>[^/:]+):deleteVersion", self.delete_version)
        add("DELETE", LOC + r"/models/(?P<id>[^/:]+)", self.delete_model)
        add("POST", LOC + r"/endpoints", self.create_endpoint)
        add("GET", LOC + r"/endpoints", self.list_endpoints)
        add("GET", LOC + r"/endpoints/(?P<id>[^/:]+)", self.get_endpoint)
        add("PATCH", LOC + r"/endpoints/(?P<id>[^/:]+)", self.update_endpoint)
        add("DELETE", LOC + r"/endpoints/(?P<id>[^/:]+)", self.delete_endpoint)
        add("POST", LOC + r"/endpoints/(?P<id>[^/:]+):deployModel", self.deploy_model)
        add("POST", LOC + r"/endpoints/(?P<id>[^/:]+):undeployModel", self.undeploy_model)
        add("POST", LOC + r"/endpoints/(?P<id>[^/:]+):predict", self.predict)
        add("POST", LOC + r"/batchPredictionJobs", self.create_batch)
        add("GET", LOC + r"/batchPredictionJobs", self.list_batches)
        add("GET", LOC + r"/batchPredictionJobs/(?P<id>[^/:]+)", self.get_batch)
        add("POST", LOC + r"/batchPredictionJobs/(?P<id>[^/:]+):cancel", self.cancel_batch)
        add("DELETE", LOC + r"/batchPredictionJobs/(?P<id>[^/:]+)", self.delete_batch)
        self.install_pipelines(router)
        for prefix in ("/ui", "/v1"):
            add(
                "GET",
                prefix + r"/projects/[^/]+/locations/[^/]+/operations/[^/]+",
                self.get_operation,
            )

    @staticmethod
    def parent(req: Request) -> str:
        return f"projects/{req.params['project']}/locations/{req.params['location']}"

    def _page(self, items: list[Any], req: Request, field: str, kind: Any) -> Response:
        items = [i for i in items if matches(i, req.arg("filter") or "")]
        start = int(req.arg("pageToken") or 0)
        size = int(req.arg("pageSize") or 100)
        out = kind(**{field: items[start : start + size]})
        if start + size < len(items):
            out.next_page_token = str(start + size)
        return reply(out)

    # -- custom jobs ----------------------------------------------------------------

    def create_job(self, req: Request) -> Response:
        job = parse(v1.CustomJob, req, "custom_job")
        self.store.requests.append(("customJobs.create", job))
        if not job.display_name:
            raise ApiError(
                400,
                "List of found errors:\t1.Field: custom_job.display_name; Message: Required field is not set.",
            )
        if not job.job_spec.worker_pool_specs:
            raise ApiError(
                400,
                "List of found errors:\t1.Field: custom_job.job_spec.worker_pool_specs; "
                "Message: Required field is not set.",
            )
        for spec in job.job_spec.worker_pool_specs:
            machine = spec.machine_spec.machine_type
            if not MACHINE.match(machine):
                raise ApiError(400, f'Machine type "{machine}" is not supported.')
        with self.store.lock:
            job.name = f"{self.parent(req)}/customJobs/{self.store.new_id()}"
            job.state = v1.JobState.JOB_STATE_PENDING
            job.create_time = job.update_time = now()
            self.store.jobs[job.name] = job
        self.emulator.start_job(job.name)
        return reply(job)

    def _job(self, req: Request) -> v1.CustomJob:
        name = f"{self.parent(req)}/customJobs/{req.params['id']}"
        job = self.store.jobs.get(name)
        if job is None:
            raise ApiError(404, f"The CustomJob {name} is not found.")
        return job

    def get_job(self, req: Request) -> Response:
        return reply(self._job(req))

    def list_jobs(self, req: Request) -> Response:
        return self._page(
            list(self.store.jobs.values()), req, "custom_jobs", v1.ListCustomJobsResponse
        )

    def cancel_job(self, req: Request) -> Response:
        parse(v1.CancelCustomJobRequest, req, "*")
        job = self._job(req)
        if job.state in (
            v1.JobState.JOB_STATE_SUCCEEDED,
            v1.JobState.JOB_STATE_FAILED,
            v1.JobState.JOB_STATE_CANCELLED,
        ):
            raise ApiError(
                400,
                f"Cannot cancel CustomJob {job.name} in state {job.state.name}.",
                "FAILED_PRECONDITION",
            )
        job.state = v1.JobState.JOB_STATE_CANCELLING
        self.emulator.cancel_job(job.name)
        return Response.of_json({})

    # -- models ---------------------------------------------------------------------

    def upload_model(self, req: Request) -> Response:
        request = parse(v1.UploadModelRequest, req, "*")
        self.store.requests.append(("models.upload", request))
        model = request.model
        if not model.display_name:
            raise ApiError(
                400,
                "List of found errors:\t1.Field: model.display_name; Message: Required field is not set.",
            )
        if not model.container_spec.image_uri:
            raise ApiError(
                400, "Model container_spec.image_uri is required for a custom-trained model."
            )
        with self.store.lock:
            if request.parent_model:
                versions = self.store.model_versions(request.parent_model)
                base = request.parent_model.split("@")[0]
            else:
                base = f"{self.parent(req)}/models/{request.model_id or self.store.new_id()}"
                versions = self.store.models.setdefault(base, [])
            for alias in model.version_aliases:
                for other in versions:
                    if alias in other.version_aliases:
                        other.version_aliases = [a for a in other.version_aliases if a != alias]
            model.name = base
            model.version_id = str(len(versions) + 1)
            model.create_time = model.update_time = model.version_create_time = (
                model.version_update_time
            ) = now()
            versions.append(model)
        return self.store.operation(
            self.parent(req), v1.UploadModelResponse(model=base, model_version_id=model.version_id)
        )

    def _model_name(self, req: Request) -> str:
        return f"{self.parent(req)}/models/{req.params['id']}"

    def get_model(self, req: Request) -> Response:
        return reply(self.store.model(self._model_name(req)))

    def list_models(self, req: Request) -> Response:
        defaults = [self.store.model(name) for name in self.store.models if self.store.models[name]]
        return self._page(defaults, req, "models", v1.ListModelsResponse)

    def list_versions(self, req: Request) -> Response:
        versions = self.store.model_versions(self._model_name(req))
        return self._page(list(versions), req, "models", v1.ListModelVersionsResponse)

    def delete_version(self, req: Request) -> Response:
        model = self.store.model(self._model_name(req))
        self.store.model_versions(model.name).remove(model)
        return self.store.operation(self.parent(req), None)

    def delete_model(self, req: Request) -> Response:
        name = self._model_name(req)
        self.store.model_versions(name)
        for ep in self.store.endpoints.values():
            if any(d.model.split("@")[0] == name for d in ep.deployed_models):
                raise ApiError(
                    400,
                    f"The Model {name} is deployed to Endpoint {ep.name}; undeploy it first.",
                    "FAILED_PRECONDITION",
                )
        del self.store.models[name]
        return self.store.operation(self.parent(req), None)

    # -- endpoints ------------------------------------------------------------------

    def create_endpoint(self, req: Request) -> Response:
        ep = parse(v1.Endpoint, req, "endpoint")
        self.store.requests.append(("endpoints.create", ep))
        if not ep.display_name:
            raise ApiError(
                400,
                "List of found errors:\t1.Field: endpoint.display_name; Message: Required field is not set.",
            )
        ep.name = f"{self.parent(req)}/endpoints/{req.arg('endpointId') or self.store.new_id()}"
        ep.create_time = ep.update_time = now()
        self.store.endpoints[ep.name] = ep
        return self.store.operation(self.parent(req), ep)

    def _endpoint(self, req: Request) -> v1.Endpoint:
        name = f"{self.parent(req)}/endpoints/{req.params['id']}"
        ep = self.store.endpoints.get(name)
        if ep is None:
            raise ApiError(404, f"Endpoint {name} is not found.")
        return ep

    def get_endpoint(self, req: Request) -> Response:
        return reply(self._endpoint(req))

    def list_endpoints(self, req: Request) -> Response:
        return self._page(
            list(self.store.endpoints.values()), req, "endpoints", v1.ListEndpointsResponse
        )

    @staticmethod
    def _check_split(ep: v1.Endpoint, split: dict[str, int]) -> None:
        ids = {d.id for d in ep.deployed_models}
        unknown = [k for k in split if k not in ids]
        if unknown:
            raise ApiError(
                400,
                f"Traffic split references deployed models {unknown} that are not deployed to endpoint {ep.name}.",
            )
        if split and sum(split.values()) != 100:
            raise ApiError(
                400, f"The sum of all traffic split values must be 100, got {sum(split.values())}."
            )

    def update_endpoint(self, req: Request) -> Response:
        update = parse(v1.Endpoint, req, "endpoint")
        self.store.requests.append(("endpoints.patch", update))
        ep = self._endpoint(req)
        mask = (req.arg("updateMask") or "").split(",")
        if mask != ["trafficSplit"] and mask != ["traffic_split"]:
            raise ApiError(400, f"Unsupported update mask {mask} in this fake")
        split = dict(update.traffic_split)
        self._check_split(ep, split)
        ep.traffic_split = split
        ep.update_time = now()
        return reply(ep)

    def delete_endpoint(self, req: Request) -> Response:
        ep = self._endpoint(req)
        if ep.deployed_models:
            raise ApiError(
                400,
                f"Endpoint {ep.name} has deployed models; undeploy them first.",
                "FAILED_PRECONDITION",
            )
        del self.store.endpoints[ep.name]
        return self.store.operation(self.parent(req), None)

    def deploy_model(self, req: Request) -> Response:
        request = parse(v1.DeployModelRequest, req, "*")
        self.store.requests.append(("endpoints.deployModel", request))
        ep = self._endpoint(req)
        deployed = request.deployed_model
        model = self.store.model(deployed.model)
        resources = deployed.dedicated_resources
        if not MACHINE.match(resources.machine_spec.machine_type):
            raise ApiError(
                400, f'Machine type "{resources.machine_spec.machine_type}" is not supported.'
            )
        if (
            resources.min_replica_count < 1
            or resources.max_replica_count < resources.min_replica_count
        ):
            raise ApiError(
                400,
                "dedicated_resources.min_replica_count must be at least 1 and at most max_replica_count.",
            )
        deployed.id = self.store.new_id()
        deployed.model = model.name
        deployed.model_version_id = model.version_id
        deployed.create_time = now()
        split = {
            (deployed.id if k == "0" else k): v for k, v in dict(request.traffic_split).items()
        }
        ep.deployed_models = [*ep.deployed_models, deployed]
        self._check_split(ep, split or {deployed.id: 100})
        ep.traffic_split = split or {deployed.id: 100}
        return self.store.operation(
            self.parent(req), v1.DeployModelResponse(deployed_model=deployed)
        )

    def undeploy_model(self, req: Request) -> Response:
        request = parse(v1.UndeployModelRequest, req, "*")
        ep = self._endpoint(req)
        remaining = [d for d in ep.deployed_models if d.id != request.deployed_model_id]
        if len(remaining) == len(ep.deployed_models):
            raise ApiError(
                404, f"Deployed model {request.deployed_model_id} is not found in {ep.name}."
            )
        ep.deployed_models = remaining
        split = dict(request.traffic_split)
        self._check_split(ep, split)
        ep.traffic_split = split
        return self.store.operation(self.parent(req), v1.UndeployModelResponse())

    def predict(self, req: Request) -> Response:
        request = parse(v1.PredictRequest, req, "*")
        ep = self._endpoint(req)
        return Response.of_json(self.emulator.predict(ep, to_json(request)))

    def get_operation(self, req: Request) -> Response:
        name = req.raw_path.split("/", 2)[2]
        found = self.store.operations.get(name)
        if found is None:
            raise ApiError(404, f"Operation {name} is not found.")
        return Response.of_json(found)
