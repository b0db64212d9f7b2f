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
    assert json.loads(reply["Body"].read()) == [2.0, 4.0]  # SageMaker's containers: a bare list
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


def _signed(endpoint: Endpoint, token: str, body: bytes, **headers: str) -> dict[str, str]:
    """Headers botocore's own SigV4 signer puts on a POST of ``body`` to the endpoint."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=f"{endpoint.url}/endpoints/wire/invocations",
        data=body,
        headers={"Content-Type": "application/json", **headers},
    )
    SigV4Auth(Credentials("local", token), "sagemaker", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _send(endpoint: Endpoint, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    url = urlparse(endpoint.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request("POST", "/endpoints/wire/invocations", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_sigv4_signed_by_botocore_passes_and_a_stale_date_is_refused(
    endpoint: Endpoint, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime

    import botocore.auth

    body = b'{"instances": [[1, 0]]}'
    assert _send(endpoint, body, _signed(endpoint, token, body)) == (200, [2.0])
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    for shift in (-20, 20):  # minutes: a replayed old request, a clock far ahead
        monkeypatch.setattr(
            botocore.auth,
            "get_current_datetime",
            lambda s=shift: now + datetime.timedelta(minutes=s),
        )
        status, reply = _send(endpoint, body, _signed(endpoint, token, body))
        assert status == 401 and "Signature expired" in reply["message"], reply
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            runtime(endpoint, token).invoke_endpoint(
                EndpointName="wire", Body=body, ContentType="application/json"
            )
        assert "Signature expired" in caught.value.response["Error"]["Message"]


def test_sigv4_payload_hash_is_checked_against_the_body(endpoint: Endpoint, token: str) -> None:
    import hashlib

    signed_body = b'{"instances": [[1, 0]]}'
    headers = _signed(
        endpoint,
        token,
        signed_body,
        **{"X-Amz-Content-SHA256": hashlib.sha256(signed_body).hexdigest()},
    )
    assert _send(endpoint, signed_body, headers) == (200, [2.0])
    swapped = b'{"instances": [[9, 0]]}'  # same length, another body under the same signature
    status, reply = _send(endpoint, swapped, headers)
    assert status == 401 and "does not match the body" in reply["message"]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive_on_every_route(
    endpoint: Endpoint, token: str, scheme: str
) -> None:
    body = b'{"instances": [[1, 0]]}'
    auth = {"Authorization": f"{scheme} {token}", "Content-Type": "application/json"}
    assert _send(endpoint, body, auth) == (200, {"predictions": [2.0]})
    url = urlparse(endpoint.url)
    for method, path, sent in (
        ("POST", "/v1/projects/p/locations/l/endpoints/wire:predict", body),
        ("GET", "/v1/projects/p/locations/l/endpoints/wire", None),
        ("GET", "/v1/endpoints", None),
    ):
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        conn.request(method, path, body=sent, headers=auth)
        assert conn.getresponse().status == 200, (scheme, path)
        conn.close()
