"""The model registry: every completed job registers the next version of its model; versions
move through stages (none, staging, production, archived) behind a promotion gate."""

from .api import (
    load_model,
    looks_like_model,
    model,
    model_ref,
    models,
    parse_model_ref,
    resolve_ref,
)
from .gates import PromotionRefused, Requirement, parse_requirement
from .handles import ModelList, ModelVersion
from .promotion import (
    approve,
    previous_production,
    promote,
    promote_on,
    reject,
    rollback_endpoint,
    set_approval,
    set_approval_on,
    version_metrics,
)

__all__ = [
    "ModelList",
    "ModelVersion",
    "PromotionRefused",
    "Requirement",
    "approve",
    "load_model",
    "looks_like_model",
    "model",
    "model_ref",
    "models",
    "parse_model_ref",
    "parse_requirement",
    "previous_production",
    "promote",
    "promote_on",
    "reject",
    "resolve_ref",
    "rollback_endpoint",
    "set_approval",
    "set_approval_on",
    "version_metrics",
]
