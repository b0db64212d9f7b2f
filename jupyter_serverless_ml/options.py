"""Parsing of user-facing option values shared by the magics, the CLI and the API.

Each parser raises :class:`UsageError` with a message that shows the accepted form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import UsageError

_JOB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_\-]{0,47})$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZES = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def split_pair(text: str, option: str, example: str) -> tuple[str, str]:
    """Split ``KEY=VALUE``; the error names the option and shows ``example``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(
            f"{option} expects KEY=VALUE, got {text!r}; for example {option} {example}"
        )
    return key.strip(), value


def parse_value(raw: str) -> Any:
    """Type a hyperparameter value: int, float, bool, JSON (lists, dicts, quoted strings), else str."""
    text = raw.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text and text[0] in '[{"':
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"hyperparameter value {text!r} looks like JSON but does not parse ({exc.msg}); "
                "quote the whole option, e.g. --hp 'layers=[64, 32]'"
            ) from exc
    return text


def parse_hyperparameters(items: Iterable[str]) -> dict[str, Any]:
    """Parse repeated ``--hp K=V`` items into a typed dict."""
    result: dict[str, Any] = {}
    for item in items:
        key, value = split_pair(item, "--hp", "C=0.5")
        if not _IDENT.match(key):
            raise UsageError(f"--hp name {key!r} is not an identifier; use letters, digits and _")
        result[key] = parse_value(value)
    return result


def parse_channels(items: Iterable[str]) -> dict[str, str]:
    """Parse repeated ``--data CHANNEL=PATH`` items (paths are checked by :func:`check_channels`)."""
    result: dict[str, str] = {}
    for item in items:
        name, path = split_pair(item, "--data", "train=data/train.csv")
        if name in result:
            raise UsageError(f"--data channel {name!r} given twice; use one path per channel")
        result[name] = path
    return result


def check_channels(channels: Mapping[str, str | Path], base: Path | None = None) -> dict[str, str]:
    """Resolve channel paths to absolute ones; a missing path, a bad name or a path inside
    ``$JSML_HOME`` is a UsageError."""
    import os

    base = base or Path.cwd()
    resolved: dict[str, str] = {}
    for name, raw in channels.items():
        if not _CHANNEL.match(name):
            raise UsageError(
                f"data channel name {name!r} must start with a letter and hold only letters, "
                "digits and _ (it becomes SM_CHANNEL_<NAME>)"
            )
        path = Path(raw).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.exists():
            raise UsageError(
                f"data channel {name!r}: {raw} does not exist (looked in {path.parent}); "
                "give an existing file or directory, e.g. --data train=data/train.csv"
            )
        home = Path(
            os.environ.get("JSML_HOME") or Path.home() / ".jupyter_serverless_ml"
        ).expanduser()
        home = home.resolve()
        if path.resolve() == home or home in path.resolve().parents:
            raise UsageError(
                f"data channel {name!r}: {raw} is inside the platform's home {home} (its token, "
                "store and other jobs' files); copy the data elsewhere and pass that path"
            )
        resolved[name] = str(path.resolve())
    return resolved


def parse_duration(text: str | float | int | None) -> float | None:
    """Parse ``90``, ``90s``, ``5m``, ``1h30m``, ``500ms`` into seconds."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else float(text)
    raw = text.strip().lower()
    try:
        return float(raw)
    except ValueError:
        pass
    parts = _DURATION.findall(raw)
    if not parts or _DURATION.sub("", raw).strip():
        raise UsageError(f"cannot read duration {text!r}; write e.g. 90s, 5m, 1h or 1h30m")
    return sum(float(n) * _UNITS[unit] for n, unit in parts)


def parse_size(text: str | int | None) -> int | None:
    """Parse ``2G``, ``512M``, ``1.5GiB``, ``1000000`` into bytes."""
    if text is None or isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", text.upper())
    if not match:
        raise UsageError(f"cannot read memory size {text!r}; write e.g. 512M, 2G or 1.5G")
    return int(float(match.group(1)) * _SIZES[match.group(2)])


def format_size(n: int | None) -> str:
    """Format bytes as a short human size (``1.5G``)."""
    if n is None:
        return "-"
    for unit in ("T", "G", "M", "K"):
        if n >= _SIZES[unit]:
            return f"{n / _SIZES[unit]:.3g}{unit}"
    return f"{n}B"


def format_duration(seconds: float | None) -> str:
    """Format seconds as ``1.2s``, ``3m04s`` or ``2h05m``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def validate_name(name: str) -> str:
    """Job and model names: 1-48 letters, digits, '-' or '_', starting with a letter or digit."""
    if not isinstance(name, str) or not _JOB_NAME.fullmatch(name):
        raise UsageError(
            f"invalid name {name!r}: use 1-48 letters, digits, '-' or '_', starting with a letter "
            "or digit (e.g. --name churn-v2)"
        )
    return name


HYPERPARAMETERS_MAX_BYTES = 64 * 1024


def check_hyperparameters(hp: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse hyperparameters a job cannot receive: non-finite numbers and oversized values.

    Hyperparameters travel as JSON (the store, ``hyperparameters.json``) and in the
    job's environment (``SM_HPS``, ``SM_HP_<NAME>``), where Linux caps one string at
    128 KiB; NaN and infinity are not JSON. Returns ``hp`` as a plain dict.
    """
    values = dict(hp)
    for key, value in values.items():
        bad = _non_finite(value)
        if bad is not None:
            raise UsageError(
                f"hyperparameter {key!r} holds {bad}, which JSON (how hyperparameters travel to "
                f"the job) cannot carry; pass it as a string and convert it in the code, e.g. "
                f"--hp '{key}=\"{bad}\"' (or hp={{{key!r}: {str(bad)!r}}}) and float(hp.{key})"
            )
    try:
        size = max(
            len(json.dumps(values).encode()),
            len(json.dumps([f"--{k}={v}" for k, v in values.items()]).encode()),
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"hyperparameters must be JSON values (numbers, strings, booleans, lists, dicts): {exc}"
        ) from None
    if size > HYPERPARAMETERS_MAX_BYTES:
        largest = max(values, key=lambda k: len(json.dumps(values[k])))
        raise UsageError(
            f"hyperparameters take {size:,} bytes as JSON, over the limit of "
            f"{HYPERPARAMETERS_MAX_BYTES:,} (they reach the job in its environment, where one "
            f"variable holds at most 128 KiB; the largest is {largest!r}); write large values "
            "to a file and pass it as a data channel instead, e.g. --data params=params.json "
            "and read channel('params') in the code"
        )
    return values


def _non_finite(value: Any) -> float | None:
    """The first NaN or infinite float inside ``value`` (lists and dicts searched), else None."""
    if isinstance(value, float):
        return value if value != value or abs(value) == float("inf") else None
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _non_finite(item)
            if found is not None:
                return found
    return None
