"""Backends by entry point, their settings from every source, and refusals of missing parts.

A real distribution's metadata (a ``*.dist-info`` folder with ``entry_points.txt``)
is put on ``sys.path``, so :mod:`importlib.metadata` finds the test backends
exactly as it finds an installed package's.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml import backends, config
from jupyter_serverless_ml.backends import Backend, BackendInfo, Serving
from jupyter_serverless_ml.errors import ConfigError, UsageError
from jupyter_serverless_ml.statuses import Feature

PLUGIN = '''
from pathlib import Path

from jupyter_serverless_ml.backends.local import LocalBackend
from jupyter_serverless_ml.backends.protocol import Backend


class TrainingOnly(Backend):
    """Trains on the local platform and has no other capability."""

    name = "trainonly"

    def __init__(self, home: str = "", greeting: str = "hi", retries: int = 1, fast: bool = False):
        self.inner = LocalBackend(home=home or None)
        self.greeting, self.retries, self.fast = greeting, retries, fast

    def bundle_root(self) -> Path:
        return self.inner.bundle_root()

    def submit_training(self, bundle, request):
        return self.inner.submit_training(bundle, request)

    def job(self, ref):
        return self.inner.job(ref)

    def jobs(self, **kwargs):
        return self.inner.jobs(**kwargs)

    def logs(self, ref, cursor=None):
        return self.inner.logs(ref, cursor)

    def watch(self, job_id, **kwargs):
        return self.inner.watch(job_id, **kwargs)

    def metrics(self, ref):
        return self.inner.metrics(ref)

    def stop(self, ref):
        return self.inner.stop(ref)
'''


@pytest.fixture()
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Installs (on sys.path) a distribution registering ``trainonly``, ``needs-sdk``
    (whose module imports a package that does not exist) and ``notabackend``."""
    (tmp_path / "jsml_test_plugins.py").write_text(PLUGIN)
    (tmp_path / "jsml_needs_sdk.py").write_text("import jsml_no_such_sdk_anywhere\n")
    info = tmp_path / "jsml_test_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: jsml-test-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [jupyter_serverless_ml.backends]
            trainonly = jsml_test_plugins:TrainingOnly
            needs-sdk = jsml_needs_sdk:Backend
            notabackend = json:JSONDecoder
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    backends.reset()
    yield tmp_path
    backends.reset()
    config.use_backend(None)
    for name in ("jsml_test_plugins", "jsml_needs_sdk"):
        sys.modules.pop(name, None)


def test_local_is_an_entry_point_like_any_other() -> None:
    from importlib import metadata

    names = {ep.name for ep in metadata.entry_points(group=backends.ENTRY_POINT_GROUP)}
    assert "local" in names
    assert backends.backend_class("local").__name__ == "LocalBackend"


def test_a_plugin_backend_is_found_with_its_features(plugins: Path) -> None:
    assert {"trainonly", "needs-sdk", "local"} <= set(backends.available())
    assert backends.features_of("trainonly") == {Feature.TRAINING}
    described = {info.name: info for info in backends.describe()}
    assert described["trainonly"] == BackendInfo("trainonly", ("training",), False, None)
    from jupyter_serverless_ml.backends.protocol import PARTS

    assert described["local"].features == tuple(f.value for f in PARTS)  # every part


def test_a_missing_sdk_names_the_install_line(plugins: Path) -> None:
    with pytest.raises(ConfigError, match="jsml_no_such_sdk_anywhere") as caught:
        backends.get_backend("needs-sdk")
    assert "pip install jsml_no_such_sdk_anywhere" in str(caught.value)
    described = {info.name: info for info in backends.describe()}
    assert described["needs-sdk"].features == () and "pip install" in str(
        described["needs-sdk"].error
    )
    with pytest.raises(ConfigError, match="not a Backend subclass"):
        backends.get_backend("notabackend")


def test_planned_and_unknown_backends_are_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backends.EXTRAS, "azureml", "pip install 'jupyter-serverless-ml[azureml]'")
    with pytest.raises(UsageError, match="not part of this version yet; available backends"):
        backends.get_backend("azureml")
    with pytest.raises(UsageError, match="unknown backend 'nope'"):
        backends.get_backend("nope")


def test_settings_precedence(
    plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("JSML_HOME", str(home))
    (home / "config.toml").write_text(
        '[backends.trainonly]\ngreeting = "from the file"\nretries = 5\nfast = true\n'
    )
    built = backends.get_backend("trainonly", host_defaults={"greeting": "from the host"})
    assert isinstance(built, Backend)
    assert (built.greeting, built.retries, built.fast) == ("from the file", 5, True)  # type: ignore[attr-defined]

    monkeypatch.setenv("JSML_TRAINONLY_GREETING", "from the environment")
    monkeypatch.setenv("JSML_TRAINONLY_RETRIES", "7")
    built = backends.get_backend("trainonly")
    assert (built.greeting, built.retries) == ("from the environment", 7)  # type: ignore[attr-defined]

    backends.use_backend("trainonly", greeting="from the session")
    assert config.default_backend() == "trainonly"
    assert backends.get_backend().greeting == "from the session"  # type: ignore[attr-defined]
    assert backends.get_backend(greeting="from the call").greeting == "from the call"  # type: ignore[attr-defined]

    with pytest.raises(UsageError, match=r"no setting 'region'.*its settings: fast, greeting"):
        backends.get_backend("trainonly", region="eu-west-1")
    monkeypatch.setenv("JSML_TRAINONLY_FAST", "maybe")
    with pytest.raises(UsageError, match=r"fast \(from the environment.*true or false"):
        backends.get_backend("trainonly")
    monkeypatch.delenv("JSML_TRAINONLY_FAST")
    (home / "config.toml").write_text("[backends.trainonly\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        backends.get_backend("trainonly")
    (home / "config.toml").write_text('default_backend = "trainonly"\n')
    backends.use_backend(None)
    monkeypatch.delenv("JSML_BACKEND", raising=False)
    assert config.default_backend() == "trainonly"
    monkeypatch.setenv("JSML_BACKEND", "local")
    assert config.default_backend() == "local"


def test_a_missing_capability_is_refused_before_anything_is_created(
    plugins: Path, home: Path
) -> None:
    from sklearn.dummy import DummyRegressor

    model: Any = DummyRegressor().fit([[0.0]], [1.0])
    with pytest.raises(
        UsageError, match="trainonly backend has no endpoints; backends with endpoints: local"
    ):
        jsml.deploy(model, name="refused", backend="trainonly")
    with pytest.raises(UsageError, match="has no batch prediction"):
        jsml.batch_predict("refused", home, output=home / "out", backend="trainonly")
    with pytest.raises(UsageError, match="has no model registry; backends with model registry"):
        jsml.models(backend="trainonly")
    assert jsml.models("refused", backend="local") == []  # nothing was registered
    assert not isinstance(backends.get_backend("trainonly"), Serving)


def test_backend_magic_sets_the_default_and_lists_features(plugins: Path, ipython: Any) -> None:
    shown = ipython.run_line_magic("backend", "trainonly --greeting hello retries=3")
    assert config.default_backend() == "trainonly"
    assert backends.get_backend().greeting == "hello"  # type: ignore[attr-defined]
    assert {i.name: i.features for i in shown}["trainonly"] == ("training",)
    with pytest.raises(UsageError, match="needs a value"):
        ipython.run_line_magic("backend", "trainonly --greeting")
    with pytest.raises(UsageError, match="no setting 'colour'"):
        ipython.run_line_magic("backend", "trainonly colour=red")
    ipython.run_line_magic("backend", "--reset")
    assert config.default_backend() == "local"
