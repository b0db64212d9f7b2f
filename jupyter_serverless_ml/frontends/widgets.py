"""A live ipywidgets view of a job while a cell waits for it.

The view (status badge, elapsed time, latest metrics, the last log lines)
updates as the job runs. Its plain-text fallback is the same progress text
:class:`~jupyter_serverless_ml.handles.Progress` prints, kept current with
display updates, so papermill and nbconvert record plain text.
"""

from __future__ import annotations

import html
import os
import time
from typing import Any

from ..display import status_badge
from ..records import MetricRecord
from ..training import Progress

LOG_LINES = 12
_UPDATE_EVERY = 0.5


def widgets_available() -> bool:
    """True in a Jupyter kernel with ipywidgets installed (and JSML_PROGRESS not ``text``)."""
    if os.environ.get("JSML_PROGRESS", "auto") == "text":
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
            return False
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


class WidgetProgress(Progress):
    """Progress as a live widget, with the printed text as its plain-text fallback."""

    def __init__(self) -> None:
        import ipywidgets as w
        from IPython.display import display

        super().__init__(write=self._append)
        self.text = ""
        self.started = time.monotonic()
        self.last_update = 0.0
        self.current = "Pending"
        self.job_id = ""
        self.values: dict[str, float] = {}
        self.header = w.HTML()
        self.metrics_view = w.HTML()
        self.log_view = w.HTML()
        self.box = w.VBox(
            [self.header, self.metrics_view, self.log_view],
            layout=w.Layout(border="1px solid #ddd", padding="4px"),
        )
        self.handle = display(self._bundle(), raw=True, display_id=True)
        self._render()

    def _bundle(self) -> dict[str, Any]:
        return {
            "text/plain": self.text or "waiting for the job...",
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.box.model_id,
            },
        }

    def _append(self, text: str) -> None:
        self.text += text
        self._render()
        now = time.monotonic()
        if now - self.last_update >= _UPDATE_EVERY:
            self.last_update = now
            if self.handle is not None:
                self.handle.update(self._bundle(), raw=True)

    def _render(self) -> None:
        elapsed = time.monotonic() - self.started
        self.header.value = (
            f"<b>{html.escape(self.job_id or 'job')}</b> {status_badge(self.current)} "
            f"<span style='color:#757575'>{elapsed:.0f}s</span>"
        )
        self.metrics_view.value = " ".join(
            f"<code>{html.escape(k)}={v:.6g}</code>" for k, v in self.values.items()
        )
        lines = [line for line in self.text.splitlines() if line.strip()][-LOG_LINES:]
        self.log_view.value = (
            "<pre style='margin:0;max-height:14em;overflow:auto;font-size:90%'>"
            + html.escape("\n".join(lines))
            + "</pre>"
        )

    def status(self, job_id: str, status: str, message: str = "") -> None:
        self.job_id, self.current = job_id, status
        self.last_update = 0.0  # a status change is shown at once
        super().status(job_id, status, message)

    def metric(self, record: MetricRecord) -> None:
        self.values[record.name] = float(record.value)
        super().metric(record)

    def close(self) -> None:
        self._render()
        if self.handle is not None:
            self.handle.update(self._bundle(), raw=True)


def auto_progress() -> Progress:
    """A widget view in a Jupyter kernel with ipywidgets; printed lines elsewhere."""
    if widgets_available():
        try:
            return WidgetProgress()
        except Exception:  # a frontend without widgets support: plain text still works
            return Progress()
    return Progress()
