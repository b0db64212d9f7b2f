"""SageMaker multi-model endpoints through boto3, against moto and the emulator: the model
in MultiModel mode over an S3 prefix, the archives copied under it, TargetModel on every
request (each answered by its own model, loaded on first use), a version registered after
the deploy, refusals, ``%deploy --multi-model`` and the archives deleted with the endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from backends.env_sagemaker import BUCKET, REGION, sagemaker_environment
from backends.sagemaker_emulator import Emulator

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import backends
from jupyter_serverless_ml.backends.sagemaker import SageMakerBackend
from jupyter_serverless_ml.errors import NotFound, UsageError
from jupyter_serverless_ml.registry.api import model_ref


@pytest.fixture(scope="module")
def sm(platform_home: Path) -> Iterator[tuple[Emulator, SageMakerBackend]]:
    from backends import env_sagemaker

    with sagemaker_environment(platform_home) as settings:
        built = backends.use_backend("sagemaker", **settings)
        assert isinstance(built, SageMakerBackend)
        try:
            yield env_sagemaker.current(), built
        finally:
            backends.use_backend(None)
            backends.reset()


def constant(value: float) -> Any:
    """A model that predicts ``value`` for every row."""
    from sklearn.dummy import DummyRegressor

    return DummyRegressor(strategy="constant", constant=value).fit(np.zeros((2, 3)), np.zeros(2))


def register(name: str, value: float) -> str:
    model, version = model_ref(constant(value), name, "sagemaker")
    return f"{model}:{version}"


def s3_keys(emulator: Emulator, prefix: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=emulator.endpoint_url, region_name=REGION)
    found = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in found)


def test_a_multi_model_endpoint_on_sagemaker(sm: tuple[Emulator, SageMakerBackend]) -> None:
    emulator, backend = sm
    refs = [register("fleet-sm", float(i)) for i in range(3)]
    ep = jsml.deploy("fleet-sm", multi_model=True, name="fleet-mme", instance_type="ml.m5.xlarge")
    try:
        sagemaker = boto3.client(
            "sagemaker", endpoint_url=emulator.endpoint_url, region_name=REGION
        )
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=ep.record.details["endpoint_config"]
        )
        (variant,) = config["ProductionVariants"]
        assert variant["VariantName"] == "models" and variant["InstanceType"] == "ml.m5.xlarge"
        container = sagemaker.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]
        assert container["Mode"] == "MultiModel"
        prefix = container["ModelDataUrl"]
        assert prefix == f"s3://{BUCKET}/jsml/multi-model/fleet-mme/"
        archives = s3_keys(emulator, "jsml/multi-model/fleet-mme/")
        assert archives == [f"jsml/multi-model/fleet-mme/fleet-sm-v{i}.tar.gz" for i in (1, 2, 3)]
        assert ep.record.variants[0].model == "fleet-sm:* (3 models)"
        assert ep.record.details["multi_model"]["source"] == "fleet-sm"
        assert f"fleet-sm: archives under {prefix}" in repr(ep)

        # each request is answered by the model it names, loaded on its first request
        loaded = len(emulator.loaded)
        for number, ref in enumerate(refs):
            assert ep.predict([[0, 0, 0]], model=ref).tolist() == [float(number)]
        assert ep.predict([[0, 0, 0]], model="v2").tolist() == [1.0]
        assert ep.predict([[0, 0, 0]], model="fleet-sm").tolist() == [2.0]  # the latest
        assert len(emulator.loaded) - loaded == 3  # one load per archive, then kept
        assert [t[1] for t in emulator.targets[-5:]] == [
            "fleet-sm-v1.tar.gz",
            "fleet-sm-v2.tar.gz",
            "fleet-sm-v3.tar.gz",
            "fleet-sm-v2.tar.gz",
            "fleet-sm-v3.tar.gz",
        ]
        # boto3 as an application calls it: TargetModel is the archive under the prefix
        runtime = boto3.client(
            "sagemaker-runtime", endpoint_url=emulator.endpoint_url, region_name=REGION
        )
        reply = runtime.invoke_endpoint(
            EndpointName="fleet-mme",
            TargetModel="fleet-sm-v1.tar.gz",
            ContentType="application/json",
            Body=b'{"instances": [[0, 0, 0]]}',
        )
        assert b"0.0" in reply["Body"].read()

        # a version registered after the deploy is copied under the prefix on first use
        late = register("fleet-sm", 7.0)
        assert ep.predict([[0, 0, 0]], model=late).tolist() == [7.0]
        assert "jsml/multi-model/fleet-mme/fleet-sm-v4.tar.gz" in s3_keys(
            emulator, "jsml/multi-model/"
        )
        assert ep.refresh().record.variants[0].model == "fleet-sm:* (4 models)"

        # refusals: no model named, a model outside the set, an archive that is not there
        with pytest.raises(UsageError, match="TargetModel is required"):
            ep.predict([[0, 0, 0]])
        with pytest.raises(NotFound, match="no model 'other:1'"):
            ep.predict([[0, 0, 0]], model="other:1")
        with pytest.raises(UsageError, match="Failed to download model data"):
            backend.invoke_model("fleet-mme", "nothing-v1.tar.gz", b'{"instances": [[0]]}')
    finally:
        ep.undeploy()
    assert s3_keys(emulator, "jsml/multi-model/fleet-mme/") == []
    assert sagemaker.list_models(NameContains="fleet-mme")["Models"] == []


def test_multi_model_refusals_on_sagemaker(sm: tuple[Emulator, SageMakerBackend]) -> None:
    register("lonely", 1.0)
    with pytest.raises(UsageError, match="not serverless"):
        jsml.deploy("lonely", multi_model=True, serverless=True)
    with pytest.raises(UsageError, match="its own memory pressure"):
        jsml.deploy("lonely", multi_model=True, model_cache="1G")
    with pytest.raises(NotFound, match="no registered SageMaker model starts with 'nope-'"):
        jsml.deploy("nope-*", multi_model=True)
    single = jsml.deploy("lonely", name="lonely-ep")
    try:
        with pytest.raises(UsageError, match="serves one model"):
            single.predict([[0, 0, 0]], model="lonely:1")
    finally:
        single.undeploy()


def test_deploy_multi_model_through_the_magic(ipython: Any, home: Path, tmp_path: Path) -> None:
    with sagemaker_environment(home) as settings:
        try:
            line = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in settings.items())
            ipython.run_line_magic("backend", f"sagemaker {line}")
            for value in (3.0, 4.0):
                register("team-a", value)
            register("team-b", 5.0)
            ep = ipython.run_line_magic("deploy", "team-* --multi-model --name teams")
            try:
                assert ep.predict([[0, 0, 0]], model="team-b").tolist() == [5.0]
                assert ep.predict([[0, 0, 0]], model="team-a:1").tolist() == [3.0]
                assert "team-* (3 models)" in repr(ipython.run_line_magic("endpoint", "teams"))
            finally:
                ep.undeploy()
        finally:
            backends.use_backend(None)
            backends.reset()
