"""Write confinement for the sandboxed serving zygote (Landlock), then the zygote itself.

``python -m jsml_runtime.confine --write DIR ... -- FD [MODULE ...]`` denies
the process (and so every replica and batch worker forked from it) every way
of writing files except beneath the ``--write`` directories, then runs
``jsml_runtime.zygote``. Files the platform opens for it keep working.

Why, on top of bubblewrap's read-only mounts: batch workers get their input
files and part files as descriptors the platform opened on the host's
(writable) mounts. Without Landlock, ``open("/proc/self/fd/N", O_WRONLY)``
re-opens such an input file for writing through its host mount; with it, the
re-open is refused, while writing through the part file's own descriptor
still works (Landlock checks opens, not descriptors opened before). Standard
library only; the system call numbers are the same on every architecture.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
# LANDLOCK_ACCESS_FS_*: write file, remove dir/file, make char/dir/reg/sock/fifo/block/sym
_WRITES_V1 = (1 << 1) | sum(1 << bit for bit in range(4, 13))
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 where Landlock is missing or disabled."""
    try:
        libc = _libc()
        version = int(libc.syscall(_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(0, version)


def deny_writes(allowed: list[str]) -> int:
    """Refuse this process every file write outside ``allowed`` (directories); returns the
    ABI used. Raises OSError when the kernel cannot enforce it."""
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    handled = _WRITES_V1 | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    # struct landlock_ruleset_attr's first field; the kernel takes the shorter, older struct
    attr = struct.pack("Q", handled)
    libc = _libc()
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = int(libc.syscall(_CREATE_RULESET, buffer, ctypes.c_size_t(len(attr)), 0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in allowed:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a directory that is not there needs no rule
            try:
                rule = ctypes.create_string_buffer(struct.pack("=Qi", handled, fd), 12)
                if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def main(argv: list[str] | None = None) -> int:
    """Confine writes to the ``--write`` directories, then run the zygote on the rest."""
    args = list(sys.argv[1:] if argv is None else argv)
    allowed: list[str] = []
    while args and args[0] == "--write":
        allowed.append(args[1])
        args = args[2:]
    if args and args[0] == "--":
        args = args[1:]
    try:
        deny_writes(allowed)
    except OSError as exc:
        sys.stderr.write(f"[zygote] cannot confine writes with Landlock: {exc}\n")
        return 3
    from . import zygote

    return zygote.main(args)


if __name__ == "__main__":
    sys.exit(main())
