"""The tuning API is part of the package's public surface."""

from __future__ import annotations

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import tuning


def test_the_package_root_exports_the_tuning_api() -> None:
    for name in tuning.__all__:
        assert name in jsml.__all__, name
        assert getattr(jsml, name) is getattr(tuning, name)


def test_the_tuning_package_exports_what_it_defines() -> None:
    defined = {
        name
        for name, value in vars(tuning).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith(tuning.__name__)
    }
    assert defined <= set(tuning.__all__)
