"""The Vertex AI backend: training, registry, serving and batch on Google Cloud."""

from __future__ import annotations

from ...statuses import JOB_TERMINAL
from .batch import BATCH_STATES, VertexBatch
from .core import LABEL_FILTER
from .costs import VertexCosts
from .registry import VertexRegistry
from .serving import VertexServing
from .training import JOB_STATES, VertexTraining
from .tuning import VertexTuning


class VertexBackend(
    VertexTuning, VertexTraining, VertexRegistry, VertexServing, VertexBatch, VertexCosts
):
    """Runs jobs as Vertex AI CustomJobs, registers models in the Model Registry, serves them
    from endpoints and scores files with batch prediction jobs.

    Settings: ``project``, ``location`` (a region), ``bucket`` (``gs://BUCKET[/prefix]``),
    ``api_endpoint`` and ``logging_endpoint`` (a local emulator in tests: a plain
    ``http://`` endpoint is used without credentials), ``training_image`` and
    ``serving_image`` (containers to use instead of the prebuilt ones),
    ``service_account`` (the jobs' identity), ``retries`` (throttled calls) and
    ``poll_seconds`` (how often a waiting call asks again). Credentials are the
    environment's Application Default Credentials.
    """

    def cleanup(self, dry_run: bool = True) -> list[str]:
        """Everything labelled ``jsml=true``: running jobs (cancelled), endpoints (undeployed and
        deleted), models, batch jobs, and the bucket prefix's objects."""
        found: list[str] = []
        jobs = self.client("job")
        for job in self._list_jobs():
            if JOB_STATES.get(job.state.name) not in JOB_TERMINAL:
                found.append(f"job {job.name} ({job.display_name}), still running: cancel")
                if not dry_run:
                    self._call("cancelling a job", jobs.cancel_custom_job, name=job.name)
        for ep in self._list_endpoints():
            found.append(f"endpoint {ep.name} ({ep.display_name})")
            if not dry_run:
                self.undeploy(ep.display_name)
        for model in self._parents():
            found.append(f"model {model.name} ({model.display_name}) and its versions")
            if not dry_run:
                for version in self._versions(model)[:-1]:
                    self._wait(
                        "deleting a model version",
                        self._call(
                            "deleting a model version",
                            self.client("model").delete_model_version,
                            name=version.details["resource_name"],
                        ),
                    )
                self._wait(
                    "deleting a model",
                    self._call(
                        "deleting a model", self.client("model").delete_model, name=model.name
                    ),
                )
        pager = self._call(
            "listing batch jobs",
            jobs.list_batch_prediction_jobs,
            request={"parent": self.settings.parent, "filter": LABEL_FILTER},
        )
        for batch in self._call("listing batch jobs", list, pager):
            found.append(f"batch job {batch.name} ({batch.display_name})")
            if not dry_run:
                if BATCH_STATES.get(batch.state.name) is not None and batch.state.name in (
                    "JOB_STATE_RUNNING",
                    "JOB_STATE_PENDING",
                    "JOB_STATE_QUEUED",
                ):
                    self._call(
                        "cancelling a batch job", jobs.cancel_batch_prediction_job, name=batch.name
                    )
                self._wait(
                    "deleting a batch job",
                    self._call(
                        "deleting a batch job", jobs.delete_batch_prediction_job, name=batch.name
                    ),
                )
        objects = self.storage.list_objects(self.settings.root + "/")
        if objects:
            found.append(f"{len(objects)} objects under {self.settings.root}/")
            if not dry_run:
                self.storage.delete_prefix(self.settings.root + "/")
        self._job_models().clear()
        return found


__all__ = ["VertexBackend"]
