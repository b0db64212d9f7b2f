"""Batch prediction over whole CSV, Parquet and JSONL files."""

from .api import batch_job, batch_jobs, batch_predict
from .handles import BatchJob

__all__ = ["BatchJob", "batch_job", "batch_jobs", "batch_predict"]
