"""Which kernel a scheduled notebook runs on, checked when the schedule is made.

papermill starts the kernel the notebook names (``metadata.kernelspec.name``) unless the
schedule names one (``--kernel``). A notebook written by a tool rather than saved from
Lab may name none, and a notebook from another machine may name a kernel not installed
here; either would fail every run, so the schedule is refused, saying what to pass.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ...errors import UsageError

MAX_NOTEBOOK = 64 * 1024 * 1024
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit)): ?(.*)$")


def installed_kernels() -> list[str]:
    """The kernel names this platform's papermill can start."""
    from jupyter_client.kernelspec import find_kernel_specs

    return sorted(find_kernel_specs())


def check_kernel(notebook: Path, kernel: str | None) -> str:
    """The kernel a run of ``notebook`` will start (``kernel``, else the one it names);
    a :class:`UsageError` when there is none, or it is not installed."""
    try:
        with open(notebook, "rb") as fh:
            data = json.loads(fh.read(MAX_NOTEBOOK + 1))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{notebook} is not a readable notebook ({exc}); save it from Lab"
        ) from None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    named = kernel or (spec.get("name") if isinstance(spec, dict) else None)
    installed = installed_kernels()
    shown = ", ".join(installed) or "none"
    if not named:
        raise UsageError(
            f"{notebook} names no kernel (no kernelspec in its metadata), so papermill could "
            f"not run it; pass --kernel {installed[0] if installed else 'python3'} "
            "(kernel= in Python), or open it in JupyterLab, choose a kernel and save it"
        )
    if str(named) not in installed:
        source = "--kernel" if kernel else "the notebook's kernelspec"
        raise UsageError(
            f"kernel {named!r} ({source}) is not installed on this platform; installed "
            f"kernels: {shown}; pass --kernel with one of them"
        )
    return str(named)


def last_error(log: str) -> str | None:
    """The last ``SomeError: message`` line of a papermill log (why it failed before any
    cell ran: no kernel, a bad parameter), or None."""
    for line in reversed(log.splitlines()):
        found = _ERROR_LINE.match(line.strip())
        if found:
            return f"{found.group(1)}: {found.group(2)}"[:2000]
    return None


__all__ = ["check_kernel", "installed_kernels", "last_error"]
