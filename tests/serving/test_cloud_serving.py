"""Serving code written for SageMaker and Vertex AI runs unchanged on local endpoints.

Scripts in the style of the public samples (argparse hyperparameters, ``SM_*`` and
``AIP_*`` variables, handler functions, each model format) are trained with
``%train --entry-point`` / ``jsml.train(entry_point=...)``, deployed, and called by
the clients those samples use: boto3's ``sagemaker-runtime`` (JSON, CSV, x-npy)
and ``aiplatform.Endpoint.predict``.
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import numpy as np
import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import serving
from jupyter_serverless_ml.errors import BackendError
from jupyter_serverless_ml.platform import state
from jupyter_serverless_ml.serving import Endpoint

SKLEARN_TRAIN = """
import argparse, json, os
import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression


def model_fn(model_dir):
    # the first file the model directory lists: only what this script wrote
    return joblib.load(os.path.join(model_dir, sorted(os.listdir(model_dir))[0]))


def input_fn(request_body, request_content_type):
    if request_content_type == "application/json":
        return json.loads(request_body)["Input"]
    raise ValueError("this model takes application/json")


def predict_fn(input_data, model):
    return model.predict_proba(input_data)[:, 1]


def output_fn(prediction, accept):
    return json.dumps({"Output": [round(float(p), 6) for p in prediction]}), accept


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-C", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()
    frame = pd.read_csv(os.path.join(args.train, "train.csv"))
    model = LogisticRegression(C=args.C, max_iter=1000).fit(
        frame[["mean radius", "mean texture"]].to_numpy(), frame["target"]
    )
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
"""

XGBOOST_TRAIN = """
import argparse, os
import pandas as pd
import xgboost as xgb

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_round", type=int, default=5)
    parser.add_argument("--max_depth", type=int, default=2)
    args, _ = parser.parse_known_args()
    frame = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"))
    features = frame[["mean radius", "mean texture"]].to_numpy()
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": args.max_depth},
        xgb.DMatrix(features, label=frame["target"]),
        args.num_round,
    )
    booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
"""

VERTEX_TRAIN = """
import os
import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression

frame = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"))
model = LogisticRegression(max_iter=1000).fit(
    frame[["mean radius", "mean texture"]].to_numpy(), frame["target"]
)
assert os.environ["AIP_MODEL_DIR"].endswith("/")
joblib.dump(model, os.environ["AIP_MODEL_DIR"] + "model.joblib")
"""

VERTEX_PREDICTOR = """
import joblib
import numpy as np
from google.cloud.aiplatform.prediction.predictor import Predictor
from google.cloud.aiplatform.utils import prediction_utils


class CancerPredictor(Predictor):
    def load(self, artifacts_uri):
        prediction_utils.download_model_artifacts(artifacts_uri)
        self._model = joblib.load("model.joblib")

    def preprocess(self, prediction_input):
        return np.asarray(prediction_input["instances"]) / 1.0

    def predict(self, instances):
        return self._model.predict_proba(instances)[:, 1]

    def postprocess(self, prediction_results):
        return {"predictions": [round(float(p), 4) for p in prediction_results]}
"""

PTH_TRAIN = """
import os, pickle

class_weights = {"bias": 0.5, "scale": 3.0}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"), "wb") as fh:
    pickle.dump(class_weights, fh)
"""

PTH_INFERENCE = """
import os, pickle
import numpy as np


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.pth"), "rb") as fh:
        weights = pickle.load(fh)
    return lambda rows: np.asarray(rows)[:, 0] * weights["scale"] + weights["bias"]


def predict_fn(input_data, model):
    return model(input_data)
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, platform_home: Path) -> Path:
    from sklearn.datasets import load_breast_cancer

    directory = tmp_path_factory.mktemp("channel")
    load_breast_cancer(as_frame=True).frame.to_csv(directory / "train.csv", index=False)
    return directory


def script(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(textwrap.dedent(source))
    return directory


def runtime(endpoint: Endpoint, home: Path) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key=state.token(home),
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def npy(rows: Any) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(rows, dtype=float))
    return out.getvalue()


def test_the_training_entry_points_handlers_serve_the_scripts_own_format(
    data: Path, platform_home: Path, tmp_path: Path
) -> None:
    source = script(tmp_path / "src", "train.py", SKLEARN_TRAIN)
    job = jsml.train(
        entry_point="train.py",
        source_dir=source,
        name="handlers",
        data={"train": data},
        hp={"C": 0.5},
    )
    assert job.status == "Completed", job.failure_reason
    version_dir = platform_home / "artifacts" / "models" / "handlers" / "1"
    assert sorted(p.name for p in version_dir.iterdir()) == ["model.joblib"]
    assert (version_dir.parent / "1.meta.json").is_file()  # the platform's, beside it
    ep = serving.deploy("handlers", name="handlers")
    assert any("model_fn" in e["message"] for e in ep.events("code"))
    client = runtime(ep, platform_home)
    reply = client.invoke_endpoint(
        EndpointName="handlers",
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps({"Input": [[12.0, 15.0], [20.0, 25.0]]}),
    )
    output = json.loads(reply["Body"].read())["Output"]
    assert len(output) == 2 and output[0] > 0.5 > output[1]
    answer = ep.invoke(json.dumps({"Input": [[12.0, 15.0]]}).encode())
    assert json.loads(answer.body) == {"Output": [output[0]]}
    with pytest.raises(client.exceptions.ModelError) as caught:  # input_fn refuses CSV
        client.invoke_endpoint(EndpointName="handlers", ContentType="text/csv", Body="1,2")
    assert "takes application/json" in caught.value.response["OriginalMessage"]
    ep.undeploy()


