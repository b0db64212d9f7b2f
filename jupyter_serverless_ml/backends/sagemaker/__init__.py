"""The SageMaker backend (``--backend sagemaker``); boto3 is imported on first use."""

from __future__ import annotations

from . import images
from .backend import SageMakerBackend

__all__ = ["SageMakerBackend", "images"]
