"""What Vertex AI does with the resources: run CustomJobs, serve predictions, batch-predict.

A CustomJob runs each replica's container command (``python`` is this interpreter:
the emulated prebuilt container's Python) as a real subprocess, with the
environment Vertex gives a training container: the spec's env, ``AIP_MODEL_DIR``
and friends under the job's base output directory, ``CLOUD_ML_PROJECT_ID``,
``CLOUD_ML_JOB_ID``, and ``CLUSTER_SPEC``/``TF_CONFIG`` for several replicas; the
fake bucket directory is its Cloud Storage FUSE mount (``/gcs``). Each line a
replica writes becomes a Cloud Logging entry. Predictions and batch prediction
load the model with the local flavors, as the model's serving container would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

import numpy as np
from google.cloud import aiplatform_v1 as v1

from jupyter_serverless_ml.runtime import flavors

from .api import VertexStore
from .gcs import FakeGCS
from .logstore import LogStore
from .web import ApiError

PREBUILT = "-docker.pkg.dev/vertex-ai/training/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """Runs jobs in threads; :meth:`stop` kills whatever still runs."""

    def __init__(self, store: VertexStore, gcs: FakeGCS, logs: LogStore) -> None:
        self.store = store
        self.gcs = gcs
        self.logs = logs
        self.procs: dict[str, list[subprocess.Popen[bytes]]] = {}
        self.threads: list[threading.Thread] = []
        self._models: dict[str, Any] = {}
        #: extra environment for every replica (tests set JSML_SYNC_SECONDS)
        self.extra_env: dict[str, str] = {}

    # -- custom jobs ----------------------------------------------------------------

    def start_job(self, name: str) -> None:
        thread = threading.Thread(target=self._run_job, args=(name,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _image_python(self, image: str) -> str | None:
        """Why ``image`` cannot run here, or None: a prebuilt image whose Python is ours."""
        ours = "py" + "".join(map(str, sys.version_info[:2]))
        if PREBUILT not in image:
            return f"image {image} is not a Vertex AI prebuilt training container"
        if f".{ours}:" not in image and not image.endswith(f".{ours}"):
            return f"image {image} does not run Python {sys.version_info[0]}.{sys.version_info[1]}"
        return None

    def _run_job(self, name: str) -> None:
        job = self.store.jobs[name]
        job_id = name.rsplit("/", 1)[-1]
        project = name.split("/")[1]
        pools = list(job.job_spec.worker_pool_specs)
        output = job.job_spec.base_output_directory.output_uri_prefix.rstrip("/")
        replicas = [
            (f"workerpool{i}", r, pool)
            for i, pool in enumerate(pools)
            for r in range(int(pool.replica_count))
        ]
        ports = [_free_port() for _ in replicas]
        cluster: dict[str, list[str]] = {}
        for (pool_name, _, _), port in zip(replicas, ports, strict=True):
            cluster.setdefault(pool_name, []).append(f"127.0.0.1:{port}")
        job.state = v1.JobState.JOB_STATE_RUNNING
        job.start_time = dt.datetime.now(dt.timezone.utc)
        procs = []
        for pool_name, index, pool in replicas:
            why = self._image_python(pool.container_spec.image_uri)
            if why:
                self._end(
                    job,
                    v1.JobState.JOB_STATE_FAILED,
                    f"The replica {pool_name}-{index} could not start: {why}",
                )
                return
            env = {
                k: v
                for k, v in os.environ.items()
                if k in ("PATH", "HOME", "LANG", "TMPDIR", "STORAGE_EMULATOR_HOST")
            }
            env.update({e.name: e.value for e in pool.container_spec.env})
            env.update(self.extra_env)
            env.update(
                AIP_MODEL_DIR=f"{output}/model/",
                AIP_CHECKPOINT_DIR=f"{output}/checkpoints/",
                AIP_TENSORBOARD_LOG_DIR=f"{output}/logs/",
                CLOUD_ML_PROJECT_ID=project,
                CLOUD_ML_JOB_ID=job_id,
                JSML_GCS_MOUNT=str(self.gcs.root),
            )
            if len(replicas) > 1:
                task = {"type": pool_name, "index": index}
                env["CLUSTER_SPEC"] = json.dumps(
                    {
                        "cluster": cluster,
                        "environment": "cloud",
                        "task": task,
                        "job": json.dumps({"job_id": job_id}),
                    }
                )
                tf_cluster = {
                    "chief": cluster["workerpool0"],
                    "worker": cluster.get("workerpool1", []),
                }
                tf_task = {
                    "type": "chief" if pool_name == "workerpool0" else "worker",
                    "index": index,
                }
                env["TF_CONFIG"] = json.dumps(
                    {"cluster": tf_cluster, "task": tf_task, "environment": "cloud"}
                )
            command = [*pool.container_spec.command, *pool.container_spec.args]
            if command and command[0] in ("python", "python3"):
                command[0] = sys.executable
            proc = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                cwd=str(self.gcs.root.parent),
            )
            procs.append((f"{pool_name}-{index}", proc))
        self.procs[name] = [p for _, p in procs]
        readers = []
        for task, proc in procs:
            for stream, severity in ((proc.stdout, "INFO"), (proc.stderr, "ERROR")):
                reader = threading.Thread(
                    target=self._pump, args=(project, job_id, task, stream, severity), daemon=True
                )
                reader.start()
                readers.append(reader)
        codes = [(task, proc.wait()) for task, proc in procs]
        for reader in readers:
            reader.join()
        if job.state == v1.JobState.JOB_STATE_CANCELLING:
            self._end(job, v1.JobState.JOB_STATE_CANCELLED, "CANCELED")
            return
        failed = [(t, c) for t, c in codes if c != 0]
        if failed:
            task, code = failed[0]
            self._end(
                job,
                v1.JobState.JOB_STATE_FAILED,
                f"The replica {task} exited with a non-zero status of {code}. To find out more "
                "about why your job exited please check the logs: "
                f"https://console.cloud.google.com/logs/viewer?project={project}"
                f"&resource=ml_job%2Fjob_id%2F{job_id}",
            )
        else:
            self._end(job, v1.JobState.JOB_STATE_SUCCEEDED, "")

    def _pump(self, project: str, job_id: str, task: str, stream: Any, severity: str) -> None:
        for line in iter(stream.readline, b""):
            self.logs.write(project, job_id, task, line.decode(errors="replace"), severity)
        stream.close()

    @staticmethod
    def _end(job: Any, state: Any, message: str) -> None:
        if message and state != v1.JobState.JOB_STATE_SUCCEEDED:
            job.error = {
                "code": 1 if state == v1.JobState.JOB_STATE_CANCELLED else 3,
                "message": message,
            }
        job.end_time = dt.datetime.now(dt.timezone.utc)
        job.state = state

    def cancel_job(self, name: str) -> None:
        for proc in self.procs.get(name, []):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)

    # -- serving --------------------------------------------------------------------

    def _load(self, model: Any) -> Any:
        key = f"{model.name}@{model.version_id}"
        if key not in self._models:
            self._models[key] = flavors.load(self.gcs.local(model.artifact_uri))
        return self._models[key]

    def predict(self, ep: Any, request: dict[str, Any]) -> dict[str, Any]:
        split = dict(ep.traffic_split)
        live = [d for d in ep.deployed_models if split.get(d.id, 0) > 0]
        if not live:
            raise ApiError(
                400,
                f"Endpoint {ep.name} has no deployed model receiving traffic.",
                "FAILED_PRECONDITION",
            )
        deployed = random.choices(live, weights=[split[d.id] for d in live])[0]
        self.store.requests.append(("endpoints.predict", request))
        model = self.store.model(f"{deployed.model}@{deployed.model_version_id}")
        try:
            predictions = np.asarray(
                self._load(model).predict(np.asarray(request.get("instances") or []))
            ).tolist()
        except Exception as exc:
            raise ApiError(400, f"Prediction failed: {type(exc).__name__}: {exc}") from None
        return {
            "predictions": predictions,
            "deployedModelId": deployed.id,
            "model": deployed.model,
            "modelVersionId": deployed.model_version_id,
            "modelDisplayName": model.display_name,
        }

    # -- batch ----------------------------------------------------------------------

    def start_batch(self, name: str) -> None:
        thread = threading.Thread(target=self._run_batch, args=(name,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run_batch(self, name: str) -> None:
        job = self.store.batches[name]
        job.state = v1.JobState.JOB_STATE_RUNNING
        job.start_time = dt.datetime.now(dt.timezone.utc)
        try:
            model = self._load(self.store.model(job.model))
            rows: list[Any] = []
            fmt = job.input_config.instances_format
            for pattern in job.input_config.gcs_source.uris:
                base = self.gcs.local(pattern)
                files = sorted(base.parent.glob(base.name))
                for path in files:
                    lines = path.read_text().splitlines()
                    if fmt == "csv":
                        rows += [
                            [float(x) for x in line.split(",")]
                            for line in lines[1:]
                            if line.strip()
                        ]
                    else:
                        rows += [json.loads(line) for line in lines if line.strip()]
            predictions = np.asarray(model.predict(np.asarray(rows))).tolist() if rows else []
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y_%m_%dT%H_%M_%S_%fZ")
            prefix = job.output_config.gcs_destination.output_uri_prefix.rstrip("/")
            out_uri = f"{prefix}/prediction-{job.display_name}-{stamp}"
            out = self.gcs.local(out_uri)
            out.mkdir(parents=True, exist_ok=True)
            (out / "prediction.results-00000-of-00001").write_text(
                "".join(
                    json.dumps({"instance": r, "prediction": p}) + "\n"
                    for r, p in zip(rows, predictions, strict=True)
                )
            )
            (out / "prediction.errors_stats-00000-of-00001").write_text("")
            job.output_info = {"gcs_output_directory": out_uri}
            job.completion_stats = {
                "successful_count": len(rows),
                "failed_count": 0,
                "incomplete_count": 0,
            }
            job.state = v1.JobState.JOB_STATE_SUCCEEDED
        except Exception as exc:
            job.error = {
                "code": 3,
                "message": f"Batch prediction failed: {type(exc).__name__}: {exc}",
            }
            job.state = v1.JobState.JOB_STATE_FAILED
        job.end_time = dt.datetime.now(dt.timezone.utc)

    def stop(self) -> None:
        for procs in self.procs.values():
            for proc in procs:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        for thread in self.threads:
            thread.join(timeout=10)
