"""Endpoints: registered models behind autoscaled endpoints, with canary traffic."""

from .api import deploy, endpoint, endpoints, rollback, traffic, undeploy
from .handles import Endpoint, EndpointList, encode_rows, endpoint_handle

__all__ = [
    "Endpoint",
    "EndpointList",
    "deploy",
    "encode_rows",
    "endpoint",
    "endpoint_handle",
    "endpoints",
    "rollback",
    "traffic",
    "undeploy",
]
