"""Hyperparameter tuning: studies whose trials are training jobs of one cell."""

from .api import resume, stop_study, studies, study, tune
from .handles import Study, StudyList, StudyProgress

__all__ = [
    "Study",
    "StudyList",
    "StudyProgress",
    "resume",
    "stop_study",
    "studies",
    "study",
    "tune",
]
