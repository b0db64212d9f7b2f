"""Turning request payloads into model inputs and predictions into responses.

Used by serving replicas and batch workers, inside the model's environment
(numpy and pandas are imported on first use). Input errors raise
:class:`InputError` (a 400 for the caller); anything the model raises is the
model's error (a 500 with its message).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import flavors, model_files


class InputError(ValueError):
    """The request cannot be turned into the model's input; the message says why.

    ``row`` is the 0-based index of the offending row, when one row is to blame;
    ``status`` the HTTP status it answers (400; 415 or 406 for a media type).
    """

    def __init__(self, message: str, row: int | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.row = row
        self.status = status


_NUMERIC_KINDS = "biuf"
MAX_JSON_DEPTH = 64  # a request's rows nest a few levels; Python's decoder recurses per level
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BOM = "\ufeff"


def json_nesting_error(payload: bytes, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``payload`` cannot be decoded safely as JSON: nested deeper than ``limit`` or with
    brackets that do not balance; None when it can (or when it is no deeper than ``limit``).

    Cheap for ordinary bodies (two byte counts); a body with many brackets is reduced to
    its brackets outside strings and innermost pairs are removed level by level in C.
    """
    if payload.count(b"[") + payload.count(b"{") <= limit:
        return None
    if b"\\" in payload:  # escaped quotes: strings need the full pattern
        payload = _STRING.sub(b"", payload)
    elif b'"' in payload:  # strings alternate with what lies outside them
        payload = b"".join(payload.split(b'"')[::2])
    brackets = payload.translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not inner:
            return None
        if len(inner) == len(brackets):
            return "the body is not valid JSON: its brackets do not balance"
        brackets = inner
    return (
        f"the body nests more than {limit} levels deep; send rows as a list of lists or of "
        'objects, e.g. {"instances": [[1, 2], [3, 4]]}'
    )


def _refuse_constant(name: str) -> Any:
    raise InputError(
        f"the body holds {name}, not a finite number (nor JSON); send null for a missing value"
    )


