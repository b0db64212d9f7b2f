"""Stages, approval and promotion (the Python API).

>>> promote("cancer:4", "production", require="accuracy>=0.9", compare="production")
>>> reject("cancer:3", reason="leaks the label"); approve("cancer:3")
>>> rollback_endpoint("cancer-prod")    # serve the previous production version again

The gate runs here, the same for every backend (:mod:`.gates`); the backend keeps the
stage and approval (the local platform's store; SageMaker model packages; Vertex
version aliases).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..backends import Backend, Registry, Serving, get_backend
from ..backends import require as require_part
from ..errors import JsmlError, NotFound, UsageError
from ..records import DeployRequest, EndpointRecord, ModelRecord
from ..statuses import ModelApproval, ModelStage
from .api import parse_model_ref, stage_version
from .gates import PromotionRefused, parse_requirement, refusals
from .handles import ModelVersion


def version_metrics(backend: Backend, record: ModelRecord) -> dict[str, float]:
    """The final value of each metric the version's training job logged."""
    if record.metrics:
        return dict(record.metrics)
    if record.job_id:
        try:
            return dict(backend.job(record.job_id).metrics)
        except NotFound:
            return {}
    return {}


def _record(registry: Registry, ref: str) -> ModelRecord:
    if "@" in ref:
        name, _, stage = ref.partition("@")
        return stage_version(registry, name, stage)
    name, version = parse_model_ref(ref)
    return registry.model(name, version)


def _stage(stage: str) -> ModelStage:
    try:
        return ModelStage(stage.lower())
    except ValueError:
        known = ", ".join(s.value for s in ModelStage)
        raise UsageError(f"stage {stage!r} is not one of {known}") from None


def promote(
    ref: str,
    stage: str = "production",
    *,
    require: str | Iterable[str] | None = None,
    compare: str | None = None,
    reason: str = "",
    backend: str | None = None,
) -> ModelVersion:
    """Move ``ref`` (``cancer:4``) to ``stage`` if it passes the gate, else raise
    :class:`PromotionRefused` with every reason.

    ``require`` (``"accuracy>=0.9"``, or several) must hold for the version's metrics;
    ``compare`` (``"production"`` or ``"staging"``) refuses a version worse, on a
    required metric, than the one now in that stage. A Rejected version is refused.
    The version that held ``stage`` is archived; entering production approves it.
    """
    return promote_on(
        get_backend(backend), ref, stage, require=require, compare=compare, reason=reason
    )


def promote_on(
    chosen: Backend,
    ref: str,
    stage: str = "production",
    *,
    require: str | Iterable[str] | None = None,
    compare: str | None = None,
    reason: str = "",
) -> ModelVersion:
    """:func:`promote` on a backend object (the server extension's own backends)."""
    registry = require_part(chosen, Registry)
    target = _stage(stage)
    texts = [require] if isinstance(require, str) else list(require or [])
    requirements = [parse_requirement(t) for t in texts]
    if compare is not None and compare.lower() not in (ModelStage.STAGING, ModelStage.PRODUCTION):
        raise UsageError(
            f"--compare {compare!r} is not a stage to compare with; use --compare production "
            "or --compare staging"
        )
    if compare is not None and not requirements:
        raise UsageError(
            f"--compare {compare} compares on the gate's metrics: add one, "
            'e.g. --require "accuracy>=0" (higher is better) or --require "loss<=1e9"'
        )
    record = _record(registry, ref)
    if record.approval == ModelApproval.REJECTED and target != ModelStage.ARCHIVED:
        raise PromotionRefused(
            f"{record.ref} was Rejected; approve it first (%approve {record.ref}) if it "
            "should be promoted"
        )
    metrics = version_metrics(chosen, record)
    compared = None
    if compare is not None:
        try:
            holder = stage_version(registry, record.name, compare)
        except NotFound:
            holder = None  # nothing to be worse than
        if holder is not None and holder.version != record.version:
            compared = (f"{holder.ref} ({compare})", version_metrics(chosen, holder))
    reasons = refusals(record.ref, metrics, requirements, compared)
    if reasons:
        raise PromotionRefused(f"not promoting {record.ref} to {target}: " + "; ".join(reasons))
    gate = f"gate {', '.join(map(str, requirements))}" if requirements else "no gate"
    why = reason or gate + (f", not worse than {compare}" if compared else "")
    return ModelVersion(chosen, registry.set_stage(record.name, record.version, target, why))


