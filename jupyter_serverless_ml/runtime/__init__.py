"""The code that runs inside a job ("the container side").

This package is copied into every bundle as ``jsml_runtime`` so that a bundle runs
anywhere its requirements are installed (an isolated environment, a Docker image,
a SageMaker or Vertex container) without jupyter-serverless-ml itself. Its modules
therefore import only the standard library at import time and each other
relatively, never the parent package.
"""

from pathlib import Path

RUNTIME_DIR = Path(__file__).resolve().parent
"""Where the runtime's sources are (copied into bundles and serving environments)."""
