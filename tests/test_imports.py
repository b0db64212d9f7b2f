"""Kernels start fast: importing the package or loading the extension pulls in no cloud SDK."""

import json
import subprocess
import sys

import jupyter_serverless_ml

HEAVY = [
    "boto3",
    "botocore",
    "sagemaker",
    "google.cloud.aiplatform",
    "google.cloud.storage",
    "sklearn",
    "pandas",
    "starlette",
    "uvicorn",
]


def test_import_and_load_ext_import_no_cloud_sdk() -> None:
    code = (
        "import sys, json\n"
        "import jupyter_serverless_ml\n"
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython()\n"
        "ip.run_line_magic('load_ext', 'jupyter_serverless_ml')\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_public_names_resolve() -> None:
    for name in jupyter_serverless_ml.__all__:
        assert getattr(jupyter_serverless_ml, name) is not None
