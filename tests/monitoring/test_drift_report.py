"""The drift report in a notebook: per feature, the baseline's and the current distribution
side by side (inline SVG bars drawn from the check's histograms), the statistic and the
verdict; the plain-text form carries the same numbers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd

from jupyter_serverless_ml.monitoring.drift_report import DriftReport
from jupyter_serverless_ml.platform.drift import checks, profiles
from jupyter_serverless_ml.platform.drift.capture_reader import Window


class Rows(HTMLParser):
    """Each table row of the report: its cells' text and its bars (x, height, fill)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, list]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr":
            self.rows.append({"cells": [], "bars": []})
        elif tag == "td":
            self.cell = []
        elif tag == "rect" and self.rows:
            self.rows[-1]["bars"].append((float(a["x"] or 0), float(a["height"] or 0), a["fill"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None and self.rows:
            self.rows[-1]["cells"].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def centre(bars: list[tuple[float, float, str]]) -> float:
    total = sum(h for _, h, _ in bars)
    return sum(x * h for x, h, _ in bars) / total


def test_each_feature_shows_both_distributions_its_statistic_and_verdict() -> None:
    rng = np.random.default_rng(21)
    train = pd.DataFrame(
        {"x": rng.normal(0, 1, 3000), "plan": rng.choice(["a", "b", "c"], 3000, p=[0.6, 0.3, 0.1])}
    )
    now = pd.DataFrame(
        {
            "x": rng.normal(1.5, 1, 2000),
            "plan": rng.choice(["a", "b", "c"], 2000, p=[0.6, 0.3, 0.1]),
        }
    )
    window = Window(0.0, 3600.0)
    window.records = now.to_dict("records")
    report = checks.check(profiles.profile_frame(train, "train.csv"), window)
    report.update(endpoint="ep", model="m:1")
    shown = DriftReport(report, [])

    parser = Rows()
    parser.feed(shown._repr_html_())
    rows = {r["cells"][0]: r for r in parser.rows if r["cells"]}
    assert set(rows) == {"x", "plan"}
    x, plan = rows["x"], rows["plan"]
    result = {f["feature"]: f for f in report["features"]}
    assert x["cells"][2:4] == ["wasserstein", f"{result['x']['statistic']:.4g}"]
    assert x["cells"][-1] == "DRIFT" and plan["cells"][-1] == "ok"

    grey = [b for b in x["bars"] if b[2] == "#9e9e9e"]
    current = [b for b in x["bars"] if b[2] != "#9e9e9e"]
    assert len(grey) == len(current) == checks.CHART_BINS
    assert {b[2] for b in current} == {"#c62828"}  # drifted: red
    # the bars are the histograms: the current mass sits to the right of the baseline's
    assert centre(current) > centre(grey) + 2
    heights = [h for _, h, _ in grey]
    shares = result["x"]["chart"]["baseline"]
    assert np.argmax(heights) == np.argmax(shares)

    plan_grey = [h for _, h, f in plan["bars"] if f == "#9e9e9e"]
    plan_now = [h for _, h, f in plan["bars"] if f != "#9e9e9e"]
    assert (
        len(plan_grey) == 3
        and max(abs(a - b) for a, b in zip(plan_grey, plan_now, strict=True)) < 3
    )
    assert "DRIFT" in shown._head() and re.search(
        r"2000 rows .* vs 3000 baseline rows", shown._head()
    )

    text = repr(shown)
    assert re.search(r"^x +wasserstein +\S+ +0\.1 .* DRIFT$", text, re.M), text
    assert re.search(r"^plan +linf +\S+ +0\.1 .* ok$", text, re.M), text
