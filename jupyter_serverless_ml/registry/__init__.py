"""The model registry: every completed job registers the next version of its model."""

from .api import load_model, looks_like_model, model, model_ref, models, parse_model_ref
from .handles import ModelList, ModelVersion

__all__ = [
    "ModelList",
    "ModelVersion",
    "load_model",
    "looks_like_model",
    "model",
    "model_ref",
    "models",
    "parse_model_ref",
]
