"""Browser tests of the sidebar's lifecycle and serving-at-scale views: a real JupyterLab
(one per module, over the module's own platform home) and a real Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab import browser_page, jupyter_lab

HAVE_BROWSER = Path(os.environ.get("JSML_CHROMIUM", "/usr/bin/chromium")).exists()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip these tests where no Chromium is installed (unless one is required)."""
    if HAVE_BROWSER or os.environ.get("JSML_REQUIRE_BROWSER"):
        return
    skip = pytest.mark.skip(
        reason="no Chromium here (apt-get install chromium; .ci/run installs it and requires it)"
    )
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def lab(platform_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("lab-root")
    with jupyter_lab(root, platform_home) as running:
        yield running


@pytest.fixture
def page(lab: Any) -> Iterator[Any]:
    with browser_page() as opened:
        yield opened
