"""``--metric-definition NAME=REGEX``: checked and normalised before a job is submitted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..catalog.frameworks import Framework
from ..errors import UsageError
from ..runtime import metrics


def metric_definition_list(
    given: Mapping[str, str] | Iterable[str] | None, framework: Framework | None = None
) -> list[dict[str, str]]:
    """SageMaker-shaped ``[{"Name", "Regex"}]`` from a mapping or ``NAME=REGEX`` strings
    (``xgboost`` alone: the built-in XGBoost patterns, added by themselves to XGBoost
    framework jobs). A bad definition is a UsageError that says what to write."""
    items: list[tuple[str, str]] = []
    if isinstance(given, Mapping):
        items = [(str(k), str(v)) for k, v in given.items()]
    elif isinstance(given, str):
        raise UsageError(
            "metric_definitions takes a dict {NAME: REGEX} or a list of 'NAME=REGEX' strings"
        )
    elif given is not None:
        for text in given:
            name, sep, regex = str(text).partition("=")
            if not sep and name.strip() != metrics.XGBOOST:
                raise UsageError(
                    f"--metric-definition {text!r}: write NAME=REGEX, the first group of REGEX "
                    r"is the value (e.g. --metric-definition 'loss=loss: ([0-9.]+)'), "
                    "or --metric-definition xgboost"
                )
            items.append((name.strip(), regex))
    out: list[dict[str, Any]] = []
    for name, regex in items:
        out.append(
            {"Name": name}
            if name == metrics.XGBOOST and not regex
            else {"Name": name, "Regex": regex}
        )
    if (
        framework is not None
        and framework.name == "xgboost"
        and not any(d["Name"] == metrics.XGBOOST for d in out)
    ):
        out.append({"Name": metrics.XGBOOST})
    try:
        metrics.compile_definitions(out)
    except metrics.DefinitionError as exc:
        raise UsageError(str(exc)) from None
    return out
