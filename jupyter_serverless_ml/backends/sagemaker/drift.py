"""The SageMaker backend's drift checks: the endpoint's data capture in S3 against the model
version's baseline, with the same statistics, rules and alerts as the local platform.

- Capture: an endpoint deployed with ``--capture PERCENT`` has SageMaker write its
  requests and responses under ``DestinationS3Uri/ENDPOINT/VARIANT/yyyy/mm/dd/hh/*.jsonl``,
  one JSON record a line (``captureData.endpointInput``/``endpointOutput`` with
  ``observedContentType``, ``encoding`` JSON, CSV or BASE64 and ``data``;
  ``eventMetadata.inferenceTime``). A check lists the primary variant's objects of
  the hours in its window, reads each at most once (they are never rewritten; what
  was decoded is kept by key) and decodes them with :mod:`...platform.drift.capture_decode`.
- Baseline: ``set_baseline`` profiles a local table; without one, the first check
  profiles the model's training channel (``train``, else the first tabular one) from
  S3. Input names come from the model archive's ``jsml_model.json`` signature.
- State: baselines, rules, reports and alerts (InAlert/Ok with their events) live in a
  SQLite file under the home, ``sagemaker-monitoring.db`` (SageMaker keeps no alerts
  of this tool); a rule's webhook is posted when an alert changes status.
- Not on SageMaker: prediction drift (learning the outputs on the baseline would send
  the baseline through the paid endpoint, into its capture) and the scheduled check
  (a cloud endpoint has no daemon of ours beside it: check with ``%drift``).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import tarfile
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import NotFound, UsageError
from ...platform.drift import alerts as drift_alerts
from ...platform.drift import checks, profiles
from ...platform.drift.capture_decode import Segment, decode_records
from ...platform.drift.capture_reader import Window
from ...platform.drift.rules import merge_rules
from ...platform.drift.service import summary
from ...records import AlertRecord

if TYPE_CHECKING:
    from ...platform.store import Store
    from ...records import EndpointRecord, JobRecord, ModelRecord

MAX_CAPTURE_BYTES = 256 << 20
MAX_META_BYTES = 1 << 20
_STORES: dict[str, Store] = {}
_LOCK = threading.Lock()


def _store() -> Store:
    from ... import config
    from ...platform.store import Store

    path = config.home() / "sagemaker-monitoring.db"
    with _LOCK:
        if str(path) not in _STORES:
            path.parent.mkdir(parents=True, exist_ok=True)
            _STORES[str(path)] = Store(path)
        return _STORES[str(path)]


def _payload(part: Any) -> str:
    if not isinstance(part, dict):
        return ""
    data = str(part.get("data") or "")
    if str(part.get("encoding") or "").upper() == "BASE64":
        return base64.b64decode(data, validate=False).decode(errors="replace")
    return data


def capture_record(line: bytes, label: str) -> dict[str, Any] | None:
    """One SageMaker data-capture line as the platform's capture record (None: not one)."""
    try:
        record = json.loads(line)
        data = record["captureData"]
        ts = dt.datetime.fromisoformat(str(record["eventMetadata"]["inferenceTime"]))
        source = data["endpointInput"]
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.timezone.utc)
        return {
            "ts": ts.timestamp(),
            "model": label,
            "content_type": str(source.get("observedContentType") or "application/json"),
            "status": 200,  # SageMaker captures the requests its model answered
            "input": _payload(source),
            "output": _payload(data.get("endpointOutput")),
        }
    except (ValueError, KeyError, TypeError, RecursionError, AttributeError):
        return None


def _hour_of(key: str) -> float | None:
    """The start of the hour a capture key is filed under (``.../yyyy/mm/dd/hh/name``)."""
    parts = key.split("/")
    try:
        y, m, d, h = (int(p) for p in parts[-5:-1])
        return dt.datetime(y, m, d, h, tzinfo=dt.timezone.utc).timestamp()
    except (ValueError, TypeError):
        return None


