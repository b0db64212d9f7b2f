import pytest

from jupyter_serverless_ml.errors import CaptureError, UsageError
from jupyter_serverless_ml.packaging.capture import capture, pickle_modules
from jupyter_serverless_ml.packaging.freevars import (
    channel_literals,
    free_names,
    imported_modules,
    top_level_definition,
)


def test_free_names_follow_python_scoping() -> None:
    source = (
        "import pandas as pd\n"
        "df = prep(pd.read_csv(channel('train')))\n"
        "total = sum(x for x in ys if x > limit)\n"
        "def helper(a):\n    return a + K\n"
        "class C(Base):\n    v = V\n    def m(self):\n        return W\n"
        "for i in range(3):\n    acc = i\n"
    )
    assert free_names(source) == {"prep", "channel", "ys", "limit", "K", "Base", "V", "W"}


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(UsageError, match="line 2"):
        free_names("x = 1\ny = (\n")


def test_imports_and_channels_are_found() -> None:
    src = "import numpy as np\nfrom sklearn.linear_model import LogisticRegression\nx = channel('train')\n"
    assert {"numpy", "sklearn.linear_model"} <= imported_modules(src)
    assert channel_literals(src) == {"train"}


def _namespace(source: str) -> dict:
    """Run ``source`` as a fake notebook whose functions have real, inspectable source."""
    import linecache

    filename = f"<notebook-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def test_functions_are_captured_by_source_transitively() -> None:
    ns = _namespace(
        "import math\nFEATURES = ['a', 'b']\n"
        "def scale(x):\n    return x * FACTOR\n"
        "FACTOR = 2\n"
        "def prep(rows):\n    return [scale(r) for r in rows if math.isfinite(r)]\n"
    )
    result = capture("out = prep([1.0])\ncols = FEATURES\n", ns)
    kinds = {r.name: (r.kind, r.reason) for r in result.records}
    assert kinds["prep"] == ("source", "used by the cell")
    assert kinds["scale"] == ("source", "used by prep()")
    assert kinds["math"] == ("import", "used by prep()")
    assert kinds["FACTOR"] == ("value", "used by scale()")
    assert kinds["FEATURES"][0] == "value"
    code = result.captured_source()
    assert "import math" in code and "def prep(rows)" in code and "def scale(x)" in code
    assert result.values == {"FACTOR": 2, "FEATURES": ["a", "b"]}


def test_class_source_comes_from_history_when_inspect_cannot_find_it() -> None:
    ns = {"__name__": "__main__"}
    exec("class Base:\n    pass\nclass Model(Base):\n    pass\n", ns)  # no source on record
    history = ["x = 1", "class Base:\n    pass\n", "class Model(Base):\n    pass\n"]
    result = capture("m = Model()\n", ns, history=history)
    code = result.captured_source()
    assert code.index("class Base") < code.index("class Model(Base)")


def test_objects_from_installed_modules_become_imports() -> None:
    from collections import OrderedDict

    result = capture(
        "d = OrderedDict()\nj = json.dumps(d)\n",
        {"OrderedDict": OrderedDict, "json": __import__("json")},
    )
    assert "from collections import OrderedDict" in result.imports
    assert "import json" in result.imports
    assert not result.values


def test_runtime_names_are_not_captured() -> None:
    result = capture("x = channel('a')\nlog_metric('m', hp.C)\n", {})
    assert {r.name for r in result.records if r.kind == "runtime"} == {
        "channel",
        "log_metric",
        "hp",
    }


def test_missing_name_is_a_clear_error() -> None:
    with pytest.raises(
        CaptureError,
        match=r"uses 'FEATURES' \(used by the cell\) but the notebook does not define it",
    ):
        capture("x = FEATURES\n", {})


def test_oversized_value_points_to_data_channels() -> None:
    with pytest.raises(CaptureError) as err:
        capture("n = len(big)\n", {"big": b"x" * 5000}, max_value_bytes=1000)
    message = str(err.value)
    assert (
        "'big'" in message and "--data big=big.parquet" in message and "channel('big')" in message
    )


def test_unpicklable_value_is_named() -> None:
    import threading

    with pytest.raises(CaptureError, match="cannot capture 'lock'"):
        capture("lock.acquire()\n", {"lock": threading.Lock()})


def test_lambdas_and_closures_are_pickled_by_value() -> None:
    def outer():
        k = 3
        return lambda x: x + k

    ns = {"__name__": "__main__", "f": outer(), "g": lambda y: y}
    result = capture("a = f(1) + g(2)\n", ns)
    assert set(result.values) == {"f", "g"}


def test_pickle_modules_finds_the_libraries_to_unpickle() -> None:
    from fractions import Fraction

    import cloudpickle
    import pandas as pd

    data = cloudpickle.dumps({"frame": pd.DataFrame({"a": [1]}), "ratio": Fraction(1, 3)})
    found = pickle_modules(data)
    assert any(m.startswith("pandas") for m in found)
    assert "fractions" in found
    assert not any(m.startswith("sklearn") for m in found)


def test_top_level_definition_includes_decorators() -> None:
    src = "import functools\n@functools.lru_cache\ndef f(x):\n    return x\n"
    assert top_level_definition(src, "f") == "@functools.lru_cache\ndef f(x):\n    return x\n"
