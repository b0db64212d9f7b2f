"""The Vertex AI backend (``--backend vertex``): google-cloud-aiplatform's REST clients.

Importing this package imports no Google SDK; the clients load on first use.
"""

from .backend import VertexBackend

__all__ = ["VertexBackend"]
