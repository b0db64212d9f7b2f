"""Scheduled notebooks on the local platform: :mod:`.cron` (when), :mod:`.manager` (schedules,
runs, the loop), :mod:`.runner` (one papermill run, detached), :mod:`.routes` (HTTP).

Nothing is imported here: the runner runs as ``python -m ...schedules.runner``.
"""
