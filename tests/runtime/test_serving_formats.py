"""A replica serves every artifact the clouds' containers load, with their content types.

These run the replica's own code in-process (the same code a forked replica runs) on
model directories written as SageMaker and Vertex AI scripts write them; the
end-to-end path (training scripts, %deploy, boto3, the Vertex SDK) is in
tests/serving/test_cloud_serving.py.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import joblib
import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.linear_model import LogisticRegression

from jupyter_serverless_ml.runtime import flavors, frames, replica
from jupyter_serverless_ml.runtime.predict import MAX_JSON_DEPTH

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2], [0.2, 0.8], [0.8, 0.1]])
Y = np.array([0, 1, 0, 1, 0, 1])
SM = frames.ROUTE_SAGEMAKER
VERTEX = frames.ROUTE_VERTEX
NATIVE = frames.ROUTE_NATIVE


def serve(model_dir: Path, **spec: Any) -> replica.Replica:
    served = replica.Replica({"model_dir": str(model_dir), "model": "m:1", **spec})
    served.probe()
    return served


def npy(array: Any) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(array))
    return out.getvalue()


def booster() -> Any:
    return xgboost.train(
        {"objective": "binary:logistic", "max_depth": 2}, xgboost.DMatrix(X, label=Y), 5
    )


def write_xgboost_model_pickled(d: Path) -> None:
    with open(d / "xgboost-model", "wb") as fh:
        pickle.dump(booster(), fh)


WRITERS = {
    "model.joblib": lambda d: joblib.dump(LogisticRegression().fit(X, Y), d / "model.joblib"),
    "model.pkl": lambda d: (d / "model.pkl").write_bytes(
        pickle.dumps(LogisticRegression().fit(X, Y))
    ),
    "model.pkl (joblib)": lambda d: joblib.dump(LogisticRegression().fit(X, Y), d / "model.pkl"),
    "xgboost-model (pickled Booster)": write_xgboost_model_pickled,
    "xgboost-model (native)": lambda d: (
        booster().save_model(str(d / "xgboost-model.json"))
        or (d / "xgboost-model.json").rename(d / "xgboost-model")
    ),
    "xgboost-model (native UBJSON)": lambda d: (d / "xgboost-model").write_bytes(
        booster().save_raw("ubj")
    ),
    "model.bst": lambda d: (d / "model.bst").write_bytes(booster().save_raw("ubj")),
    "model.json": lambda d: booster().save_model(str(d / "model.json")),
    "model.ubj": lambda d: booster().save_model(str(d / "model.ubj")),
    "model.txt (LightGBM)": lambda d: lightgbm.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 1}, lightgbm.Dataset(X, Y), 5
    ).save_model(str(d / "model.txt")),
}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_every_container_format_loads_and_answers_each_route(tmp_path: Path, fmt: str) -> None:
    WRITERS[fmt](tmp_path)
    served = serve(tmp_path)
    status, kind, body = served.answer(SM, "application/json", "application/json", b"[[0, 1]]")
    assert (status, kind) == (200, "application/json"), body
    first = json.loads(body)
    assert isinstance(first, list) and len(first) == 1  # SageMaker containers: a bare list
    status, kind, body = served.answer(SM, "text/csv", "text/csv", b"0,1\n1,0\n")
    assert (status, kind, len(body.splitlines())) == (200, "text/csv", 2)
    status, kind, body = served.answer(
        SM, "application/x-npy", "application/x-npy", npy([[0.0, 1.0], [1.0, 0.0]])
    )
    assert (status, kind) == (200, "application/x-npy")
    assert np.load(io.BytesIO(body)).shape[0] == 2
    status, _, body = served.answer(VERTEX, "", "", b'{"instances": [[0, 1]]}')
    reply = json.loads(body)
    assert status == 200 and reply["predictions"] == first and reply["deployedModelId"] == ""


def test_a_directory_with_nothing_loadable_fails_at_load_naming_what_to_save(
    tmp_path: Path,
) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)
    with pytest.raises(ValueError, match=r"holds weights.bin.*model.joblib.*--inference-script"):
        serve(tmp_path)


def test_the_platform_metadata_beside_the_directory_is_read_and_old_ones_inside_too(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old"
    meta = flavors.save(LogisticRegression().fit(X, Y), old)
    new = tmp_path / "3"
    new.mkdir()
    (old / "model.joblib").rename(new / "model.joblib")
    flavors.sibling_meta(new).write_text(json.dumps(meta))
    assert sorted(p.name for p in new.iterdir()) == ["model.joblib"]
    assert flavors.describe(new)["flavor"] == "sklearn"
    flavors.save(LogisticRegression().fit(X, Y), old)  # inside, as registered before
    for directory in (old, new):
        assert serve(directory).answer(SM, "text/csv", "", b"0,1")[0] == 200


def test_a_model_that_loads_but_cannot_predict_fails_its_probe(tmp_path: Path) -> None:
    class Broken:
        n_features_in_ = 2

        def predict(self, rows: Any) -> Any:
            raise RuntimeError("weights are missing")

    import cloudpickle

    (tmp_path / "model.pkl").write_bytes(cloudpickle.dumps(Broken()))
    with pytest.raises(replica.ProbeFailed, match=r"could not predict a probe row.*weights are"):
        serve(tmp_path)


@pytest.mark.parametrize(
    ("content_type", "body", "accept"),
    [
        ("application/x-npz", None, "application/json"),
        ("application/jsonlines", b"[0, 1]\n[1, 0]\n", "application/jsonlines"),
        ("application/json", b'{"instances": [[0, 1], [1, 0]]}', "application/x-npz"),
    ],
)
def test_npz_and_jsonlines_in_and_out(
    tmp_path: Path, content_type: str, body: bytes | None, accept: str
) -> None:
    WRITERS["model.joblib"](tmp_path)
    if body is None:
        out = io.BytesIO()
        np.savez(out, X[:2])
        body = out.getvalue()
    status, kind, answer = serve(tmp_path).answer(SM, content_type, accept, body)
    assert (status, kind) == (200, accept), answer
    if accept == "application/jsonlines":
        assert [json.loads(line) for line in answer.splitlines()] == [0, 1]
    elif accept == "application/x-npz":
        assert np.load(io.BytesIO(answer))["predictions"].tolist() == [0, 1]
    else:
        assert json.loads(answer) == [0, 1]


def test_unsupported_media_types_are_415_and_406_naming_the_accepted(tmp_path: Path) -> None:
    WRITERS["model.joblib"](tmp_path)
    served = serve(tmp_path)
    status, _, body = served.answer(SM, "application/x-protobuf", "", b"\0")
    assert status == 415 and "text/csv" in json.loads(body)["message"]
    status, _, body = served.answer(SM, "text/csv", "application/xml", b"0,1")
    assert status == 406 and "application/x-npy" in json.loads(body)["message"]
    status, kind, _ = served.answer(SM, "text/csv", "application/xml, text/csv;q=0.5", b"0,1")
    assert (status, kind) == (200, "text/csv")
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    status, _, body = served.answer(SM, "application/x-npy", "", pickled.getvalue())
    assert status == 400, body  # arrays are read without pickles


def test_the_native_route_keeps_its_object_and_sagemaker_answers_a_list(tmp_path: Path) -> None:
    WRITERS["model.joblib"](tmp_path)
    served = serve(tmp_path)
    assert json.loads(served.answer(NATIVE, "application/json", "", b"[[0, 1]]")[2]) == {
        "predictions": [0]
    }
    assert json.loads(served.answer(SM, "application/json", "", b"[[0, 1]]")[2]) == [0]


def test_a_deeply_nested_body_is_a_400_from_decode_itself(tmp_path: Path) -> None:
    WRITERS["model.joblib"](tmp_path)
    served = serve(tmp_path)
    deep = b"[" * (MAX_JSON_DEPTH * 50) + b"]" * (MAX_JSON_DEPTH * 50)
    with pytest.raises(replica.InputError):
        served.decode(SM, "application/json", deep)
    for route in (SM, VERTEX, NATIVE):
        status, _, body = served.answer(route, "application/json", "", deep)
        assert status == 400, body
    status, _, body = served.answer(SM, "application/json", "", b"[[NaN, 1]]")
    assert status == 400 and b"not a finite number" in body


def test_a_deeply_nested_body_on_the_replica_socket_does_not_kill_it(tmp_path: Path) -> None:
    import os
    import socket

    WRITERS["model.joblib"](tmp_path)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # the replica, as a zygote's fork runs it
        code = 1
        try:
            ours.close()
            replica.serve({"model_dir": str(tmp_path), "model": "m:1"}, theirs)
            code = 0
        finally:
            os._exit(code)
    theirs.close()
    channel = frames.BlockingChannel(ours)
    try:
        ready = channel.read()
        assert ready is not None and json.loads(ready[2])["ok"]
        deep = b'{"instances": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
        for request_id, body in enumerate((deep, b"[[0, 1]]"), start=1):
            channel.write(
                frames.frame(
                    frames.OP_INVOKE,
                    request_id,
                    frames.invoke_body(SM, b"application/json", b"application/json", body),
                )
            )
            answer = channel.read()
            assert answer is not None and answer[1] == request_id
            status, _, out = frames.parse_result(answer[2])
            assert status == (400 if body is deep else 200), out
        channel.write(frames.frame(frames.OP_STOP, 0, b""))
    finally:
        ours.close()
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
