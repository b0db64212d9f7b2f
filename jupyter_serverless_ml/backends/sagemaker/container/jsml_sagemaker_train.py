"""SageMaker training entry point of a jupyter-serverless-ml bundle (``sagemaker_program``).

A SageMaker framework container's training toolkit downloads ``sourcedir.tar.gz``
(the bundle's ``code/`` plus this file) and runs ``python jsml_sagemaker_train.py``.
This runs the bundle's runner (``jsml_runtime.runner``) unchanged, and adds what
only the cloud needs:

- every metric the job logs (``log_metric`` or a metric definition's match) is
  printed as one ``#jsml-metric {json}`` line on the original standard output,
  which CloudWatch Logs keeps and the job's ``MetricDefinitions`` match;
- the inference handler and the runtime are copied next to the saved model
  (``model/code/``), so the ``model.tar.gz`` SageMaker uploads serves as it is.

Standard library only; it runs inside the container.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from jsml_runtime import contract, runner  # noqa: E402

MARK = b"#jsml-metric "


def _metrics_file() -> str:
    model_dir = os.environ.get("SM_MODEL_DIR")
    root = str(Path(model_dir).parent) if model_dir else os.environ.get("JSML_ML_ROOT", "/opt/ml")
    return os.environ.get("JSML_METRICS_FILE") or f"{root}/output/metrics.jsonl"


def _follow(path: str, out: int, done: threading.Event) -> None:
    """Copy each new metric record to ``out`` as a marked line until ``done``."""
    offset, pending = 0, b""
    while True:
        finished = done.is_set()
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except OSError:
            chunk = b""
        offset += len(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                os.write(out, MARK + line.strip() + b"\n")
        if finished:
            return
        done.wait(0.2)


def ship_handler(model_dir: Path) -> None:
    """Put ``code/inference.py`` and ``code/jsml_runtime/`` into the model directory."""
    if not model_dir.is_dir() or not any(model_dir.iterdir()):
        return
    code = model_dir / "code"
    code.mkdir(exist_ok=True)
    shutil.copyfile(HERE / "jsml_sagemaker_inference.py", code / "inference.py")
    shutil.copytree(
        HERE / "jsml_runtime",
        code / "jsml_runtime",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )


def main() -> int:
    """Run the bundle with metric lines and the handler; returns the exit code."""
    contract.ensure_environment()
    out = os.dup(1)
    done = threading.Event()
    follower = threading.Thread(target=_follow, args=(_metrics_file(), out, done), daemon=True)
    follower.start()
    try:
        code = runner.main()
    finally:
        sys.stdout.flush()
        done.set()
        follower.join(timeout=10)
        os.close(out)
    if code == 0 and os.environ.get("RANK", "0") == "0":
        ship_handler(Path(os.environ.get("SM_MODEL_DIR") or "/opt/ml/model"))
    return code


if __name__ == "__main__":
    sys.exit(main())