def test_an_xgboost_model_file_serves_csv_npy_and_json_as_the_container_does(
    data: Path, platform_home: Path, tmp_path: Path
) -> None:
    job = jsml.train(
        entry_point="train.py",
        source_dir=script(tmp_path / "xgb", "train.py", XGBOOST_TRAIN),
        name="xgb-native",
        data={"train": data},
        hp={"num_round": 4},
    )
    assert job.status == "Completed", job.failure_reason
    ep = serving.deploy("xgb-native", name="xgb-native")
    client = runtime(ep, platform_home)
    rows = [[12.0, 15.0], [20.0, 25.0]]
    reply = client.invoke_endpoint(
        EndpointName="xgb-native", ContentType="text/csv", Body="12,15\n20,25\n"
    )
    assert reply["ContentType"] == "application/json"
    scores = json.loads(reply["Body"].read())  # a bare list, as the containers answer
    assert len(scores) == 2 and scores[0] > 0.5 > scores[1]
    reply = client.invoke_endpoint(
        EndpointName="xgb-native",
        ContentType="application/x-npy",
        Accept="application/x-npy",
        Body=npy(rows),
    )
    assert reply["ContentType"] == "application/x-npy"
    assert np.allclose(np.load(io.BytesIO(reply["Body"].read())), scores, atol=1e-6)
    reply = client.invoke_endpoint(
        EndpointName="xgb-native", ContentType="application/json", Body=json.dumps(rows)
    )
    assert np.allclose(json.loads(reply["Body"].read()), scores, atol=1e-6)
    assert np.allclose(ep.predict(rows), scores, atol=1e-6)
    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(
            EndpointName="xgb-native", ContentType="text/csv", Accept="image/png", Body="1,2"
        )
    assert caught.value.response["OriginalStatusCode"] == 406
    assert "application/x-npy" in caught.value.response["OriginalMessage"]
    ep.undeploy()


def test_a_vertex_custom_prediction_routine_serves_the_vertex_route(
    data: Path, platform_home: Path, tmp_path: Path
) -> None:
    from google.cloud import aiplatform
    from google.oauth2.credentials import Credentials

    job = jsml.train(
        entry_point="task.py",
        source_dir=script(tmp_path / "trainer", "task.py", VERTEX_TRAIN),
        name="vertex-cpr",
        data={"train": data},
    )
    assert job.status == "Completed", job.failure_reason
    routine = script(tmp_path / "routine", "predictor.py", VERTEX_PREDICTOR)
    ep = serving.deploy(
        "vertex-cpr", name="vertex-cpr", source_dir=routine, predictor="predictor:CancerPredictor"
    )
    aiplatform.init(
        project="local",
        location="us-central1",
        api_endpoint=ep.url,
        api_transport="rest",
        credentials=Credentials(state.token(platform_home)),
    )
    prediction = aiplatform.Endpoint("vertex-cpr").predict(instances=[[12.0, 15.0], [20.0, 25.0]])
    assert len(prediction.predictions) == 2
    assert prediction.predictions[0] > 0.5 > prediction.predictions[1]
    assert prediction.deployed_model_id == "v1"
    ep.undeploy()


def test_a_pth_model_serves_with_an_inference_script_given_to_deploy(
    platform_home: Path, tmp_path: Path, ipython: Any
) -> None:
    job = jsml.train(
        entry_point="train.py",
        source_dir=script(tmp_path / "pth", "train.py", PTH_TRAIN),
        name="pth",
    )
    assert job.status == "Completed", job.failure_reason
    with pytest.raises(BackendError, match=r"model.pth.*--inference-script"):
        serving.deploy("pth", name="pth-bare")  # nothing loads a bare .pth: the deploy fails
    script(tmp_path / "serve", "inference.py", PTH_INFERENCE)
    ep = ipython.run_line_magic(
        "deploy", f"pth --name pth --inference-script {tmp_path / 'serve' / 'inference.py'}"
    )
    reply = runtime(ep, platform_home).invoke_endpoint(
        EndpointName="pth", ContentType="text/csv", Body="1,0\n2,0\n"
    )
    assert json.loads(reply["Body"].read()) == [3.5, 6.5]
    ep.undeploy()


def test_a_model_that_cannot_load_or_predict_fails_the_deploy_with_its_reason(
    platform_home: Path, tmp_path: Path
) -> None:
    unpicklable = (  # a class pickled by reference from the script's __main__
        "import os, pickle\n"
        "class Model:\n"
        "    def predict(self, rows):\n"
        "        return rows\n"
        "with open(os.path.join(os.environ['SM_MODEL_DIR'], 'model.pkl'), 'wb') as fh:\n"
        "    pickle.dump(Model(), fh)\n"
    )
    job = jsml.train(
        entry_point="train.py", source_dir=script(tmp_path / "u", "train.py", unpicklable), name="u"
    )
    assert job.status == "Completed", job.failure_reason
    with pytest.raises(BackendError, match="Can't get attribute 'Model'"):
        serving.deploy("u", name="u")
    cell = (
        "class Broken:\n"
        "    n_features_in_ = 2\n"
        "    def predict(self, rows):\n"
        "        raise ValueError('the weights were never fitted')\n"
        "model = Broken()\n"
    )
    assert jsml.train(cell, namespace={}, name="broken").status == "Completed"
    with pytest.raises(BackendError, match=r"could not predict a probe row.*never fitted"):
        serving.deploy("broken", name="broken")
    assert not [e for e in serving.endpoints() if e.name in ("u", "broken")]
