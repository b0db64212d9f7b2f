"""The fake's Model Registry routes for stages: ``models.mergeVersionAliases`` and
``models.patch`` (UpdateModel), validated against the API's own messages.

As the real API: an alias names one version of a model (merging it onto a version moves it
there; ``-alias`` removes it; ``default`` cannot be removed); a version-specific update
(``models/ID@VERSION``) replaces that version's labels, and a model update (``models/ID``)
its display name, description and labels; other fields in the mask are refused.
"""

from __future__ import annotations

import re
from typing import Any

from google.cloud import aiplatform_v1 as v1

from .messages import now, parse, reply
from .web import ApiError, Request, Response, Router

LOC = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
_ALIAS = re.compile(r"^-?[a-z][a-z0-9-]{0,126}[a-z0-9]$")
VERSION_FIELDS = {"labels", "version_description", "versionDescription"}
MODEL_FIELDS = {"labels", "display_name", "displayName", "description"}


class RegistryRoutes:
    """Installed beside :class:`.api.VertexApi` on the same store."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def install(self, router: Router) -> None:
        router.add("POST", LOC + r"/models/(?P<id>[^/:]+):mergeVersionAliases", self.merge)
        router.add("PATCH", LOC + r"/models/(?P<id>[^/:]+)", self.update)

    @staticmethod
    def _name(req: Request) -> str:
        return f"projects/{req.params['project']}/locations/{req.params['location']}/models/{req.params['id']}"

    def merge(self, req: Request) -> Response:
        request = parse(v1.MergeVersionAliasesRequest, req, "*")
        self.store.requests.append(("models.mergeVersionAliases", request))
        if "@" not in self._name(req):
            raise ApiError(400, "The model name must name a version: models/ID@VERSION.")
        with self.store.lock:
            model = self.store.model(self._name(req))
            versions = self.store.model_versions(model.name)
            for alias in request.version_aliases:
                if not _ALIAS.match(alias):
                    raise ApiError(400, f"Invalid version alias {alias!r}.")
                bare = alias.lstrip("-")
                if bare == "default" and alias.startswith("-"):
                    raise ApiError(400, "The default alias cannot be removed.")
                if alias.startswith("-"):
                    model.version_aliases = [a for a in model.version_aliases if a != bare]
                    continue
                for other in versions:
                    if other is not model and bare in other.version_aliases:
                        other.version_aliases = [a for a in other.version_aliases if a != bare]
                if bare not in model.version_aliases:
                    model.version_aliases = [*model.version_aliases, bare]
            model.version_update_time = now()
        return reply(model)

    def update(self, req: Request) -> Response:
        body = parse(v1.Model, req, "model")
        mask = {p for p in (req.arg("updateMask") or req.arg("update_mask") or "").split(",") if p}
        self.store.requests.append(("models.patch", body))
        if not mask:
            raise ApiError(400, "update_mask is required.")
        name = self._name(req)
        allowed = VERSION_FIELDS if "@" in name else MODEL_FIELDS
        refused = mask - allowed
        if refused:
            raise ApiError(400, f"Field(s) {sorted(refused)} cannot be updated for {name}.")
        with self.store.lock:
            targets = [self.store.model(name)] if "@" in name else self.store.model_versions(name)
            for model in targets:
                if "labels" in mask:
                    model.labels = dict(body.labels)
                if mask & {"display_name", "displayName"}:
                    model.display_name = body.display_name
                if "description" in mask:
                    model.description = body.description
                if mask & {"version_description", "versionDescription"}:
                    model.version_description = body.version_description
                model.version_update_time = now()
        return reply(targets[0])
