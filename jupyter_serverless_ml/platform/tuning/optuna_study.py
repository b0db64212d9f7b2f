"""Optuna's side of a study: an in-memory Optuna study, rebuilt from the platform's store.

The platform's store is the one record of a study's trials (their parameters, state,
value, and the intermediate objective values in their jobs' metrics). Optuna runs in
memory inside the daemon (ask and tell cost a few milliseconds, no second database);
when the daemon opens a study it has not seen since it started (a restart, a changed
budget) it replays the store's trials into a fresh Optuna study, by number, so the
sampler sees every finished trial, a running trial goes on being reported to and told
about, and a grid study knows which points it visited. Optuna is imported only when a
study is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import space as spaces

STRATEGIES = ("tpe", "random", "grid")
DIRECTIONS = ("maximize", "minimize")
#: trial row status -> Optuna state name
_STATES = {
    "Running": "RUNNING",
    "Completed": "COMPLETE",
    "Pruned": "PRUNED",
    "Failed": "FAIL",
    "Stopped": "FAIL",
}
#: a trial's rows (the store's ``study_trials``) and its intermediate values by step
Rows = Iterable[Mapping[str, Any]]
Steps = Callable[[Mapping[str, Any]], dict[int, float]]


def _quiet() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def sampler(spec: dict[str, Any]) -> Any:
    """The sampler of a study's ``strategy`` (seeded with ``seed`` when given)."""
    optuna = _quiet()
    seed = spec.get("seed")
    if spec["strategy"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec["strategy"] == "grid":
        return optuna.samplers.GridSampler(spaces.grid(spec["space"]), seed=seed)
    startup = min(10, max(2, int(spec["trials"]) // 3))
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=startup, constant_liar=int(spec["parallel"]) > 1
    )


def pruner(spec: dict[str, Any]) -> Any:
    """A median pruner with ``early_stop`` (a trial whose intermediate objective is worse than
    the median of earlier trials at the same step is stopped), else none."""
    optuna = _quiet()
    if not spec.get("early_stop"):
        return optuna.pruners.NopPruner()
    startup = min(5, max(2, int(spec["trials"]) // 4))
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)


def _grid_attrs(study: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The system attributes GridSampler gives a trial of these parameters (which point)."""
    grid_sampler = study.sampler
    names = grid_sampler._param_names
    for index, point in enumerate(grid_sampler._all_grids):
        if all(params.get(n) == v for n, v in zip(names, point, strict=True)):
            return {"search_space": grid_sampler._search_space, "grid_id": index}
    return {}


class OptunaStudies:
    """Opens (and caches) the in-memory Optuna study behind each platform study."""

    def __init__(self) -> None:
        self._open: dict[str, Any] = {}

    def study(
        self, name: str, spec: dict[str, Any], rows: Rows = (), steps: Steps | None = None
    ) -> Any:
        """The Optuna study of ``name``; when not open, a new one replaying ``rows`` (the
        store's trials, by number) with their intermediate values from ``steps``."""
        found = self._open.get(name)
        if found is None:
            found = self._rebuild(name, spec, rows, steps)
            self._open[name] = found
        return found

    def is_open(self, name: str) -> bool:
        """Whether the study is open (its Optuna state is in memory)."""
        return name in self._open

    def _rebuild(self, name: str, spec: dict[str, Any], rows: Rows, steps: Steps | None) -> Any:
        optuna = _quiet()
        study = optuna.create_study(
            study_name=name,
            storage=optuna.storages.InMemoryStorage(),
            direction=spec["direction"],
            sampler=sampler(spec),
            pruner=pruner(spec),
        )
        distributions = spaces.distributions(spec["space"])
        storage = study._storage
        expected = 0
        for row in sorted(rows, key=lambda r: int(r["number"])):
            while expected < int(row["number"]):  # asked, never recorded: a failed number
                self._add(study, optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
                expected += 1
            params = {k: v for k, v in dict(row["params"]).items() if k in distributions}
            state = getattr(optuna.trial.TrialState, _STATES.get(str(row["status"]), "FAIL"))
            complete = state == optuna.trial.TrialState.COMPLETE and row.get("value") is not None
            if state == optuna.trial.TrialState.COMPLETE and not complete:
                state = optuna.trial.TrialState.FAIL
            frozen = optuna.trial.create_trial(
                state=state,
                value=float(row["value"]) if complete else None,
                params=params,
                distributions={k: distributions[k] for k in params},
                intermediate_values=dict(steps(row)) if steps else None,
                system_attrs=_grid_attrs(study, params) if spec["strategy"] == "grid" else None,
            )
            storage.create_new_trial(study._study_id, template_trial=frozen)
            expected += 1
        return study

    @staticmethod
    def _add(study: Any, frozen: Any) -> None:
        study._storage.create_new_trial(study._study_id, template_trial=frozen)

    def forget(self, name: str) -> None:
        """Drop an open study (its spec changed: a new budget or parallelism); the next use
        rebuilds it from the store."""
        self._open.pop(name, None)

    def ask(self, name: str, spec: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
        """A new trial: its number, its id in Optuna's storage and its parameters."""
        trial = self.study(name, spec).ask(spaces.distributions(spec["space"]))
        return int(trial.number), int(trial._trial_id), dict(trial.params)

    def _trial_id(self, study: Any, number: int) -> int:
        return int(study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number))

    def report(
        self,
        name: str,
        spec: dict[str, Any],
        number: int,
        value: float,
        step: int,
        judge: bool = True,
    ) -> bool:
        """Report an intermediate objective value of trial ``number``; with ``judge``, True
        when the pruner says the trial should stop."""
        optuna = _quiet()
        study = self.study(name, spec)
        trial_id = self._trial_id(study, number)
        frozen = study._storage.get_trial(trial_id)
        if frozen.state.is_finished() or step in frozen.intermediate_values:
            return False
        trial = optuna.trial.Trial(study, trial_id)
        trial.report(value, step)
        return judge and bool(trial.should_prune())

    def tell(
        self, name: str, spec: dict[str, Any], number: int, state: str, value: float | None
    ) -> None:
        """Finish a trial: ``complete`` (with its value), ``pruned`` or ``fail``."""
        optuna = _quiet()
        states = {
            "complete": optuna.trial.TrialState.COMPLETE,
            "pruned": optuna.trial.TrialState.PRUNED,
            "fail": optuna.trial.TrialState.FAIL,
        }
        study = self.study(name, spec)
        if study._storage.get_trial(self._trial_id(study, number)).state.is_finished():
            return
        if state == "complete":
            study.tell(number, value)
        else:
            study.tell(number, state=states[state])

    def grid_exhausted(self, name: str, spec: dict[str, Any]) -> bool:
        """Whether a grid study has visited every point."""
        if spec["strategy"] != "grid":
            return False
        study = self.study(name, spec)
        return bool(study.sampler.is_exhausted(study))


__all__ = ["DIRECTIONS", "STRATEGIES", "OptunaStudies", "pruner", "sampler"]
