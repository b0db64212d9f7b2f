"""The model set of a multi-model endpoint: which registered versions a source names, and
which one a request's target names. Pure functions, shared by the local platform and the
SageMaker and Vertex backends, so ``model="fleet:3"`` means the same everywhere.

A source is a model name (every version of it) or a prefix ending in ``*`` (every
version of every model whose name starts with it). A target is ``name:version``,
``name`` (its latest version) or, for a model-name source, ``3`` or ``v3``.
"""

from __future__ import annotations

__all__ = ["describe_set", "in_set", "parse_target"]


def describe_set(source: str, count: int) -> str:
    """A multi-model variant's model set as people read it: ``fleet:* (20 models)`` for
    every version of ``fleet``, ``team-* (3 models)`` for a prefix."""
    label = source if source.endswith("*") else f"{source}:*"
    return f"{label} ({count} model{'' if count == 1 else 's'})"


def in_set(source: str, name: str) -> bool:
    """Whether model ``name`` belongs to the set ``source`` names."""
    return name.startswith(source[:-1]) if source.endswith("*") else name == source


def parse_target(source: str, target: str) -> tuple[str, int | None] | None:
    """(model name, version or None for its latest) that ``target`` names within
    ``source``; None when it names nothing the set holds."""
    target = target.strip().strip("/")
    if source.endswith("*"):
        name, _, version = target.partition(":")
    elif ":" in target:
        name, _, version = target.rpartition(":")
    elif target == source:
        name, version = target, ""
    else:  # "3" or "v3": a version of the endpoint's model
        name, version = source, target
    if not name or not in_set(source, name):
        return None
    version = version[1:] if version.startswith("v") else version
    if version and not version.isdigit():
        return None
    return name, int(version) if version else None
