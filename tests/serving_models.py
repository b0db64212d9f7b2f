"""Small models with controllable misbehaviour for the serving tests.

They are pickled by value (cloudpickle), so replicas load them without this module.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np

SLOW = 777.0  # a first feature of 777 makes predict sleep
CRASH = 666.0  # ... of 666 kills the replica, once per marker file


class Doubler:
    """Predicts twice the first feature; raises on negative input."""

    n_features_in_ = 2

    def __init__(self, marker: str = "", slow_seconds: float = 0.5, factor: float = 2.0) -> None:
        self.marker = marker
        self.slow_seconds = slow_seconds
        self.factor = factor

    def predict(self, X: Any) -> Any:
        X = np.asarray(X, dtype=float)
        first = X[:, 0]
        if (first < 0).any():
            raise ValueError("negative input: this model takes x >= 0")
        if (first == SLOW).any():
            time.sleep(self.slow_seconds)
        if (first == CRASH).any() and self.marker and not os.path.exists(self.marker):
            with open(self.marker, "w") as fh:
                fh.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return first * self.factor
