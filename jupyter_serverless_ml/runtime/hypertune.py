"""The objective of a Vertex AI tuning trial, reported as cloudml-hypertune reports it.

Vertex runs each trial of a HyperparameterTuningJob with ``CLOUD_ML_TRIAL_ID`` set and
reads the trial's measurements from the file the ``cloudml-hypertune`` library writes
(``CLOUD_ML_HP_METRIC_FILE``, default ``/tmp/hypertune/output.metrics``): one JSON object a
line, ``{"global_step": "3", "<metric tag>": "0.97", "timestamp": ..., "trial": "7"}``.
:func:`report` appends ``log_metric``'s values there (only the ``CLOUD_ML_HP_METRIC_TAG``
metric when that is set), so a cell needs no hypertune import. Standard library only.
"""

from __future__ import annotations

import json
import os
import time

DEFAULT_FILE = "/tmp/hypertune/output.metrics"


def report(name: str, value: float, step: int | None) -> None:
    """Append one measurement when running as a Vertex tuning trial (else nothing)."""
    trial = os.environ.get("CLOUD_ML_TRIAL_ID")
    if not trial:
        return
    tag = os.environ.get("CLOUD_ML_HP_METRIC_TAG")
    if tag and tag != name:
        return
    path = os.environ.get("CLOUD_ML_HP_METRIC_FILE") or DEFAULT_FILE
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    line = {
        "timestamp": time.time(),
        "trial": str(trial),
        name: str(float(value)),
        "global_step": str(int(step) if step else 0),
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")


__all__ = ["DEFAULT_FILE", "report"]
