"""Clients written for the clouds call local endpoints: boto3's sagemaker-runtime and the Vertex SDK."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.exceptions
import cloudpickle
import google.auth.exceptions
import pytest
import serving_models
from serving_models import Doubler

from jupyter_serverless_ml import serving
from jupyter_serverless_ml.platform import state
from jupyter_serverless_ml.serving import Endpoint

cloudpickle.register_pickle_by_value(serving_models)


@pytest.fixture(scope="module")
def endpoint(platform_home: Path) -> Endpoint:
    return serving.deploy(Doubler(), name="wire")


@pytest.fixture(scope="module")
def token(platform_home: Path, endpoint: Endpoint) -> str:
    return state.token(platform_home)


def runtime(endpoint: Endpoint, secret: str) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def test_boto3_invoke_endpoint_json_and_csv(endpoint: Endpoint, token: str) -> None:
    client = runtime(endpoint, token)
    reply = client.invoke_endpoint(
        EndpointName="wire",
        ContentType="application/json",
        Body=json.dumps({"instances": [[1, 0], [2, 0]]}),
    )
    assert json.loads(reply["Body"].read()) == {"predictions": [2.0, 4.0]}
    assert reply["InvokedProductionVariant"] == "v1"
    assert reply["ContentType"] == "application/json"
    reply = client.invoke_endpoint(
        EndpointName="wire", ContentType="text/csv", Accept="text/csv", Body="3,0\n4,0\n"
    )
    assert reply["Body"].read().decode() == "6.0\n8.0\n"
    reply = client.invoke_endpoint(
        EndpointName="wire",
        ContentType="text/csv",
        Body="1,0",
        TargetVariant="v1",
        CustomAttributes="trace=1",
    )
    assert reply["InvokedProductionVariant"] == "v1"


def test_boto3_sees_model_errors_as_sagemaker_reports_them(endpoint: Endpoint, token: str) -> None:
    client = runtime(endpoint, token)
    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(
            EndpointName="wire", ContentType="application/json", Body=b'{"instances": [[-1, 0]]}'
        )
    error = caught.value.response
    assert error["OriginalStatusCode"] == 500
    assert "negative input" in error["OriginalMessage"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(EndpointName="wire", ContentType="application/json", Body=b"{oops")
    assert caught.value.response["OriginalStatusCode"] == 400


def test_boto3_unknown_endpoint_and_wrong_secret(endpoint: Endpoint, token: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        runtime(endpoint, token).invoke_endpoint(
            EndpointName="nope", Body=b"[[1, 0]]", ContentType="application/json"
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "wire" in caught.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        runtime(endpoint, "not-the-token").invoke_endpoint(
            EndpointName="wire", Body=b"[[1, 0]]", ContentType="application/json"
        )
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


def _vertex(endpoint: Endpoint, credentials: Any) -> Any:
    from google.cloud import aiplatform

    aiplatform.init(
        project="local",
        location="us-central1",
        api_endpoint=endpoint.url,
        api_transport="rest",
        credentials=credentials,
    )
    return aiplatform.Endpoint("wire")


def test_vertex_sdk_predict(endpoint: Endpoint, token: str) -> None:
    from google.oauth2.credentials import Credentials

    prediction = _vertex(endpoint, Credentials(token)).predict(instances=[[1, 0], [5, 0]])
    assert prediction.predictions == [2.0, 10.0]
    assert prediction.deployed_model_id == "v1"
    assert prediction.model_version_id == "1"


def test_vertex_sdk_errors(endpoint: Endpoint, token: str) -> None:
    from google.api_core import exceptions
    from google.auth.credentials import AnonymousCredentials
    from google.oauth2.credentials import Credentials

    with pytest.raises(exceptions.BadRequest, match="must have 2 features"):
        _vertex(endpoint, Credentials(token)).predict(instances=[[1, 2, 3]])
    with pytest.raises(exceptions.InternalServerError, match="negative input"):
        _vertex(endpoint, Credentials(token)).predict(instances=[[-1, 0]])
    # Google's auth layer answers a 401 by refreshing the credentials, which anonymous ones
    # cannot do; the refused request itself is checked over plain HTTP.
    with pytest.raises(google.auth.exceptions.InvalidOperation):
        _vertex(endpoint, AnonymousCredentials()).predict(instances=[[1, 0]])
    url = urlparse(endpoint.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    conn.request(
        "POST",
        "/v1/projects/local/locations/us-central1/endpoints/wire:predict",
        body=b'{"instances": [[1, 0]]}',
        headers={"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    error = json.loads(response.read())["error"]
    assert (response.status, error["code"], error["status"]) == (401, 401, "UNAUTHENTICATED")
    assert "platform token" in error["message"]
