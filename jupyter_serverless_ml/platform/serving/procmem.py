"""What a serving process costs in memory, read from ``/proc/<pid>/smaps_rollup``.

PSS (proportional set size) counts each page shared between processes once in
all: a replica forked from its model's template shows the model's pages split
between them, so the PSS of an endpoint's processes adds up to what it really
holds. RSS counts every shared page in full in each process.
"""

from __future__ import annotations

from typing import Any

_FIELDS = {
    b"Rss:": "rss_bytes",
    b"Pss:": "pss_bytes",
    b"Shared_Clean:": "shared_bytes",
    b"Shared_Dirty:": "shared_bytes",
    b"Private_Clean:": "private_bytes",
    b"Private_Dirty:": "private_bytes",
}


def memory(pid: int | None) -> dict[str, int] | None:
    """``rss_bytes``, ``pss_bytes``, ``shared_bytes`` and ``private_bytes`` of ``pid``; None
    when the process is gone (or the kernel has no ``smaps_rollup``)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            text = fh.read()
    except OSError:
        return None
    out = dict.fromkeys(("rss_bytes", "pss_bytes", "shared_bytes", "private_bytes"), 0)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in _FIELDS:
            out[_FIELDS[parts[0]]] += int(parts[1]) * 1024
    return out


def mib(value: Any) -> str:
    """``123.4 MiB`` for a byte count (``-`` for None)."""
    return "-" if value is None else f"{int(value) / (1 << 20):.1f} MiB"


__all__ = ["memory", "mib"]
