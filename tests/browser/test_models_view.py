"""The Models view's lifecycle: stage and approval on every version in the sidebar and the
dashboard; Promote behind a gate (a refusal shows the server's reason), Approve and Reject,
each behind Lab's confirmation dialog, and what each changed as the Python API sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lab import (
    confirm_dialog,
    keep_screenshot,
    open_lab,
    open_panel,
    set_left_width,
    visible_at_centre,
)

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.registry import promote


@pytest.fixture(scope="module")
def versions(lab: Any) -> list[str]:
    """churn:1 (accuracy 0.8) and churn:2 (accuracy 0.95), trained as a notebook would."""
    refs = []
    for accuracy in (0.8, 0.95):
        job = jsml.train(
            f"log_metric('accuracy', {accuracy})\nmodel = {{'w': {accuracy}}}\n",
            name="churn",
            namespace={},
        )
        refs.append(f"churn:{job.model_version}")
    assert refs == ["churn:1", "churn:2"]
    return refs


def _promote(page: Any, row: Any, stage: str, gate: str) -> None:
    row.locator(".jsml-promote").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator('select[aria-label="stage"]').select_option(stage)
    dialog.locator('input[aria-label="gate"]').fill(gate)
    confirm_dialog(page)


def test_promote_behind_a_gate_approve_and_reject_from_the_sidebar(
    lab: Any, page: Any, versions: list[str], tmp_path: Path
) -> None:
    open_lab(page, lab)
    panel = open_panel(page)
    set_left_width(page, 250)
    panel.locator('button[data-tab="models"]').click()
    first = panel.locator('li[data-model="churn:1"]')
    second = panel.locator('li[data-model="churn:2"]')
    # each version shows its stage and its approval
    for row in (first, second):
        row.locator(".jsml-status-none").wait_for(timeout=30_000)
        assert row.locator('[aria-label="approval PendingManualApproval"]').count() == 1
        name = row.locator(".jsml-row-name")  # at 250 px the badges leave the name whole
        assert name.evaluate("n => n.scrollWidth <= n.clientWidth") and visible_at_centre(name)

    # a promotion the gate refuses: the server's reason, and nothing changed
    with pytest.raises(jsml.PromotionRefused) as refused:
        promote("churn:1", "production", require="accuracy>=0.9")  # what the server answers
    first.locator(".jsml-row").click()
    _promote(page, first, "production", "accuracy>=0.9")
    reason = first.locator(".jsml-refused")
    reason.wait_for(timeout=30_000)
    assert reason.get_attribute("role") == "alert"
    assert reason.inner_text() == f"Promotion refused: {refused.value}"
    assert "accuracy" in reason.inner_text() and "0.8" in reason.inner_text()
    assert jsml.model("churn:1").stage == "none"
    keep_screenshot(panel, tmp_path, "sidebar-models.png")

    # the same gate passes churn:2: production (and so approved), in the row and the API
    second.locator(".jsml-row").click()
    _promote(page, second, "production", "accuracy>=0.9")
    second.locator(".jsml-row .jsml-status-production").wait_for(timeout=30_000)
    second.locator('[aria-label="approval Approved"]').wait_for(timeout=30_000)
    assert jsml.model("churn:2").stage == "production"
    assert jsml.model("churn:2").approval == "Approved"
    assert second.locator(".jsml-approve").count() == 0  # approved: only Reject is offered

    # Reject asks first; Cancel changes nothing, the warn button rejects
    first.locator(".jsml-row").click()
    first.locator(".jsml-reject").click()
    page.locator(".jp-Dialog", has_text="Reject churn:1?").wait_for(timeout=10_000)
    page.locator(".jp-Dialog button.jp-mod-reject").click()
    assert jsml.model("churn:1").approval == "PendingManualApproval"
    first.locator(".jsml-reject").click()
    confirm_dialog(page)
    first.locator('[aria-label="approval Rejected"]').wait_for(timeout=30_000)
    assert jsml.model("churn:1").approval == "Rejected"
    # a Rejected version is refused production with the registry's reason
    _promote(page, first, "production", "")
    first.locator(".jsml-refused", has_text="was Rejected; approve it first").wait_for(
        timeout=30_000
    )
    first.locator(".jsml-approve").click()
    confirm_dialog(page)
    first.locator('[aria-label="approval Approved"]').wait_for(timeout=30_000)
    assert jsml.model("churn:1").approval == "Approved"
    assert first.locator(".jsml-refused").count() == 0  # the old refusal no longer shows


def test_the_dashboard_lists_stage_and_approval_and_promotes_to_staging(
    lab: Any, page: Any, versions: list[str]
) -> None:
    open_lab(page, lab)
    panel = open_panel(page)
    panel.locator('button[data-tab="models"]').click()
    panel.locator(".jsml-open-dashboard").click()
    dashboard = page.locator("#jupyter-serverless-ml-dashboard")
    dashboard.locator('[data-section="models"]').click()
    row = dashboard.locator('tr[data-model="churn:1"]')
    row.wait_for(timeout=30_000)
    cells = row.locator("td").all_inner_texts()
    expected = jsml.model("churn:1")
    assert expected.stage in cells and expected.approval in cells
    row.click()
    actions = dashboard.locator('[data-model-page="churn:1"]')
    actions.locator(".jsml-promote").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator('select[aria-label="stage"]').select_option("staging")
    confirm_dialog(page)
    row.locator(".jsml-status-staging").wait_for(timeout=30_000)
    assert jsml.model("churn:1").stage == "staging"
