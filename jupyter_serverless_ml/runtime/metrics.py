"""Metric definitions: log lines that match a regular expression become metrics.

As SageMaker's ``MetricDefinitions`` do: each definition is ``{"Name", "Regex"}``
and the first capture group of a line that matches is the value. ``xgboost``
names the built-in XGBoost patterns: an evaluation line such as
``[12]#011train-rmse:0.41#011validation-auc:0.93`` (``#011`` is how CloudWatch
shows a tab; a real tab works the same) gives ``train:rmse`` and
``validation:auc`` at step 12, the names SageMaker's XGBoost uses.

:class:`LineTap` puts a pipe in front of file descriptors 1 and 2, so it sees
everything the job writes (print, logging, C extensions, subprocesses), passes
every byte through unchanged, and records what matches through
:func:`.context.log_metric`, the same path a cell's ``log_metric`` takes.
Standard library only: this runs inside the job, locally or in an exported image.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import context

XGBOOST = "xgboost"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_XGB_LINE = re.compile(r"\[(\d+)\]")
_XGB_PAIR = re.compile(r"(?:#011|\t)\s*([^\s:#]+?)-([^\s:#][^\s:#]*):(" + _NUMBER + ")")


class DefinitionError(ValueError):
    """A metric definition that cannot be used (bad regex, no capture group)."""


@dataclass(frozen=True)
class Rule:
    """One metric definition, compiled."""

    name: str
    regex: re.Pattern[str] | None  # None: the built-in XGBoost patterns


def compile_definitions(definitions: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """Check and compile ``[{"Name": ..., "Regex": ...}]`` (``{"Name": "xgboost"}`` alone
    stands for the built-in XGBoost patterns)."""
    rules: list[Rule] = []
    for item in definitions:
        name = str(item.get("Name") or "").strip()
        pattern = item.get("Regex")
        if name == XGBOOST and not pattern:
            rules.append(Rule(XGBOOST, None))
            continue
        if not name or not pattern:
            raise DefinitionError(
                f"metric definition {dict(item)!r} needs a Name and a Regex: "
                "write --metric-definition NAME=REGEX (or --metric-definition xgboost)"
            )
        try:
            regex = re.compile(str(pattern))
        except re.error as exc:
            raise DefinitionError(
                f"metric definition {name}: {pattern!r} is not a regular expression ({exc})"
            ) from None
        if regex.groups < 1:
            raise DefinitionError(
                f"metric definition {name}: {pattern!r} has no capture group; the first group "
                r"is the value, e.g. {name}=loss: ([0-9.]+)".replace("{name}", name)
            )
        rules.append(Rule(name, regex))
    return rules


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def scan(line: str, rules: Iterable[Rule]) -> list[tuple[str, float, int | None]]:
    """The metrics one log line gives: (name, value, step)."""
    found: list[tuple[str, float, int | None]] = []
    for rule in rules:
        if rule.regex is None:
            head = _XGB_LINE.search(line)
            if head is None:
                continue
            for data, metric, text in _XGB_PAIR.findall(line[head.end() :]):
                value = _number(text)
                if value is not None:
                    found.append((f"{data}:{metric}", value, int(head.group(1))))
            continue
        match = rule.regex.search(line)
        if match and match.group(1) is not None:
            value = _number(match.group(1))
            if value is not None:
                found.append((rule.name, value, None))
    return found


class LineTap:
    """Pipes in front of stdout and stderr that record matching lines as metrics."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._saved: list[tuple[int, int]] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> LineTap:
        """Redirect file descriptors 1 and 2 through the tap."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for fd in (1, 2):
            read_end, write_end = os.pipe()
            saved = os.dup(fd)
            os.dup2(write_end, fd)
            os.close(write_end)
            self._saved.append((fd, saved))
            thread = threading.Thread(target=self._pump, args=(read_end, saved), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _pump(self, read_end: int, out: int) -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            _write_all(out, chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._record(line)
        if pending:
            self._record(pending)
        os.close(read_end)

    def _record(self, raw: bytes) -> None:
        for name, value, step in scan(raw.decode("utf-8", "replace"), self.rules):
            try:
                context.log_metric(name, value, step)
            except Exception:  # a metric that cannot be written never fails the job
                continue

    def stop(self) -> None:
        """Put the original descriptors back and wait until every line is recorded."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        for fd, saved in self._saved:
            os.dup2(saved, fd)  # closes the pipe's last write end: the pump sees EOF
        for thread in self._threads:
            thread.join(timeout=10)
        for _, saved in self._saved:
            os.close(saved)
        self._saved.clear()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError:
            return
        view = view[written:]


def start(definitions: Iterable[Mapping[str, Any]] | None) -> LineTap | None:
    """A started tap for ``definitions``, or None when there are none."""
    rules = compile_definitions(definitions or [])
    return LineTap(rules).start() if rules else None
