"""Drift inside the daemon: baselines of trained models, checks on demand and on a schedule.

- Baselines: a model version a job trained gets the profile of its tabular
  training channel (``train`` if there is one, else the first that reads as a
  table; every other tabular channel's profile, without samples, under ``channels``), computed by the host
  from the files the user passed, shortly after the job completes. A profile
  notes when its file changed after the job started. ``set_baseline`` replaces it.
- Prediction baseline: the first check of a model version sends its baseline's
  sample rows to the endpoint once (marked so capture skips them) and profiles
  the answers: the model's outputs on its training data.
- Schedule: every endpoint whose capture directory has new requests is checked
  once per ``interval`` (its rules, else ``$JSML_DRIFT_INTERVAL``, default 3600 s)
  over the last ``window`` seconds (default: the interval). Statistics run in a
  worker thread; the store is used from the event loop only. Decoded capture is
  kept by file offset (:class:`.capture_reader.CaptureCache`), so each check
  decodes only the requests captured since the one before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import NotFound, UsageError
from ...runtime import frames
from . import alerts, checks, profiles
from .capture_reader import BASELINE_MARK, CaptureCache, newest_capture, outputs_of
from .rules import merge_rules

if TYPE_CHECKING:
    from ..server import Platform

log = logging.getLogger("jsml.platform")
TICK_SECONDS = 0.5
_SERVICES: weakref.WeakKeyDictionary[Any, DriftService] = weakref.WeakKeyDictionary()


def default_interval() -> float:
    """The daemon-wide check interval: ``$JSML_DRIFT_INTERVAL`` seconds, default hourly."""
    try:
        return max(0.1, float(os.environ.get("JSML_DRIFT_INTERVAL") or 3600))
    except ValueError:
        return 3600.0


def service_for(platform_: Platform) -> DriftService:
    """The one drift service of a daemon."""
    if platform_ not in _SERVICES:
        _SERVICES[platform_] = DriftService(platform_)
    return _SERVICES[platform_]


def start(platform_: Platform) -> asyncio.Task[None]:
    """Start the scheduled checks (a task of the running loop; cancel it to stop)."""
    return asyncio.get_running_loop().create_task(service_for(platform_).run_forever())


class DriftService:
    """Drift checks of one daemon's endpoints."""

    def __init__(self, platform_: Platform) -> None:
        self.store = platform_.manager.store
        self.home = platform_.manager.home
        self.endpoints = platform_.endpoints
        self.last_run: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.failed_baselines: set[tuple[str, int]] = set()
        #: decoded capture by file offset: a check decodes only what came since the last
        self.capture = CaptureCache()

    # -- rules ------------------------------------------------------------------

    def rules(self, endpoint: str) -> dict[str, Any]:
        """The endpoint's rules over the defaults (interval and window from the daemon)."""
        stored = self.store.drift_rules(endpoint)
        interval = float(stored.get("interval") or default_interval())
        merged = {**checks.DEFAULT_RULES, "interval": interval, "window": interval, **stored}
        return merged

    def set_rules(self, endpoint: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate ``changes`` and merge them into the endpoint's stored rules."""
        rules = merge_rules(self.store.drift_rules(endpoint), changes)
        self.endpoints.get(endpoint)
        self.store.set_drift_rules(endpoint, rules)
        return self.rules(endpoint)

    # -- baselines --------------------------------------------------------------

    def set_baseline(self, model: str, path: str, version: int | None = None) -> dict[str, Any]:
        """Profile the table at ``path`` as the baseline of ``model`` (latest version by default)."""
        row = self.store.model(model, version)
        if row is None:
            what = f"{model}:{version}" if version else model
            raise NotFound(f"no model {what}; train or register it first")
        source = Path(path).expanduser()
        home = self.home.resolve()
        if source.resolve() == home or home in source.resolve().parents:
            raise UsageError(f"{path} is inside the platform's home; pass your own data file")
        try:
            profile = profiles.profile_path(source)
        except profiles.NotTabular as exc:
            raise UsageError(f"{exc}; pass a CSV, Parquet or JSON Lines file") from None
        profile["set_by"] = "user"
        self.store.set_baseline(model, int(row["version"]), profile)
        return summary(model, int(row["version"]), profile)

    def baseline(self, model: str, version: int | None = None) -> dict[str, Any]:
        """The baseline of a model version (latest by default), summarised."""
        row = self.store.model(model, version)
        if row is None:
            raise NotFound(f"no model {model}{':' + str(version) if version else ''}")
        profile = self.store.baseline(model, int(row["version"]))
        if profile is None:
            raise NotFound(
                f"model {model}:{row['version']} has no baseline; train it with a tabular data "
                f"channel, or set one: %drift baseline {model} data.csv"
            )
        return summary(model, int(row["version"]), profile)

    def baseline_jobs(self) -> list[tuple[str, int, dict[str, Any]]]:
        """Trained model versions still lacking a baseline, with their job spec."""
        return [
            (m["name"], int(m["version"]), m)
            for m in self.store.models_without_baseline()
            if (m["name"], int(m["version"])) not in self.failed_baselines
        ]

    def save_training_baseline(
        self, name: str, version: int, profile: dict[str, Any] | None
    ) -> None:
        """Store a training baseline (None: no tabular channel; not tried again)."""
        if profile is None:
            self.failed_baselines.add((name, version))
            return
        self.store.set_baseline(name, version, profile)

    # -- checks -----------------------------------------------------------------

    def target(self, endpoint: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The endpoint's summary and its primary variant (most traffic)."""
        summary_ = self.endpoints.summary(self.endpoints.get(endpoint))
        variants = summary_["variants"]
        if not variants:
            raise UsageError(f"endpoint {endpoint} serves no model")
        return summary_, max(variants, key=lambda v: v["traffic"])

    async def learn_outputs(
        self, endpoint: str, variant: dict[str, Any], baseline: dict[str, Any], features: list[str]
    ) -> None:
        """Profile the model's outputs on its baseline sample (once per model version)."""
        rows = profiles.sample_rows(baseline, features) if features else []
        if not rows:
            return
        body = json.dumps({"instances": rows}).encode()
        content_type = f"application/json; {BASELINE_MARK}=1".encode()
        result = await self.endpoints.invoke(
            endpoint, frames.ROUTE_NATIVE, content_type, b"application/json", body, variant["name"]
        )
        if result.status != 200:
            baseline["outputs_error"] = f"status {result.status}"
        else:
            import pandas as pd

            values = pd.Series(outputs_of(result.body.decode(errors="replace")))
            numeric = pd.to_numeric(values, errors="coerce")
            series = numeric if numeric.notna().all() else values.astype(str)
            import numpy as np

            baseline["outputs"] = profiles.column_profile(series, np.arange(len(series)))
        self.store.set_baseline(variant["model_name"], int(variant["model_version"]), baseline)

    async def check(self, endpoint: str, window: float | None = None) -> dict[str, Any]:
        """Check an endpoint now; fold the result into its alerts; returns the report."""
        _, variant = self.target(endpoint)
        rules = self.rules(endpoint)
        span = float(window or rules["window"])
        name, version = variant["model_name"], int(variant["model_version"])
        model = self.store.model(name, version) or {}
        inputs = ((model.get("metadata") or {}).get("signature") or {}).get("inputs") or []
        features = [str(i["name"]) for i in inputs if i.get("name")]
        baseline = self.store.baseline(name, version)
        if baseline is not None and "outputs" not in baseline and "outputs_error" not in baseline:
            try:
                await self.learn_outputs(
                    endpoint, variant, baseline, features or list(baseline["columns"])
                )
            except Exception as exc:  # prediction drift is skipped, the rest is checked
                log.warning("learning %s:%s outputs failed: %s", name, version, exc)
                baseline["outputs_error"] = str(exc)
        label = f"{name}:{version}"
        cold = [
            float(e["value"]) * 1000
            for e in self.store.endpoint_events(endpoint, ["cold_start"], 50)
            if e["ts"] >= time.time() - span and e["value"] is not None
        ]
        directory = self.endpoints.capture_root / endpoint

        def work() -> dict[str, Any]:
            now = time.time()
            captured = self.capture.read(directory, now - span, now, model=label)
            return checks.check(baseline, captured, features or None, rules, cold)

        report = await asyncio.to_thread(work)
        report.update(endpoint=endpoint, model=label, variant=variant["name"])
        if baseline is not None:
            report["baseline_source"] = baseline.get("source", "")
            report["baseline_note"] = baseline.get("note", "")
        for condition in report["conditions"]:
            condition["message"] = alerts.message(condition)
        changed = self.store.apply_conditions(endpoint, label, span, report["conditions"])
        self.store.save_drift_report(endpoint, report)
        if changed and rules.get("webhook"):
            url = str(rules["webhook"])
            for alert in changed:
                await asyncio.to_thread(alerts.post, url, alerts.payload(alert))
        report["changed"] = [a["id"] for a in changed]
        return report

    # -- schedule ---------------------------------------------------------------

    def due(self, now: float) -> list[str]:
        """Endpoints whose interval has passed and whose capture has new requests."""
        out = []
        summaries = self.endpoints.summaries()
        self.capture.keep_only([self.endpoints.capture_root / s["name"] for s in summaries])
        for summary_ in summaries:
            name = summary_["name"]
            rules = self.rules(name)
            if now - self.last_run.get(name, 0.0) < float(rules["interval"]):
                continue
            newest = newest_capture(self.endpoints.capture_root / name)
            if newest and newest > self.seen.get(name, 0.0):
                out.append(name)
                self.seen[name] = newest
        return out

    async def tick(self) -> None:
        """One round: new baselines, then every due endpoint's check."""
        for name, version, job in self.baseline_jobs():
            profile = await asyncio.to_thread(training_profile, job)
            self.save_training_baseline(name, version, profile)
        now = time.time()
        for endpoint in self.due(now):
            self.last_run[endpoint] = now
            try:
                await self.check(endpoint)
            except Exception:
                log.exception("drift check of %s failed", endpoint)

    async def run_forever(self) -> None:
        """Run :meth:`tick` until cancelled."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("drift round failed")
            await asyncio.sleep(TICK_SECONDS)


def training_profile(job: dict[str, Any]) -> dict[str, Any] | None:
    """The baseline of a trained model version from its job's channels (None: none tabular)."""
    channels: dict[str, str] = dict(job["spec"].get("channels") or {})
    order = sorted(channels, key=lambda c: (c != "train", c))
    found: dict[str, dict[str, Any]] = {}
    for channel in order:
        try:
            profile = profiles.profile_path(Path(channels[channel]))
        except (profiles.NotTabular, OSError, ValueError):
            continue
        if profile["rows"]:  # a text file reads as an empty table: not a data channel
            found[channel] = profile
    if not found:
        return None
    main = next(iter(found))
    profile = found.pop(main)
    profile["channel"] = main
    profile["channels"] = {c: without_samples(p) for c, p in found.items()}
    started = job.get("started_at")
    if started and profile.get("source_mtime", 0) > float(started):
        profile["note"] = f"{profile['source']} changed after the job started"
    return profile


def without_samples(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile with its columns' samples left out (what is kept of the other channels)."""
    out = {k: v for k, v in profile.items() if k != "columns"}
    out["columns"] = {
        name: {k: v for k, v in column.items() if k != "sample"}
        for name, column in profile.get("columns", {}).items()
    }
    return out


def summary(model: str, version: int, profile: dict[str, Any]) -> dict[str, Any]:
    """A baseline without its samples: what the API shows."""
    columns = {
        name: {k: v for k, v in column.items() if k != "sample"}
        for name, column in profile.get("columns", {}).items()
    }
    out = {k: v for k, v in profile.items() if k not in ("columns", "outputs")}
    out.update(model=model, version=version, columns=columns)
    if profile.get("outputs"):
        out["outputs"] = {k: v for k, v in profile["outputs"].items() if k != "sample"}
    return out


__all__ = [
    "DriftService",
    "default_interval",
    "service_for",
    "start",
    "summary",
    "training_profile",
    "without_samples",
]
