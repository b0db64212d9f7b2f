"""What a training cell sees: ``channel()``, ``hp`` and ``log_metric()``.

They read the SageMaker/Vertex container contract from the environment, so the
same calls work in a local job, a Docker image built from the bundle, or a cloud
container. Outside a job they raise an error that says so.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from . import hypertune

CHANNEL_FILES_ENV = "JSML_CHANNEL_FILES"
METRICS_FILE_ENV = "JSML_METRICS_FILE"


class UnknownChannel(LookupError):
    """The code asked for a data channel the job was not given."""


class NotInJob(RuntimeError):
    """A runtime-only helper was called outside a training job."""


def _in_job() -> bool:
    return "SM_CHANNELS" in os.environ or "SM_MODEL_DIR" in os.environ


def channels() -> list[str]:
    """The names of the job's data channels."""
    return list(json.loads(os.environ.get("SM_CHANNELS", "[]")))


def channel(name: str) -> str:
    """The local path of data channel ``name``.

    A channel given as a single file returns that file's path; a directory
    channel returns the directory (``SM_CHANNEL_<NAME>``).
    """
    if not _in_job():
        raise NotInJob(
            f"channel({name!r}) reads a job's data channel and works inside a %%train cell; "
            "in the notebook read the file directly"
        )
    directory = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    if directory is None:
        given = ", ".join(channels()) or "none"
        raise UnknownChannel(
            f"no data channel {name!r} in this job (channels: {given}); "
            f"add --data {name}=PATH to the %%train line"
        )
    files = json.loads(os.environ.get(CHANNEL_FILES_ENV, "{}"))
    return os.path.join(directory, files[name]) if name in files else directory


class Hyperparameters(Mapping[str, Any]):
    """Typed hyperparameters: ``hp.C``, ``hp["C"]`` and ``hp.get("C", 1.0)``."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values = dict(values) if values is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The hyperparameters as a dict (read from ``SM_HPS`` in a job)."""
        if self._values is not None:
            return self._values
        return dict(json.loads(os.environ.get("SM_HPS", "{}")))

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        values = self.to_dict()
        if key not in values:
            given = ", ".join(sorted(values)) or "none"
            raise AttributeError(
                f"no hyperparameter {key!r} (given: {given}); pass it with --hp {key}=VALUE "
                f"or use hp.get({key!r}, default)"
            )
        return values[key]

    def __repr__(self) -> str:
        return f"hp({self.to_dict()!r})"


hp = Hyperparameters()


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record metric ``name`` = ``value`` (optionally at ``step``) for the running job."""
    path = os.environ.get(METRICS_FILE_ENV)
    if not path:
        raise NotInJob(
            "log_metric() records a metric of a training job; call it inside a %%train cell"
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"log_metric({name!r}, ...) needs a number, got {type(value).__name__}"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"log_metric({name!r}, {value!r}): the value must be finite")
    record = {
        "name": str(name),
        "value": number,
        "step": None if step is None else int(step),
        "ts": time.time(),
        "host": os.environ.get("SM_CURRENT_HOST", "algo-1"),
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    hypertune.report(str(name), number, step)  # a Vertex tuning trial's objective


def display(*objects: Any) -> None:
    """Stand-in for IPython's ``display`` inside a job: prints each object."""
    for obj in objects:
        print(obj)


RUNTIME_NAMES = ("channel", "hp", "log_metric", "display")
