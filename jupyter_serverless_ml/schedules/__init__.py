"""Scheduled notebooks: papermill runs of a notebook on a cron expression or an interval."""

from .api import (
    delete_schedule,
    get_schedule,
    lab_link,
    parse_value,
    pause_schedule,
    resume_schedule,
    run_schedule,
    schedule,
    schedule_runs,
    schedules,
)
from .handles import RunList, Schedule, ScheduleList, ScheduleRun

__all__ = [
    "RunList",
    "Schedule",
    "ScheduleList",
    "ScheduleRun",
    "delete_schedule",
    "get_schedule",
    "lab_link",
    "parse_value",
    "pause_schedule",
    "resume_schedule",
    "run_schedule",
    "schedule",
    "schedule_runs",
    "schedules",
]
