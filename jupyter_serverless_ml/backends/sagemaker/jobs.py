"""Training jobs on SageMaker: names, statuses, records, log cursors and metric lines.

Pure functions over SageMaker's API shapes (no calls), so each is tested alone.

- A job's id is its SageMaker ``TrainingJobName``: the jsml name (``_`` as ``-``),
  a UTC timestamp and four random hex digits, so the name is found again from a
  listing without reading tags.
- Statuses: SageMaker's ``TrainingJobStatus`` with its ``SecondaryStatus``
  mapped onto :class:`JobStatus`; a job stopped by its max runtime is Failed
  (``MaxRuntimeExceeded``), as locally.
- Log cursors are opaque strings: ``sm1:`` and base64 of the CloudWatch Logs
  ``nextForwardToken`` of each of the job's streams.
- Metrics: the entry script prints every metric record as a ``#jsml-metric {json}``
  line; each name the code logs gets a ``MetricDefinition`` matching its lines.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...records import JobEvent, JobRecord, MetricRecord
from ...statuses import JobStatus

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_MARK = "#jsml-metric "
CURSOR_PREFIX = "sm1:"
MAX_DEFINITIONS = 40
_SUFFIX = re.compile(r"^(?P<name>.+)-\d{8}-\d{6}-[0-9a-f]{4}$")
_LOGGED = re.compile(r"""log_metric\(\s*(?:name\s*=\s*)?(['"])([^'"\\]{1,200})\1""")
_PREPARING = {
    "Starting",
    "Pending",
    "LaunchingMLInstances",
    "PreparingTrainingStack",
    "Downloading",
    "DownloadingTrainingImage",
    "Restarting",
}


def resource_name(text: str, limit: int = 63) -> str:
    """``text`` as a SageMaker resource name (letters, digits, ``-``; at most ``limit``)."""
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-") or "jsml"
    return cleaned[:limit].rstrip("-")


def new_job_name(name: str) -> str:
    """A fresh, unique TrainingJobName for jsml name ``name``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{resource_name(name, 42)}-{stamp}-{secrets.token_hex(2)}"


def name_of(job_name: str) -> str:
    """The jsml name of a job (its TrainingJobName without the suffix this tool adds)."""
    match = _SUFFIX.match(job_name)
    return match["name"] if match else job_name


def status_of(status: str, secondary: str = "") -> str:
    """SageMaker's status (and secondary status) as a :class:`JobStatus`."""
    if status == "InProgress":
        if secondary in _PREPARING:
            return JobStatus.PREPARING if secondary != "Starting" else JobStatus.PENDING
        return JobStatus.RUNNING
    if status == "Stopped" and secondary == "MaxRuntimeExceeded":
        return JobStatus.FAILED
    return {
        "Completed": JobStatus.COMPLETED,
        "Failed": JobStatus.FAILED,
        "Stopping": JobStatus.STOPPING,
        "Stopped": JobStatus.STOPPED,
    }.get(status, JobStatus.PENDING)


def timestamp(value: Any) -> float | None:
    """Seconds since the epoch of a datetime from an AWS answer (None when absent)."""
    return float(value.timestamp()) if hasattr(value, "timestamp") else None


_ts = timestamp


def decode_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """The user's hyperparameters back from SageMaker's strings (``sagemaker_*`` dropped)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith("sagemaker_"):
            continue
        try:
            out[key] = json.loads(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def encode_hyperparameters(values: Mapping[str, Any]) -> dict[str, str]:
    """Hyperparameters as SageMaker takes them: every value JSON-encoded (as the SageMaker
    SDK's framework estimators do; the training toolkit decodes them)."""
    return {str(k): json.dumps(v) for k, v in values.items()}


def job_record(
    desc: Mapping[str, Any], region: str, hourly: float | None = None, **extra: Any
) -> JobRecord:
    """A :class:`JobRecord` from ``DescribeTrainingJob``'s answer (``extra``: more fields)."""
    name = str(desc["TrainingJobName"])
    secondary = str(desc.get("SecondaryStatus") or "")
    status = status_of(str(desc.get("TrainingJobStatus")), secondary)
    raw_hp = dict(desc.get("HyperParameters") or {})
    resources = desc.get("ResourceConfig") or {}
    submit = decode_hyperparameters({"d": raw_hp.get("sagemaker_submit_directory", '""')})["d"]
    bundle_hash = Path(str(submit)).parent.name if submit else None
    bundle_uri = str(submit).rsplit("/", 1)[0] + "/bundle.tar.gz" if submit else None
    algorithm = desc.get("AlgorithmSpecification") or {}
    count = int(resources.get("InstanceCount") or 1)
    spec = {
        "hyperparameters": decode_hyperparameters(raw_hp),
        "instance_type": resources.get("InstanceType"),
        "instance_count": count,
        "channels": {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
            for c in desc.get("InputDataConfig") or []
            if "S3DataSource" in (c.get("DataSource") or {})
        },
        "max_runtime": (desc.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds"),
        "image": algorithm.get("TrainingImage"),
        "metric_definitions": list(algorithm.get("MetricDefinitions") or []),
        "spot": bool(desc.get("EnableManagedSpotTraining")),
    }
    metrics = {
        str(m["MetricName"]): float(m["Value"]) for m in desc.get("FinalMetricDataList") or []
    }
    events = tuple(
        JobEvent(
            ts=_ts(t.get("StartTime")) or 0.0,
            status=str(t.get("Status")),
            message=str(t.get("StatusMessage") or ""),
        )
        for t in desc.get("SecondaryStatusTransitions") or []
    )
    failure = desc.get("FailureReason")
    if secondary == "MaxRuntimeExceeded" and status == JobStatus.FAILED:
        failure = failure or "MaxRuntimeExceeded: the job ran longer than --max-runtime"
    details: dict[str, Any] = {
        "arn": desc.get("TrainingJobArn"),
        "secondary_status": secondary,
        "log_group": LOG_GROUP,
        "console_url": f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
        f"#/jobs/{name}",
        "model_artifact": (desc.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
    }
    billed = desc.get("BillableTimeInSeconds")
    if billed is None and status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED):
        billed = desc.get("TrainingTimeInSeconds")
        if billed is None and desc.get("TrainingStartTime") and desc.get("TrainingEndTime"):
            billed = int(_ts(desc["TrainingEndTime"]) - _ts(desc["TrainingStartTime"]))  # type: ignore[operator]
    if billed is not None:
        details["billed_seconds"] = int(billed)
        if hourly is not None:
            details["cost_usd"] = round(int(billed) * count * hourly / 3600, 6)
    return JobRecord(
        id=name,
        name=name_of(name),
        backend="sagemaker",
        status=status,
        created_at=_ts(desc.get("CreationTime")) or 0.0,
        started_at=_ts(desc.get("TrainingStartTime")),
        ended_at=_ts(desc.get("TrainingEndTime"))
        if status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)
        else None,
        failure_reason=str(failure) if failure else None,
        spec=spec,
        metrics=metrics,
        bundle_hash=bundle_hash,
        bundle_uri=bundle_uri,
        events=events,
        details=details,
        **extra,
    )


# -- log cursors ------------------------------------------------------------------------


def encode_cursor(tokens: Mapping[str, str]) -> str:
    """An opaque cursor from each stream's forward token."""
    raw = json.dumps(dict(tokens), sort_keys=True, separators=(",", ":")).encode()
    return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str | None) -> dict[str, str]:
    """Each stream's forward token from a cursor; a UsageError for one this backend did not give."""
    if cursor in (None, ""):
        return {}
    text = str(cursor)
    if not text.startswith(CURSOR_PREFIX):
        raise UsageError(
            f"log cursor {text[:40]!r} did not come from the sagemaker backend; "
            "start again without one"
        )
    try:
        value = json.loads(base64.urlsafe_b64decode(text[len(CURSOR_PREFIX) :].encode()))
    except (ValueError, binascii.Error):
        raise UsageError(f"log cursor {text[:40]!r} is damaged; start again without one") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UsageError(f"log cursor {text[:40]!r} is damaged; start again without one")
    return {str(k): v for k, v in value.items()}


# -- metrics ---------------------------------------------------------------------------


def split_metric_lines(text: str) -> tuple[str, list[MetricRecord]]:
    """The log text without metric lines, and the metric records those lines hold.

    A metric line may land inside another line (the job wrote that line's text and
    its newline in two writes, and the metric line came between): the text before
    the mark stays in the log, joined with the newline that follows it."""
    kept: list[str] = []
    found: list[MetricRecord] = []
    for line in text.splitlines(keepends=True):
        where = line.find(METRIC_MARK)
        if where < 0:
            kept.append(line)
            continue
        try:
            found.append(MetricRecord.from_wire(json.loads(line[where + len(METRIC_MARK) :])))
        except (ValueError, TypeError):
            kept.append(line)
            continue
        kept.append(line[:where])
    return "".join(kept), found


def logged_names(sources: Iterable[str]) -> list[str]:
    """The metric names code logs with a literal name (``log_metric("loss", ...)``)."""
    names: list[str] = []
    for source in sources:
        for match in _LOGGED.finditer(source):
            if match[2] not in names:
                names.append(match[2])
    return names


def metric_definitions(
    names: Iterable[str], given: Iterable[Mapping[str, Any]] = ()
) -> tuple[list[dict[str, str]], list[str]]:
    """SageMaker ``MetricDefinitions`` for the metric lines of ``names`` plus the user's
    ``given`` definitions (``--metric-definition``), and what could not be passed on."""
    out: list[dict[str, str]] = []
    dropped: list[str] = []
    for name in names:
        prefix = re.escape(f'{METRIC_MARK}{{"name": {json.dumps(name)}, "value": ')
        out.append({"Name": name, "Regex": prefix + r"([-+0-9.eE]+|NaN|-?Infinity)[,}]"})
    for item in given:
        if item.get("Regex"):
            out.append({"Name": str(item["Name"]), "Regex": str(item["Regex"])})
        else:
            dropped.append(f"{item.get('Name')} (built-in patterns; the log lines still count)")
    seen: set[str] = set()
    unique = [d for d in out if not (d["Name"] in seen or seen.add(d["Name"]))]  # type: ignore[func-returns-value]
    if len(unique) > MAX_DEFINITIONS:
        dropped += [d["Name"] for d in unique[MAX_DEFINITIONS:]]
    return unique[:MAX_DEFINITIONS], dropped


__all__ = [
    "LOG_GROUP",
    "METRIC_MARK",
    "decode_cursor",
    "decode_hyperparameters",
    "encode_cursor",
    "encode_hyperparameters",
    "job_record",
    "logged_names",
    "metric_definitions",
    "name_of",
    "new_job_name",
    "resource_name",
    "split_metric_lines",
    "status_of",
    "timestamp",
]
