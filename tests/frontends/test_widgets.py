"""The live ipywidgets view of a waiting job, and when it is used."""

from __future__ import annotations

from typing import Any

from jupyter_serverless_ml.frontends.widgets import (
    LOG_LINES,
    WidgetProgress,
    auto_progress,
    widgets_available,
)
from jupyter_serverless_ml.records import MetricRecord
from jupyter_serverless_ml.training import Progress


def test_the_widget_shows_status_metrics_and_the_last_log_lines(ipython: Any) -> None:
    view = WidgetProgress()
    view.status("job-1", "Running", "started")
    for index in range(30):
        view.log(f"line {index}\n")
    view.metric(MetricRecord(name="accuracy", value=0.93))
    view.close()
    assert "job-1" in view.header.value and "Running" in view.header.value
    assert "accuracy=0.93" in view.metrics_view.value
    assert "line 29" in view.log_view.value and "line 0\n" not in view.log_view.value
    assert view.log_view.value.count("\n") == LOG_LINES - 1  # the last 12 lines, metric included
    bundle = view._bundle()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.box.model_id
    assert "job-1: Running (started)" in bundle["text/plain"]  # what papermill keeps
    assert "[metric] accuracy=0.93" in bundle["text/plain"]


def test_plain_lines_outside_a_jupyter_kernel(ipython: Any, monkeypatch: Any) -> None:
    assert not widgets_available()  # a terminal IPython shell
    assert type(auto_progress()) is Progress
    monkeypatch.setenv("JSML_PROGRESS", "text")
    assert not widgets_available()
