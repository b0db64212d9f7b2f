"""Frontends over the Python API: IPython magics, the ``jsml`` CLI, notebook widgets.

Each stays thin: it parses arguments and calls the API.
"""
