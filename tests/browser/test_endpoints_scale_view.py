"""Serving at scale in the sidebar: a real multi-model endpoint of 3 small models (a cache
that holds 2, so one is evicted) after a few requests shows its model set with each
model's requests, errors, p50 and loaded/evicted state, in the expanded row and on the
dashboard's endpoint page; every endpoint shows keep-warm, its template's memory (what
it holds at zero replicas) and each replica's PSS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lab import api_get, keep_screenshot, open_lab, open_panel, set_left_width

from jupyter_serverless_ml import serving
from jupyter_serverless_ml.registry import model_ref

MIB = 1048576


@pytest.fixture(scope="module")
def trio(lab: Any) -> Any:
    """trio:1..3 (version N predicts N, carries 1 MiB), served from a 2.5 MiB cache, and
    asked 3, 2 and 4 times: trio:1 is evicted when trio:3 loads."""
    from sklearn.dummy import DummyRegressor

    for i in (1, 2, 3):
        model = DummyRegressor(strategy="constant", constant=float(i)).fit(
            np.zeros((2, 3)), np.zeros(2)
        )
        model.pad_ = np.random.RandomState(i).rand(131_072)  # 1 MiB on disk
        model_ref(model, "trio", None)
    ep = serving.deploy("trio", multi_model=True, model_cache="2.5M", name="trio-ep")
    for ref, times in (("trio:1", 3), ("trio:2", 2), ("trio:3", 4)):
        for _ in range(times):
            assert ep.predict([[0, 0, 0]], model=ref).tolist() == [float(ref[-1])]
    yield ep
    ep.undeploy()


@pytest.fixture(scope="module")
def solo(lab: Any) -> Any:
    """A one-model endpoint at zero replicas: only its template holds memory."""
    from sklearn.dummy import DummyRegressor

    model = DummyRegressor(strategy="constant", constant=7.0).fit(np.zeros((2, 3)), np.zeros(2))
    ep = serving.deploy(
        model,
        name="solo-ep",
        min_replicas=0,
        idle_timeout="300ms",
        metrics_interval=0.1,
        window=1.0,
        downscale_delay=0.5,
    )
    yield ep
    ep.undeploy()


def _state(stats: dict[str, Any]) -> str:
    if stats["loaded_in_replicas"] > 0:
        n = stats["loaded_in_replicas"]
        return "loaded" if n == 1 else f"loaded in {n} replicas"
    return "evicted" if stats["evictions"] > 0 else "not loaded"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _wait_for(predicate: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := predicate()):
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)
    return found


def test_a_multi_model_endpoint_shows_its_models_and_memory(
    lab: Any, page: Any, trio: Any, tmp_path: Path
) -> None:
    served = api_get(lab, "endpoints/trio-ep")
    models = served["multi_model"]["models"]
    assert set(models) == {"trio:1", "trio:2", "trio:3"}
    assert _state(models["trio:1"]) == "evicted" and _state(models["trio:3"]) == "loaded"
    open_lab(page, lab)
    panel = open_panel(page)
    set_left_width(page, 250)
    panel.locator('button[data-tab="endpoints"]').click()
    row = panel.locator('li[data-endpoint="trio-ep"]')
    row.locator(".jsml-row").click()
    table = row.locator('table[aria-label="models of trio-ep"]')
    table.locator("tbody tr").nth(2).wait_for(timeout=30_000)
    assert "serves trio:* (3 models)" in row.locator(".jsml-model-set").inner_text()
    for ref, stats in models.items():
        cells = table.locator(f'tr[data-mm-model="{ref}"] td').all_inner_texts()
        assert cells == [
            ref,
            str(stats["requests"]),
            str(stats["errors"]),
            _ms(stats["p50_ms"]),
            _state(stats),
        ]
    assert [models[r]["requests"] for r in ("trio:1", "trio:2", "trio:3")] == [3, 2, 4]
    # memory: keep-warm, the template's PSS, each replica's PSS
    memory = row.locator('dl[aria-label="memory of trio-ep"]')
    assert memory.locator("[data-keep-warm]").inner_text() == (
        "on" if served["keep_warm"] else "off"
    )
    replicas = memory.locator("li[data-replica]")
    expected = [r for v in served["variants"] for r in v["replica_memory"]]
    assert replicas.count() == len(expected) >= 1
    for i in range(replicas.count()):
        pss = int(replicas.nth(i).get_attribute("data-pss"))
        assert pss > 0
        assert f"{pss / MIB:.1f} MiB" in replicas.nth(i).inner_text()
    keep_screenshot(panel, tmp_path, "sidebar-endpoint-multi-model.png")

    # the dashboard's endpoint page: the same models with loads and evictions
    row.locator(".jsml-open").click()
    endpoint_page = page.locator('[data-endpoint-page="trio-ep"]')
    wide = endpoint_page.locator('table[aria-label="models of trio-ep"]')
    wide.locator("tbody tr").nth(2).wait_for(timeout=30_000)
    headers = wide.locator("th").all_inner_texts()
    assert headers == ["model", "req", "errors", "p50 ms", "p95 ms", "loads", "evictions", "state"]
    first = wide.locator('tr[data-mm-model="trio:1"] td').all_inner_texts()
    assert first[5:] == [
        str(models["trio:1"]["loads"]),
        str(models["trio:1"]["evictions"]),
        "evicted",
    ]
    endpoint_page.locator('dl[aria-label="memory of trio-ep"]').wait_for(timeout=30_000)


def test_an_endpoint_at_zero_replicas_shows_what_its_template_holds(
    lab: Any, page: Any, solo: Any
) -> None:
    served = _wait_for(  # scaled to zero after its idle window, its template kept
        lambda: (
            (e := api_get(lab, "endpoints/solo-ep"))["replicas"] == 0
            and e["memory"]["templates_pss_bytes"]
            and e
        )
    )
    assert served["keep_warm"] is True and served["memory"]["replicas_pss_bytes"] == 0
    open_lab(page, lab)
    panel = open_panel(page)
    panel.locator('button[data-tab="endpoints"]').click()
    row = panel.locator('li[data-endpoint="solo-ep"]')
    row.locator(".jsml-row").click()
    memory = row.locator('dl[aria-label="memory of solo-ep"]')
    memory.wait_for(timeout=30_000)
    assert memory.locator("[data-keep-warm]").inner_text() == "on"
    held = memory.locator("[data-template-pss]")
    pss = int(held.get_attribute("data-template-pss"))
    assert pss > 0 and held.inner_text().startswith(f"{pss / MIB:.1f} MiB (template ")
    assert "none running" in memory.inner_text()
    assert row.locator(".jsml-model-set").count() == 0  # one model: no model set