def loads(payload: bytes, constants: bool = False) -> Any:
    """Decode a JSON request body; anything that is not plain, finite JSON is an InputError.

    ``constants=True`` lets ``NaN``/``Infinity`` through as floats, for a caller that
    refuses them itself with a better message (the codec names the feature and row).
    """
    problem = json_nesting_error(payload)
    if problem:
        raise InputError(problem)
    try:
        if constants:
            return json.loads(payload)
        return json.loads(payload, parse_constant=_refuse_constant)
    except InputError:
        raise
    except RecursionError:
        raise InputError(f"the body nests more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:
        raise InputError(f"the body is not valid JSON: {exc}") from None


def _finite_error(value: Any, where: str) -> str:
    return (
        f"{where} is {value!r}, not a finite number; send a number between -1.8e308 and 1.8e308 "
        "(or null in JSON for a missing value)"
    )


class Predictor:
    """A loaded model with its signature: decodes inputs, predicts, encodes outputs."""

    def __init__(
        self, model_dir: str | Path, method: str = "predict", model: Any = None, mmap: bool = False
    ) -> None:
        self.meta = flavors.describe(model_dir)
        self.model = flavors.load(model_dir, strict=True, mmap=mmap) if model is None else model
        self.flavor = self.meta["flavor"]
        signature = self.meta.get("signature") or {}
        inputs = signature.get("inputs") or []
        names = getattr(self.model, "feature_names_in_", None)
        self.columns: list[str] | None = [i["name"] for i in inputs] or (
            [str(n) for n in names] if names is not None else None
        )
        self.dtypes: dict[str, str] = {i["name"]: i["dtype"] for i in inputs if i.get("dtype")}
        #: the model reads a float matrix as it reads the frame: rows need no DataFrame
        self.matrix = model_files.takes_matrix(self.model, self.columns)
        count = signature.get("n_features") or model_files.n_features(self.model)
        self.n_features: int | None = len(self.columns) if self.columns else count
        if method not in ("predict", "predict_proba"):
            raise InputError(f"--method {method!r}: use predict or predict_proba")
        if not callable(getattr(self.model, "predict", None)) and not (
            model_files.is_torch_module(self.model)
        ):
            raise InputError(
                f"the model is a {type(self.model).__name__}, which has no predict(); deploy a "
                "fitted model, or an inference script whose model_fn and predict_fn serve it"
            )
        if (
            method == "predict_proba"
            and not hasattr(self.model, "predict_proba")
            and not model_files.is_booster(self.model)
        ):
            raise InputError(
                f"the model ({self.meta.get('class')}) has no predict_proba; use --method predict"
            )
        self.method = method

    # -- inputs ----------------------------------------------------------------

    def rows_from_json(self, data: Any) -> Any:
        """A frame or array from the JSON shapes clients send.

        ``{"instances": [...]}`` (Vertex, TF Serving), ``{"inputs": [...]}``,
        ``{"dataframe_split": {"columns": [...], "data": [...]}}``,
        ``{"dataframe_records": [...]}`` (MLflow), or a bare list of rows or records.
        """
        if isinstance(data, dict):
            if "dataframe_split" in data:
                split = data["dataframe_split"]
                if not isinstance(split, dict) or "data" not in split:
                    raise InputError('"dataframe_split" needs "columns" and "data"')
                return self.frame(split["data"], split.get("columns"))
            for key in ("instances", "inputs", "dataframe_records", "data"):
                if key in data:
                    return self.frame(data[key])
            raise InputError(
                'a JSON object must hold "instances" (a list of rows or records), "inputs", '
                '"dataframe_split" or "dataframe_records"'
            )
        return self.frame(data)

    def rows_from_jsonlines(self, payload: bytes) -> Any:
        """A frame from JSON Lines: one row (a list) or record (an object) per line."""
        rows = [loads(line) for line in payload.splitlines() if line.strip()]
        if len(rows) == 1 and isinstance(rows[0], dict) and "instances" in rows[0]:
            return self.rows_from_json(rows[0])
        return self.frame(rows)

    def rows_from_array(self, values: Any) -> Any:
        """The model's input from a decoded numpy array (``application/x-npy``/``x-npz``)."""
        import numpy as np

        if values.dtype.kind not in _NUMERIC_KINDS:
            raise InputError(f"the array holds {values.dtype} values; send numbers")
        if values.ndim == 1:
            values = values.reshape(1, -1) if self.n_features != 1 else values.reshape(-1, 1)
        if values.ndim != 2 or not len(values):
            raise InputError(f"send a 2-D array of rows; got shape {list(values.shape)}")
        if self.n_features is not None and values.shape[1] != self.n_features:
            raise InputError(
                f"each row must have {self.n_features} features; got {values.shape[1]}"
            )
        values = _finite_array(np.asarray(values, dtype=float), values.tolist(), self.columns)
        if self.columns:
            import pandas as pd

            return self._typed(pd.DataFrame(values, columns=self.columns))
        return values

    def probe_rows(self) -> Any:
        """One or a few rows to prove the model predicts: the signature's example, else a
        row of zeros as wide as the model's input; None when its width is unknown."""
        example = (self.meta.get("signature") or {}).get("example")
        if example:
            return self.frame(list(example))
        if self.n_features:
            return self.frame([[0.0] * int(self.n_features)])
        return None

    def rows_from_csv(self, text: str) -> Any:
        """A frame from CSV text (no header, as SageMaker sends; a header row naming the
        model's features is accepted too)."""
        if text.startswith(_BOM):
            text = text[1:]
        try:
            rows = [r for r in csv.reader(io.StringIO(text)) if r]
        except csv.Error as exc:
            raise InputError(f"the CSV body cannot be read: {exc}") from None
        if rows and self.columns and [c.strip() for c in rows[0]] == self.columns:
            rows = rows[1:]
        return self.frame(rows)

    def frame(self, rows: Any, columns: list[str] | None = None) -> Any:
        """Validate rows against the signature and build the model's input.

        Anything about the rows that stops the conversion is an :class:`InputError`
        (a 400 for the caller), as is a value that is NaN or infinite (null is missing).
        """
        try:
            return self._frame(rows, columns)
        except InputError:
            raise
        except Exception as exc:  # odd shapes make numpy and pandas raise anything
            raise InputError(
                f"the rows cannot be turned into the model's input: {type(exc).__name__}: "
                f"{str(exc)[:300]}"
            ) from None

    def _frame(self, rows: Any, columns: list[str] | None) -> Any:
        import numpy as np
        import pandas as pd

        if not isinstance(rows, list):
            raise InputError(f"expected a list of rows, got {type(rows).__name__}")
        if not rows:
            raise InputError("no rows to predict")
        if isinstance(rows[0], dict):
            frame = pd.DataFrame.from_records(rows)
            if self.columns:
                missing = [c for c in self.columns if c not in frame.columns]
                if missing:
                    raise InputError(
                        f"records lack feature(s) {', '.join(map(repr, missing[:5]))}"
                        f"{' ...' if len(missing) > 5 else ''}; the model expects "
                        f"{len(self.columns)} features"
                    )
                frame = frame[self.columns]
            return _finite_frame(self._typed(frame), lambda i, c: rows[i].get(c))
        if not all(isinstance(r, (list, tuple)) for r in rows):
            rows = [rows] if all(not isinstance(v, (list, dict)) for v in rows) else rows
            if not all(isinstance(r, (list, tuple)) for r in rows):
                raise InputError("each row must be a list of values or an object of features")
        widths = {len(r) for r in rows}
        expected = len(columns) if columns else self.n_features
        if len(widths) > 1:
            raise InputError(f"rows have different lengths ({sorted(widths)})")
        width = widths.pop()
        if expected is not None and width != expected:
            names = ", ".join((columns or self.columns or [])[:4])
            raise InputError(
                f"each row must have {expected} features"
                + (f" ({names}, ...)" if names else "")
                + f"; got {width}"
            )
        if columns or self.columns:
            given = list(columns or self.columns or [])
            try:  # all numbers: one float block, no per-column conversion
                values: Any = np.asarray(rows, dtype=float)
            except (TypeError, ValueError, OverflowError):
                values = rows
            else:
                values = _finite_array(values, rows, given)
                if self.matrix and not columns:
                    return values
            frame = pd.DataFrame(values, columns=given)
            if columns and self.columns:
                if set(columns) != set(self.columns):
                    raise InputError(
                        f"columns {columns[:4]}... do not match the model's features "
                        f"{self.columns[:4]}..."
                    )
                frame = frame[self.columns]
            return _finite_frame(self._typed(frame), lambda i, c: rows[i][given.index(c)])
        try:
            values = np.asarray(rows, dtype=float)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InputError(f"values must be numbers: {exc}") from None
        return _finite_array(values, rows)

    def _typed(self, frame: Any) -> Any:
        import pandas as pd

        kinds = [dtype.kind for dtype in frame.dtypes]
        if all(kind in _NUMERIC_KINDS for kind in kinds):
            return frame
        for column, kind in zip(frame.columns, kinds, strict=True):
            if kind in _NUMERIC_KINDS:
                continue
            wanted = self.dtypes.get(str(column), "float64")
            if not any(wanted.startswith(k) for k in ("int", "float", "uint", "bool")):
                continue
            converted = pd.to_numeric(frame[column], errors="coerce")
            bad = converted.isna() & frame[column].notna()
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise InputError(
                    f"feature {column!r} must be a number ({wanted}); row {row + 1} has "
                    f"{frame[column].iloc[row]!r}",
                    row,
                )
            frame[column] = converted
        return frame

    # -- prediction ------------------------------------------------------------

    def predict(self, inputs: Any) -> Any:
        """Predictions for the inputs (an array: one entry, or row of probabilities, per row)."""
        return model_files.predict(self.model, inputs, self.method)

    @staticmethod
    def to_list(predictions: Any) -> list[Any]:
        """JSON-ready predictions (NaN becomes null)."""
        values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
        return [_clean(v) for v in values]


def _finite_array(values: Any, rows: Any, names: list[str] | None = None) -> Any:
    """``values`` (a float array built from ``rows``) when every entry is finite or came
    from a null; otherwise an InputError naming the row."""
    import numpy as np

    if np.isfinite(values).all():
        return values
    for index in np.argwhere(~np.isfinite(values)):
        original = rows
        for i in index:
            original = original[int(i)]
        if original is not None:
            row = int(index[0])
            where = f"row {row + 1}"
            if names and len(index) > 1:
                where = f"feature {names[int(index[1])]!r} in {where}"
            raise InputError(_finite_error(original, where), row)
    return values


def _finite_frame(frame: Any, original: Callable[[int, Any], Any]) -> Any:
    """``frame`` when its float columns hold only finite values or nulls (see above)."""
    import numpy as np

    dtypes = list(frame.dtypes)  # pandas builds a Series on every .dtypes
    kinds = [dtype.kind for dtype in dtypes]
    if "f" not in kinds:
        return frame
    if all(kind == "f" for kind in kinds) and np.isfinite(frame.to_numpy()).all():
        return frame  # one float block: one check, not one per column (the request path)
    for column, dtype in zip(frame.columns, dtypes, strict=True):
        if dtype.kind != "f":
            continue
        values = frame[column].to_numpy()
        if np.isfinite(values).all():
            continue
        for row in np.flatnonzero(~np.isfinite(values)):
            value = original(int(row), column)
            if value is not None:
                raise InputError(
                    _finite_error(value, f"feature {column!r} in row {int(row) + 1}"), int(row)
                )
    return frame


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def to_csv(predictions: list[Any]) -> str:
    """One line per prediction (a row of probabilities becomes comma-separated values)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for value in predictions:
        writer.writerow(value if isinstance(value, list) else [value])
    return out.getvalue()


def dumps(data: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(data, separators=(",", ":")).encode()
