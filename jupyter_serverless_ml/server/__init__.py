"""The jupyter-server extension: the sidebar's REST API under ``/serverless-ml/api/``.

Enabled on install by ``jupyter-config/server-config/jupyter_serverless_ml.json``.
"""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(server_app: Any) -> None:
    from .handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("jupyter_serverless_ml: serving the sidebar API at /serverless-ml/api/")


load_jupyter_server_extension = _load_jupyter_server_extension
