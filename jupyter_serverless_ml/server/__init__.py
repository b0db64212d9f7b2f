"""The jupyter-server extension: the sidebar's REST API under ``/serverless-ml/api/``.

Enabled on install by ``jupyter-config/server-config/jupyter_serverless_ml.json``;
configured with ``c.ServerlessML`` (see :mod:`.config`).
"""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(server_app: Any) -> None:
    from .config import ServerlessML
    from .handlers import setup_handlers

    configured = ServerlessML(parent=server_app)
    setup_handlers(server_app.web_app, configured.backend_set())
    server_app.log.info(
        "jupyter_serverless_ml: serving the sidebar API at /serverless-ml/api/ for backends %s",
        ", ".join(configured.backends),
    )


load_jupyter_server_extension = _load_jupyter_server_extension
