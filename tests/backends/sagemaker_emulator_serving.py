"""The serving half of the SageMaker emulator: InvokeEndpoint and batch transform run the
model's own ``code/inference.py`` handler (see :mod:`backends.sagemaker_emulator`).

Multi-model endpoints as SageMaker runs them: a model created with
``PrimaryContainer.Mode = "MultiModel"`` has an S3 prefix as ``ModelDataUrl``; each
InvokeEndpoint names its archive under the prefix with ``TargetModel``
(``X-Amzn-SageMaker-Target-Model``), which is downloaded and loaded on its first
request and kept. No TargetModel on such an endpoint, a TargetModel on a single-model
one, or an archive that is not there is a 400 ValidationError, as SageMaker answers.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import os
import random
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from backends.sagemaker_emulator_capture import write_capture

ACCOUNT = "123456789012"


class Refused(Exception):
    """A request SageMaker refuses before any model runs (a 400 ValidationError)."""


class ServingEmulation:
    """Mixed into the emulator: needs ``sagemaker``, ``workdir``, ``region``, ``handlers``,
    ``_get`` and ``_put``."""

    sagemaker: Any
    workdir: Path
    region: str
    handlers: dict[str, Any]
    #: (endpoint, variant, status) of each InvokeEndpoint answered, in order
    invocations: list[tuple[str, str, int]]

    def _get(self, uri: str) -> bytes:
        raise NotImplementedError

    @property
    def loaded(self) -> list[str]:
        """The archives loaded, in order (a multi-model endpoint's on first use)."""
        return self.__dict__.setdefault("_loaded", [])

    @property
    def targets(self) -> list[tuple[str, str, int]]:
        """(endpoint, TargetModel, status) of each multi-model InvokeEndpoint answered."""
        return self.__dict__.setdefault("_targets", [])

    def _put(self, uri: str, data: bytes) -> None:
        raise NotImplementedError

    # -- serving ---------------------------------------------------------------------

    def _archive_url(self, model_name: str, target_model: str | None) -> str:
        """The archive a request runs: the model's ``ModelDataUrl``, or on a multi-model
        model (``Mode: MultiModel``) ``<ModelDataUrl prefix>/<TargetModel>`` as SageMaker's
        MME loads it. Raises :class:`Refused` as SageMaker refuses a request."""
        container = self.sagemaker._models[model_name].primary_container
        url = str(container["ModelDataUrl"])
        if container.get("Mode") != "MultiModel":
            if target_model:
                raise Refused(
                    f"Endpoint model {model_name} is not a multi-model endpoint; TargetModel cannot be set."
                )
            return url
        if not target_model:
            raise Refused(
                f"TargetModel is required for the multi-model endpoint of model {model_name}."
            )
        if target_model.startswith("/") or ".." in target_model.split("/"):
            raise Refused(f"Invalid TargetModel {target_model!r}.")
        return url.rstrip("/") + "/" + target_model

    def _handler(self, model_name: str, target_model: str | None = None) -> tuple[Any, Any]:
        """(handler module, loaded model) of a SageMaker model (of its ``target_model`` on a
        multi-model endpoint), unpacked once."""
        url = self._archive_url(model_name, target_model)
        found = self.handlers.get(url)
        if found is not None:
            return found
        container = self.sagemaker._models[model_name].primary_container
        try:
            data = self._get(url)
        except Exception:
            bucket, _, key = url.removeprefix("s3://").partition("/")
            raise Refused(
                f"Failed to download model data(bucket: {bucket}, key: {key}). Please ensure "
                "that there is an object located at the URL and that the role passed to "
                "CreateModel has permissions to download the model."
            ) from None
        target = Path(tempfile.mkdtemp(dir=self.workdir, prefix="model-"))
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(target, filter="data")
        spec = importlib.util.spec_from_file_location(
            f"inference_{target.name}", target / "code" / "inference.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        saved = dict(os.environ)
        os.environ.update(container.get("Environment") or {})
        try:
            spec.loader.exec_module(module)
            loaded = module.model_fn(str(target))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.handlers[url] = (module, loaded)
        self.loaded.append(url)
        return module, loaded

    def predict(
        self,
        model_name: str,
        body: bytes,
        content_type: str,
        accept: str,
        target_model: str | None = None,
    ) -> tuple[int, str, bytes]:
        """Run a SageMaker model's handler on one request: (status, content type, body)."""
        module, loaded = self._handler(model_name, target_model)
        try:
            data = module.input_fn(body, content_type)
            answer, kind = module.output_fn(module.predict_fn(data, loaded), accept)
        except Exception as exc:
            status = int(getattr(exc, "status_code", 500))
            return status, "application/json", json.dumps({"message": str(exc)}).encode()
        return 200, kind, answer.encode() if isinstance(answer, str) else answer

    def _invoke(self, response: Any) -> Any:
        name = response.path.split("/")[2]
        endpoint = self.sagemaker.endpoints.get(name)
        if endpoint is None:
            body = {"message": f"Endpoint {name} of account {ACCOUNT} not found."}
            return (
                400,
                {
                    "status": "400",
                    "x-amzn-ErrorType": "ValidationError",
                    "Content-Type": "application/json",
                },
                json.dumps(body),
            )
        variants = endpoint.production_variants
        weights = [float(v.get("CurrentWeight", 1.0) or 0.0) for v in variants]
        chosen = random.choices(variants, weights=weights if sum(weights) else None)[0]
        config = self.sagemaker.endpoint_configs[endpoint.endpoint_config_name]
        model_name = next(
            v["ModelName"]
            for v in config.production_variants
            if v["VariantName"] == chosen["VariantName"]
        )
        headers = {k.lower(): v for k, v in response.headers.items()}
        target_model = headers.get("x-amzn-sagemaker-target-model")
        try:
            status, kind, answer = self.predict(
                model_name,
                response.body,
                headers.get("content-type", "application/json"),
                headers.get("accept", "application/json"),
                target_model,
            )
        except Refused as exc:
            return (
                400,
                {
                    "status": "400",
                    "x-amzn-ErrorType": "ValidationError",
                    "Content-Type": "application/json",
                },
                json.dumps({"message": str(exc)}),
            )
        self.invocations.append((name, chosen["VariantName"], status))
        if status == 200:  # data capture, as SageMaker writes it to S3
            write_capture(self, name, chosen["VariantName"], config, response, answer, kind)
        if target_model:
            self.targets.append((name, target_model, status))
        if status != 200:
            body = {
                "message": f"Received client error ({status}) from primary with message "
                f'"{answer.decode()}".',
                "OriginalStatusCode": status,
                "OriginalMessage": answer.decode(),
                "LogStreamArn": f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{name}",
            }
            return (
                424,
                {
                    "status": "424",
                    "x-amzn-ErrorType": "ModelError",
                    "Content-Type": "application/json",
                },
                json.dumps(body),
            )
        return (
            200,
            {"Content-Type": kind, "x-Amzn-Invoked-Production-Variant": chosen["VariantName"]},
            answer,
        )

    # -- batch ---------------------------------------------------------------------

    def _transform(self, job: Any) -> None:
        try:
            source = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]
            content_type = job.transform_input.get("ContentType", "text/csv")
            accept = job.transform_output.get("Accept", "application/jsonlines")
            output = job.transform_output["S3OutputPath"].rstrip("/")
            join = (job.data_processing or {}).get("JoinSource") == "Input"
            bucket, _, prefix = source.removeprefix("s3://").partition("/")
            keys = [
                i["Key"]
                for i in self.clients["s3"]
                .list_objects_v2(Bucket=bucket, Prefix=prefix)
                .get("Contents", [])
            ]
            saved = dict(os.environ)
            os.environ.update(job.environment or {})
            try:
                for key in keys:
                    lines = [
                        line
                        for line in self._get(f"s3://{bucket}/{key}").decode().splitlines()
                        if line.strip()
                    ]
                    out: list[str] = []
                    for start in range(0, len(lines), 20):
                        batch = lines[start : start + 20]
                        status, _, answer = self.predict(
                            job.model_name, ("\n".join(batch) + "\n").encode(), content_type, accept
                        )
                        if status != 200:
                            raise RuntimeError(f"the model answered {status}: {answer.decode()}")
                        results = answer.decode().splitlines()
                        for line, result in zip(batch, results, strict=True):
                            out.append(
                                json.dumps(
                                    {**json.loads(line), "SageMakerOutput": json.loads(result)}
                                )
                                if join
                                else result
                            )
                    relative = key[len(prefix) :].lstrip("/") or Path(key).name
                    self._put(f"{output}/{relative}.out", ("\n".join(out) + "\n").encode())
            finally:
                os.environ.clear()
                os.environ.update(saved)
            job.transform_job_status = "Completed"
        except Exception as exc:
            job.transform_job_status, job.failure_reason = "Failed", f"ClientError: {exc}"
        job.transform_end_time = dt.datetime.now(dt.timezone.utc)
