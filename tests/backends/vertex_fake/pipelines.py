"""The fake's pipelineJobs routes (create, get): the PipelineSpec a job carries is parsed
with the kfp-pipeline-spec protobuf, unknown fields refused, as the real service does.
The fake runs no task: a created job stays PIPELINE_STATE_PENDING."""

from __future__ import annotations

from typing import Any

from google.cloud import aiplatform_v1 as v1
from google.protobuf import json_format

from .messages import now, parse, reply
from .web import ApiError, Request, Response, Router

LOC = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"


class PipelineRoutes:
    """Mixed into :class:`.api.VertexApi`; the jobs live on the store (``pipeline_jobs``)."""

    store: Any

    def install_pipelines(self, router: Router) -> None:
        router.add("POST", LOC + r"/pipelineJobs", self.create_pipeline_job)
        router.add("GET", LOC + r"/pipelineJobs/(?P<id>[^/:]+)", self.get_pipeline_job)

    def _pipeline_jobs(self) -> dict[str, v1.PipelineJob]:
        jobs: dict[str, v1.PipelineJob] | None = getattr(self.store, "pipeline_jobs", None)
        if jobs is None:
            jobs = self.store.pipeline_jobs = {}
        return jobs

    def create_pipeline_job(self, req: Request) -> Response:
        from kfp.pipeline_spec import pipeline_spec_pb2

        job = parse(v1.PipelineJob, req, "pipeline_job")
        spec = type(job).to_dict(job).get("pipeline_spec") or {}
        try:
            json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
        except json_format.ParseError as exc:
            raise ApiError(400, f"Invalid pipeline spec: {exc}") from None
        if not spec.get("root"):
            raise ApiError(400, "Invalid pipeline spec: the root DAG is missing.")
        self.store.requests.append(("pipelineJobs.create", job))
        parent = f"projects/{req.params['project']}/locations/{req.params['location']}"
        job_id = req.arg("pipelineJobId") or self.store.new_id()
        job.name = f"{parent}/pipelineJobs/{job_id}"
        job.state = v1.PipelineState.PIPELINE_STATE_PENDING
        job.create_time = now()
        self._pipeline_jobs()[job.name] = job
        return reply(job)

    def get_pipeline_job(self, req: Request) -> Response:
        parent = f"projects/{req.params['project']}/locations/{req.params['location']}"
        name = f"{parent}/pipelineJobs/{req.params['id']}"
        job = self._pipeline_jobs().get(name)
        if job is None:
            raise ApiError(404, f"PipelineJob {name} is not found.")
        return reply(job)
