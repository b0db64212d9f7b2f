"""Run the jsml command line as a user would: a subprocess with its own $JSML_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def jsml_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_serverless_ml.frontends.cli", *args],
        env=dict(os.environ, JSML_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=120,
    )