def set_approval(
    ref: str, approval: str, reason: str = "", backend: str | None = None
) -> ModelVersion:
    """Set a version's approval: ``Approved``, ``Rejected`` or ``PendingManualApproval``."""
    by_lower = {a.value.lower(): a for a in ModelApproval}
    try:
        chosen_approval = by_lower.get(approval.lower()) or ModelApproval(approval)
    except ValueError:
        known = ", ".join(a.value for a in ModelApproval)
        raise UsageError(f"approval {approval!r} is not one of {known}") from None
    return set_approval_on(get_backend(backend), ref, chosen_approval, reason)


def set_approval_on(chosen: Backend, ref: str, approval: str, reason: str = "") -> ModelVersion:
    """:func:`set_approval` on a backend object."""
    registry = require_part(chosen, Registry)
    record = _record(registry, ref)
    return ModelVersion(
        chosen, registry.set_approval(record.name, record.version, approval, reason)
    )


def approve(ref: str, reason: str = "", backend: str | None = None) -> ModelVersion:
    """Approve a version (SageMaker's ``Approved``)."""
    return set_approval(ref, ModelApproval.APPROVED, reason, backend)


def reject(ref: str, reason: str = "", backend: str | None = None) -> ModelVersion:
    """Reject a version; one in staging or production is archived."""
    return set_approval(ref, ModelApproval.REJECTED, reason, backend)


def previous_production(registry: Registry, name: str) -> ModelRecord:
    """The version that was in production before the current one (not Rejected)."""
    candidates = [
        m
        for m in registry.models(name)
        if m.promoted_at is not None
        and m.stage != ModelStage.PRODUCTION
        and m.approval != ModelApproval.REJECTED
    ]
    if not candidates:
        raise NotFound(f"{name} has no earlier production version to go back to")
    return max(candidates, key=lambda m: m.promoted_at or 0.0)


def rollback_endpoint(endpoint: str, backend: str | None = None) -> EndpointRecord:
    """Serve the previous production version of the model behind ``endpoint`` again: that
    version gets all the traffic (its variant if the endpoint still has one, else a new
    variant with the serving variant's replica bounds), then returns to production (the
    current one is archived). When the traffic cannot move, the stages are left as they were.
    """
    chosen = get_backend(backend)
    registry = require_part(chosen, Registry)
    serving = require_part(chosen, Serving)
    current = serving.endpoint(endpoint)
    if not current.variants:
        raise UsageError(f"endpoint {endpoint} serves no model")
    main = max(current.variants, key=lambda v: v.traffic)
    previous = previous_production(registry, main.model_name)
    existing = [
        v
        for v in current.variants
        if v.model_name == previous.name and v.model_version == previous.version
    ]
    if existing:
        moved = serving.traffic(endpoint, {existing[0].name: 100.0})
    else:
        known = main.max_replicas > 0  # a backend that reports the bounds
        try:
            moved = serving.deploy(
                DeployRequest(
                    model=previous.name,
                    version=previous.version,
                    endpoint=endpoint,
                    traffic=100.0,
                    min_replicas=main.min_replicas if known else None,
                    max_replicas=main.max_replicas if known else None,
                )
            )
        except JsmlError as exc:
            raise type(exc)(
                f"not rolled back: deploying {previous.ref} to {endpoint} failed ({exc}); "
                f"{main.model} still serves and stays in production"
            ) from exc
    registry.set_stage(
        previous.name, previous.version, ModelStage.PRODUCTION, f"rollback of {endpoint}"
    )
    return moved


__all__ = [
    "PromotionRefused",
    "approve",
    "previous_production",
    "promote",
    "promote_on",
    "reject",
    "rollback_endpoint",
    "set_approval",
    "set_approval_on",
    "version_metrics",
]