class SageMakerDrift:
    """Mixed into :class:`~.backend.SageMakerBackend` ahead of its costs part: the
    Monitoring part's drift checks, baselines, rules and alerts."""

    region: str
    aws: Any
    storage: Any

    if TYPE_CHECKING:  # the backend's own parts

        def endpoint(self, name: str) -> EndpointRecord: ...
        def model(self, name: str, version: int | None = None) -> ModelRecord: ...
        def job(self, ref: str) -> JobRecord: ...

    @property
    def _decoded(self) -> dict[str, Segment]:
        return self.__dict__.setdefault("_drift_decoded", {})

    # -- alerts ---------------------------------------------------------------------

    def alerts(self) -> list[AlertRecord]:
        """Drift alerts of this backend's endpoints, newest change first."""
        return [AlertRecord.from_wire(a) for a in _store().alerts()]

    def acknowledge_alert(self, alert_id: int) -> AlertRecord:
        """Acknowledge an alert; returns it with its status changes (``events``)."""
        store = _store()
        if store.acknowledge_alert(int(alert_id)) is None:
            raise NotFound(f"no alert {alert_id}; list them with %drift alerts")
        return AlertRecord.from_wire(store.alert(int(alert_id)) or {"id": alert_id})

    # -- baselines and rules ------------------------------------------------------------

    def set_baseline(self, model: str, path: str, version: int | None = None) -> dict[str, Any]:
        """Profile the table at ``path`` as the baseline of ``model`` (latest version)."""
        record = self.model(model, version)
        try:
            profile = profiles.profile_path(Path(path).expanduser())
        except profiles.NotTabular as exc:
            raise UsageError(f"{exc}; pass a CSV, Parquet or JSON Lines file") from None
        profile["set_by"] = "user"
        profile["inputs"] = self._inputs(record)
        _store().set_baseline(record.name, record.version, profile)
        return summary(record.name, record.version, profile)

    def baseline(self, model: str, version: int | None = None) -> dict[str, Any]:
        """A model version's baseline (profiled from its training channel on first use)."""
        record = self.model(model, version)
        return summary(record.name, record.version, self._baseline(record))

    def drift_rules(
        self, endpoint: str, changes: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Merge ``changes`` into the endpoint's drift rules (none: read them)."""
        store = _store()
        if changes:
            self.endpoint(endpoint)
            store.set_drift_rules(endpoint, merge_rules(store.drift_rules(endpoint), changes))
        return {**checks.DEFAULT_RULES, **store.drift_rules(endpoint)}

    def _baseline(self, record: ModelRecord) -> dict[str, Any]:
        store = _store()
        profile = store.baseline(record.name, record.version)
        if profile is None:
            profile = self._training_profile(record)
            store.set_baseline(record.name, record.version, profile)
        return profile

    def _training_profile(self, record: ModelRecord) -> dict[str, Any]:
        missing = NotFound(
            f"model {record.ref} has no baseline and no tabular training channel to profile; "
            f"set one: %drift baseline {record.name} data.csv"
        )
        if not record.job_id:
            raise missing
        desc = self.aws.call(
            "sagemaker",
            "describe_training_job",
            f"reading training job {record.job_id}",
            TrainingJobName=record.job_id,
        )
        channels = sorted(
            desc.get("InputDataConfig") or [], key=lambda c: (c.get("ChannelName") != "train",)
        )
        for channel in channels:
            uri = str(((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri"))
            keys = [k for k in self.storage.keys(uri) if k.endswith(profiles.TABULAR_SUFFIXES)]
            if not keys:
                continue
            bucket = uri[len("s3://") :].split("/", 1)[0]
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / Path(keys[0]).name
                local.write_bytes(self.storage.get_bytes(f"s3://{bucket}/{keys[0]}"))
                try:
                    profile = profiles.profile_path(local)
                except (profiles.NotTabular, ValueError):
                    continue
            profile.update(
                source=f"s3://{bucket}/{keys[0]}",
                channel=channel.get("ChannelName"),
                inputs=self._inputs(record),
            )
            return profile
        raise missing

    def _inputs(self, record: ModelRecord) -> list[str]:
        """The model's input names from its archive's ``jsml_model.json`` (none: unknown).
        The archive was written by the job: only that one regular member is read, capped."""
        if not record.uri.startswith("s3://"):
            return []
        try:
            data = self.storage.get_bytes(record.uri)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                for member in archive:
                    name = member.name.removeprefix("./")
                    if name != "jsml_model.json" or not member.isreg():
                        continue
                    if member.size > MAX_META_BYTES:
                        return []
                    handle = archive.extractfile(member)
                    meta = json.loads(handle.read(MAX_META_BYTES)) if handle else {}
                    inputs = ((meta or {}).get("signature") or {}).get("inputs") or []
                    return [str(i["name"]) for i in inputs if isinstance(i, dict) and i.get("name")]
        except (tarfile.TarError, ValueError, OSError, NotFound, AttributeError, TypeError):
            return []
        return []

    # -- the check ------------------------------------------------------------------------

    def drift(self, endpoint: str, window: float | None = None) -> dict[str, Any]:
        """Check ``endpoint``'s captured requests of the last ``window`` seconds now:
        ``{"report", "alerts"}``; alerts change status as on the local platform."""
        record = self.endpoint(endpoint)
        capture = dict(record.details.get("data_capture") or {})
        destination = str(capture.get("DestinationS3Uri") or "").rstrip("/")
        if not capture.get("EnableCapture") or not destination:
            raise UsageError(
                f"endpoint {endpoint} captures no requests: deploy it with --capture 100 "
                "(the share of requests SageMaker writes to S3), then send traffic"
            )
        if not record.variants:
            raise UsageError(f"endpoint {endpoint} serves no model")
        variant = max(record.variants, key=lambda v: v.traffic)
        model = self.model(variant.model_name, variant.model_version)
        store = _store()
        rules = {**checks.DEFAULT_RULES, **store.drift_rules(endpoint)}
        span = float(window or rules["window"])
        baseline = self._baseline(model)
        label = f"{model.name}:{model.version}"
        now = time.time()
        captured = self._window(f"{destination}/{endpoint}/{variant.name}/", label, now - span, now)
        features = list(baseline.get("inputs") or []) or None
        report = checks.check(baseline, captured, features, rules)
        report.update(endpoint=endpoint, model=label, variant=variant.name, backend="sagemaker")
        report["baseline_source"] = baseline.get("source", "")
        report["capture_uri"] = f"{destination}/{endpoint}/{variant.name}/"
        for condition in report["conditions"]:
            condition["message"] = drift_alerts.message(condition)
        changed = store.apply_conditions(endpoint, label, span, report["conditions"])
        store.save_drift_report(endpoint, report)
        if changed and rules.get("webhook"):
            for alert in changed:
                drift_alerts.post(str(rules["webhook"]), drift_alerts.payload(alert))
        report["changed"] = [a["id"] for a in changed]
        return {"report": report, "alerts": store.alerts(endpoint=endpoint)}

    def drift_report(self, endpoint: str) -> dict[str, Any]:
        """The latest report of ``endpoint`` with its alerts."""
        store = _store()
        report = store.drift_report(endpoint)
        if report is None:
            raise NotFound(f"endpoint {endpoint} was never checked; run %drift {endpoint}")
        return {"report": report, "alerts": store.alerts(endpoint=endpoint)}

    def _window(self, prefix: str, label: str, since: float, until: float) -> Window:
        window = Window(since, until, label)
        bucket = prefix[len("s3://") :].split("/", 1)[0]
        left = MAX_CAPTURE_BYTES
        for key in sorted(self.storage.keys(prefix)):
            hour = _hour_of(key)
            if not key.endswith(".jsonl") or (hour is not None and hour + 3600 < since):
                continue
            uri = f"s3://{bucket}/{key}"
            segment = self._decoded.get(uri)
            if segment is None:
                data = self.storage.get_bytes(uri)[: max(left, 0)]
                left -= len(data)
                found = [capture_record(line, label) for line in data.splitlines() if line.strip()]
                segment = decode_records([r for r in found if r is not None])
                segment.undecodable_lines += sum(r is None for r in found)
                self._decoded[uri] = segment
            window.undecodable += segment.undecodable_lines
            window.add(segment)
            if left <= 0:
                break
        return window


__all__ = ["SageMakerDrift", "capture_record"]
