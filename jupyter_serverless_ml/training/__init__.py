"""Training jobs: run notebook code or a script-mode entry point as a job on a backend."""

from .api import bundle, export_bundle, follow_logs, job, jobs, logs, stop, train
from .handles import Job, JobList, Progress

__all__ = [
    "Job",
    "JobList",
    "Progress",
    "bundle",
    "export_bundle",
    "follow_logs",
    "job",
    "jobs",
    "logs",
    "stop",
    "train",
]
