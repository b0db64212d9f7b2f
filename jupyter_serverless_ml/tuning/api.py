"""Hyperparameter tuning: the Python API (magics, the CLI and the server extension call these).

>>> study = tune('''
... df = pd.read_csv(channel("train"))
... model = LogisticRegression(C=hp.C, penalty=hp.penalty, solver="liblinear").fit(X, y)
... log_metric("accuracy", model.score(X, y))
... ''', name="cancer", params={"C": "loguniform(1e-3,10)", "penalty": "choice(l1,l2)"},
...     objective="accuracy", trials=20, parallel=2, data={"train": "data/train.csv"})
>>> study.best_params, study.model()

The cell is bundled once, like a ``%%train`` cell, and every trial runs it as a
training job with the trial's parameters as hyperparameters (read as ``hp.C``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..backends import get_backend, require
from ..backends.tuning_part import StudyRequest, Tuning
from ..catalog.instance_types import instance_type as lookup_instance_type
from ..errors import UsageError, storage_errors
from ..options import check_hyperparameters, parse_duration, parse_size, validate_name
from ..packaging import build_cell_bundle
from ..platform.tuning import space as spaces
from ..records import TrainingRequest
from ..training.api import ENVS, _channels, _check_limits, _cpus
from .handles import Study, StudyList, StudyProgress


def tune(
    code: str,
    *,
    name: str,
    params: Mapping[str, Any] | Iterable[str],
    objective: str,
    direction: str = "maximize",
    trials: int = 20,
    parallel: int = 1,
    strategy: str = "tpe",
    early_stop: bool = False,
    seed: int | None = None,
    data: Mapping[str, str | Path] | None = None,
    hp: Mapping[str, Any] | None = None,
    backend: str | None = None,
    instance_type: str | None = None,
    requirements: str | Path | None = None,
    env: str = "kernel",
    network: bool = False,
    memory: str | int | None = None,
    max_runtime: str | float | None = None,
    max_processes: int | None = None,
    max_disk: str | int | None = None,
    model_var: str = "model",
    model_name: str | None = None,
    namespace: Mapping[str, Any] | None = None,
    history: Iterable[str] = (),
    wait: bool = True,
    progress: StudyProgress | None = None,
) -> Study:
    """Tune the hyperparameters of training code and return the :class:`Study`.

    ``params`` is the search space: names mapped to ``"loguniform(1e-3,10)"``,
    ``"uniform(0,1)"``, ``"int(2,10)"``, ``"choice(l1,l2)"`` (or a list of choices),
    or ``--param``-style ``"NAME=SPEC"`` strings. Each trial runs ``code`` as a training
    job with the trial's parameters plus the fixed ``hp``; its ``objective`` is the last
    value the code logs with ``log_metric(objective, value)``. ``strategy`` is ``tpe``
    (Optuna's default sampler), ``random`` or ``grid`` (int and choice parameters only).
    ``early_stop`` stops a trial whose intermediate values (``log_metric(objective, v,
    step=i)``) are worse than the median of earlier trials at that step. ``parallel``
    trials run at once. When every trial has ended, the best trial's model is registered
    as ``model_name`` (default ``name``) with its parameters. A failed trial is recorded,
    not fatal. ``wait`` blocks until the study ends. The study runs in the platform, so it
    goes on if this kernel dies: :func:`resume` re-attaches to it.
    """
    if env not in ENVS:
        raise UsageError(f"--env must be one of {', '.join(ENVS)}, not {env!r}")
    if not model_var.isidentifier():
        raise UsageError(f"--model-var {model_var!r} is not a Python variable name")
    if not isinstance(code, str) or not code.strip():
        raise UsageError(
            "%%tune needs the training code in the cell (it reads hp.NAME for each --param "
            "and calls log_metric(OBJECTIVE, value))"
        )
    validate_name(name)
    space = spaces.parse_space(params)
    fixed = check_hyperparameters(hp or {})
    chosen = get_backend(backend)
    tuning = require(chosen, Tuning)  # refused before anything is built
    shape = lookup_instance_type(instance_type)
    disk_limit = _check_limits(max_processes, max_disk)
    channels = _channels(data or {}, chosen.native_schemes)
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    with storage_errors("the bundle", chosen.bundle_root()):
        bundle = build_cell_bundle(
            code,
            namespace,
            chosen.bundle_root(),
            channels=channels,
            model_var=model_var,
            history=history,
            requirements_file=requirements,
            job_config={"instance_type": shape.name},
        )
    training = TrainingRequest(
        name=name,
        channels=channels,
        hyperparameters=fixed,
        instance_type=shape.name,
        num_cpus=_cpus(shape),
        num_gpus=shape.gpus,
        env=env,
        python=sys.executable,
        network=network,
        memory=parse_size(memory),
        max_runtime=parse_duration(max_runtime),
        max_processes=max_processes,
        max_disk=disk_limit,
    )
    request = StudyRequest(
        name=name,
        space=space,
        objective=objective,
        training=training,
        direction=direction,
        trials=trials,
        parallel=parallel,
        strategy=strategy,
        early_stop=early_stop,
        seed=seed,
        model_name=model_name,
    )
    found = Study(chosen, tuning.submit_study(bundle, request))
    if wait:
        found.wait(progress=progress)
    return found


def study(name: str, backend: str | None = None) -> Study:
    """A study with its trials."""
    chosen = get_backend(backend)
    return Study(chosen, require(chosen, Tuning).study(name))


def studies(backend: str | None = None) -> StudyList:
    """Every study, newest first."""
    chosen = get_backend(backend)
    return StudyList(Study(chosen, r) for r in require(chosen, Tuning).studies())


def resume(
    name: str,
    *,
    trials: int | None = None,
    parallel: int | None = None,
    backend: str | None = None,
    wait: bool = True,
    progress: StudyProgress | None = None,
) -> Study:
    """Re-attach to a study (one whose kernel died goes on in the platform) or continue a
    stopped one; ``trials`` raises its budget. ``wait`` blocks until it ends."""
    chosen = get_backend(backend)
    found = Study(
        chosen, require(chosen, Tuning).resume_study(name, trials=trials, parallel=parallel)
    )
    if wait:
        found.wait(progress=progress)
    return found


def stop_study(name: str, backend: str | None = None) -> Study:
    """Stop a study and its running trials."""
    return study(name, backend).stop()


__all__ = ["resume", "stop_study", "studies", "study", "tune"]
