"""The fake's batch prediction routes (create, get, list, cancel, delete)."""

from __future__ import annotations

from typing import Any

from google.cloud import aiplatform_v1 as v1

from .messages import now, parse, reply
from .web import ApiError, Request, Response


class BatchRoutes:
    """Mixed into :class:`.api.VertexApi`, which supplies the store, emulator and helpers."""

    store: Any
    emulator: Any

    def parent(self, req: Request) -> str:  # supplied by VertexApi
        raise NotImplementedError

    def _page(self, items: list[Any], req: Request, field: str, kind: Any) -> Response:
        raise NotImplementedError

    def create_batch(self, req: Request) -> Response:
        job = parse(v1.BatchPredictionJob, req, "batch_prediction_job")
        self.store.requests.append(("batchPredictionJobs.create", job))
        self.store.model(job.model)
        job.name = f"{self.parent(req)}/batchPredictionJobs/{self.store.new_id()}"
        job.state = v1.JobState.JOB_STATE_PENDING
        job.create_time = now()
        self.store.batches[job.name] = job
        self.emulator.start_batch(job.name)
        return reply(job)

    def _batch(self, req: Request) -> v1.BatchPredictionJob:
        name = f"{self.parent(req)}/batchPredictionJobs/{req.params['id']}"
        job = self.store.batches.get(name)
        if job is None:
            raise ApiError(404, f"BatchPredictionJob {name} is not found.")
        return job

    def get_batch(self, req: Request) -> Response:
        return reply(self._batch(req))

    def list_batches(self, req: Request) -> Response:
        return self._page(
            list(self.store.batches.values()),
            req,
            "batch_prediction_jobs",
            v1.ListBatchPredictionJobsResponse,
        )

    def cancel_batch(self, req: Request) -> Response:
        parse(v1.CancelBatchPredictionJobRequest, req, "*")
        job = self._batch(req)
        if job.state in (v1.JobState.JOB_STATE_SUCCEEDED, v1.JobState.JOB_STATE_FAILED):
            raise ApiError(
                400, f"Cannot cancel {job.name} in state {job.state.name}.", "FAILED_PRECONDITION"
            )
        job.state = v1.JobState.JOB_STATE_CANCELLED
        return Response.of_json({})

    def delete_batch(self, req: Request) -> Response:
        job = self._batch(req)
        del self.store.batches[job.name]
        return self.store.operation(self.parent(req), None)
