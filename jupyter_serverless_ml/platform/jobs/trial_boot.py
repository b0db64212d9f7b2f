"""The first thing a study's trial host runs, before it imports the rest of the package:
start the study's zygote from the command the daemon left in ``host.json`` (see
:func:`.trial_support.zygote_command`), so the zygote's interpreter and imports overlap the
host's own start. Standard library only; where there is no command the host starts the
zygote itself, later.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

PR_SET_PDEATHSIG = 1


def start_zygote(folder: Path) -> tuple[int, socket.socket, str] | None:
    """Fork and exec the zygote: (its pid, the host's end of its socket, its code
    directory), or None when ``host.json`` holds no command."""
    try:
        plan = dict(json.loads((folder / "host.json").read_text()).get("zygote") or {})
        argv, env, code_dir = list(plan["argv"]), dict(plan["env"]), str(plan["code_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    argv = [str(a).replace("{fd}", str(theirs.fileno())) for a in argv]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child execs
        try:
            mine.close()
            os.set_inheritable(theirs.fileno(), True)
            import ctypes

            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9)  # SIGKILL when the host dies
            os.execvpe(argv[0], argv, {str(k): str(v) for k, v in env.items()})
        finally:
            os._exit(127)
    theirs.close()
    return pid, mine, code_dir


__all__ = ["start_zygote"]
