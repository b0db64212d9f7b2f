"""What a deploy request becomes before any replica starts: the variant entry.

An entry names the registered model version (or, for a multi-model endpoint, the
model set), the interpreter that serves it, the modules its zygote imports and the
inference code found for it. The platform derives every part from what it recorded
itself (the job's spec, the model row); a field a job wrote into a model directory
is never trusted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ...errors import BackendError, NotFound, UsageError
from ..store import Store
from . import inference_code, multi_model
from .zygotes import modules_for

__all__ = ["DeployEntries"]


class DeployEntries:
    """Resolves deploy requests against the registry (used by the endpoint and batch managers)."""

    def __init__(self, home: Path, store: Store) -> None:
        self.home = home
        self.store = store

    def resolve_model(self, name: str, version: int | None) -> dict[str, Any]:
        """A registered model version (the latest when ``version`` is None)."""
        model = self.store.model(name, version)
        if model is None:
            versions = [m["version"] for m in self.store.models(name)]
            if versions:
                raise NotFound(
                    f"model {name} has no version {version}; versions: "
                    f"{', '.join(map(str, versions))}"
                )
            known = sorted({m["name"] for m in self.store.models()})
            raise NotFound(
                f"no model {name!r}; registered models: {', '.join(known) or 'none'} "
                "(train one with %%train --name NAME)"
            )
        return model

    async def serving_python(self, model: dict[str, Any]) -> str:
        """The interpreter the model was trained with (its isolated environment, if any).

        The platform derives it from what it recorded itself: the job's spec for a job's
        model, the kernel's interpreter given at registration for a kernel's model. A
        field the job wrote into the model directory's metadata is never trusted.
        """
        job = self.store.job(model["job_id"]) if model.get("job_id") else None
        if job is None and not model.get("job_id"):
            registered = (model.get("metadata") or {}).get("serving_python")
            if registered:  # written into the model row by ModelRegistry.register
                return str(registered)
        if job is None:
            raise BackendError(
                f"model {model['name']}:{model['version']} has no recorded "
                "environment; deploy it from the kernel that holds it"
            )
        spec = job["spec"]
        if spec.get("env") != "isolated":
            return str(spec["python"])
        from ..jobs import envs

        python, _, _ = await asyncio.to_thread(
            envs.ensure,
            self.home / "envs",
            spec["requirements"],
            str(spec["python"]),
            uv=spec.get("uv"),
        )
        return str(python)

    async def single(self, request: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The variant entry of the model a deploy request names, and its inference code."""
        model_name = str(request.get("model") or "")
        if not model_name:
            raise UsageError("deploy needs a model name (MODEL or MODEL:VERSION)")
        version = request.get("version")
        model = self.resolve_model(model_name, int(version) if version else None)
        python = await self.serving_python(model)
        entry = {
            "name": model["name"],
            "version": model["version"],
            "uri": model["uri"],
            "flavor": model["flavor"],
            "python": python,
            "modules": modules_for(model),
            "class": (model.get("metadata") or {}).get("class"),
        }
        code = await asyncio.to_thread(
            inference_code.resolve, self.home, self.store, model, request
        )
        if code:
            entry["code"] = code
        return entry, code

    async def multi(self, request: dict[str, Any]) -> dict[str, Any]:
        """A multi-model endpoint's variant entry; its settings go into the request's config."""
        if request.get("endpoint"):
            raise UsageError("a multi-model endpoint is created on its own (no --endpoint)")
        if any(request.get(k) for k in ("inference_script", "source_dir", "predictor")):
            raise UsageError(
                "a multi-model endpoint serves registered models without inference code"
            )
        source = str(request.get("model") or "")
        entry = await multi_model.plan(self.store, source, self.serving_python)
        cache = int(request.get("model_cache") or multi_model.DEFAULT_CACHE_BYTES)
        if cache <= 0:
            raise UsageError("--model-cache must be above 0, e.g. 2G")
        request["multi_model"] = {"source": source, "cache_bytes": cache}
        request["keep_warm"] = False
        return entry
