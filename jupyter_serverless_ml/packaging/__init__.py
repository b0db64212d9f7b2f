"""Packaging: a notebook cell (or function, or script) becomes a content-addressed bundle.

Packaging knows the bundle format and nothing about backends.
"""

from .bundle import Bundle, build_cell_bundle, build_entry_point_bundle, load_bundle

__all__ = ["Bundle", "build_cell_bundle", "build_entry_point_bundle", "load_bundle"]
