"""The public surface: ``__all__`` is exactly the public names, and each resolves."""

from __future__ import annotations

import jupyter_serverless_ml as jsml


def test_all_is_the_public_names() -> None:
    public = {name for name in jsml._EXPORTS} | {
        "load_ipython_extension",
        "unload_ipython_extension",
    }
    assert set(jsml.__all__) == public
    assert jsml.__all__ == sorted(jsml.__all__)
    for name in jsml.__all__:
        assert getattr(jsml, name) is not None


def test_capability_packages_export_what_they_define() -> None:
    from jupyter_serverless_ml import backends, batch, monitoring, registry, serving, training

    for package in (backends, batch, monitoring, registry, serving, training):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
        defined = {
            name
            for name, value in vars(package).items()
            if not name.startswith("_")
            and getattr(value, "__module__", "").startswith(package.__name__)
        }
        assert defined <= set(package.__all__), (
            f"{package.__name__}: {defined - set(package.__all__)}"
        )


def test_version_is_the_extensions_version() -> None:
    import json
    from pathlib import Path

    package_json = Path(jsml.__file__).resolve().parent.parent / "labextension" / "package.json"
    assert jsml.__version__ == json.loads(package_json.read_text())["version"]
