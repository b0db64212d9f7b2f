"""One error tree, one map to HTTP, one way to map a foreign library's errors."""

from __future__ import annotations

import pytest

from jupyter_serverless_ml import errors
from jupyter_serverless_ml.errors import (
    BackendError,
    CaptureError,
    ConfigError,
    Conflict,
    NotFound,
    PlatformUnavailable,
    UsageError,
    http_status,
    map_exceptions,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UsageError("x"), 400),
        (CaptureError("x"), 400),
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (ConfigError("x"), 500),
        (BackendError("x"), 502),
        (PlatformUnavailable("x"), 503),
        (RuntimeError("x"), 500),
    ],
)
def test_one_http_map(error: BaseException, status: int) -> None:
    assert http_status(error) == status


def test_the_platform_and_the_sidebar_use_the_same_map() -> None:
    from jupyter_serverless_ml.platform import server as platform_server
    from jupyter_serverless_ml.server import handlers

    assert platform_server.http_status is errors.http_status
    assert handlers.http_status is errors.http_status


def test_map_exceptions_rewraps_foreign_errors_only() -> None:
    with (
        pytest.raises(PlatformUnavailable, match="calling the cloud: refused") as caught,
        map_exceptions({ConnectionError: PlatformUnavailable}, "calling the cloud"),
    ):
        raise ConnectionRefusedError("refused")
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    with pytest.raises(NotFound), map_exceptions({Exception: BackendError}, "ctx"):
        raise NotFound("ours passes through")
    with pytest.raises(KeyError), map_exceptions({ConnectionError: BackendError}, "ctx"):
        raise KeyError("not mapped")
