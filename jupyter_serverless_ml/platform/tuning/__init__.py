"""Hyperparameter tuning inside the platform daemon: studies whose trials are training jobs.

``service.py`` runs the studies, ``optuna_study.py`` is Optuna's side (in memory, rebuilt
from the store; sampler, pruner), ``space.py`` the search spaces, ``views.py`` the JSON shapes, ``routes.py`` the
control-plane routes.
"""
