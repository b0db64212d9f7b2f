"""One scheduled run: ``python -m jupyter_serverless_ml.platform.schedules.runner RUN_DIR``.

The daemon starts it detached (its own session, logs to ``RUN_DIR/run.log``), so a
daemon restart does not touch it. It reads ``RUN_DIR/run.json`` (written by the
daemon) and executes the notebook with papermill into ``RUN_DIR/work/``: inside a
bubblewrap sandbox when the platform has one: the file system read-only except the
run's work directory, the schedule's working directory and the platform home its kernel
is a client of (whose run directories and kept notebooks stay read-only); no
capabilities; the host's PID namespace and network, since the kernel calls the daemon. It then copies
the executed notebook, without following links and up to :data:`MAX_NOTEBOOK` bytes,
to the artifact and Lab paths, and writes ``RUN_DIR/state/result.json`` last. The
notebook never writes under ``state/``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MAX_NOTEBOOK = 64 * 1024 * 1024
RESULT = "result.json"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def read_untrusted(path: Path, limit: int = MAX_NOTEBOOK) -> bytes | None:
    """A file the notebook wrote: None for a link, a non-regular file or more than ``limit``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        import stat

        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return fh.read(limit + 1)[:limit]


def failure_of(notebook: bytes | None) -> str | None:
    """The first error a cell raised in an executed notebook (``Name: message``), if any."""
    if not notebook:
        return None
    try:
        cells = json.loads(notebook).get("cells", [])
    except (ValueError, AttributeError):
        return None
    for cell in cells:
        for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
            if isinstance(output, dict) and output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"[:2000]
    return None


def _papermill_error(run_dir: Path) -> str | None:
    """Why papermill stopped before a cell raised (no kernel, a bad parameter): the last
    error line of this run's log."""
    from .kernels import last_error

    try:
        fd = os.open(run_dir / "run.log", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - 65536))
        return last_error(fh.read(65536).decode("utf-8", "replace"))


def _visible(python: str) -> list[str]:
    """Read-only binds that keep the interpreter and this package visible under the
    sandbox's fresh /tmp (a checkout or virtual environment under /tmp, as in CI)."""
    from ..jobs.sandbox import interpreter_paths

    package_root = Path(__file__).resolve().parents[3]  # the checkout of an editable install
    binds: list[str] = []
    for path in dict.fromkeys([*interpreter_paths(python), package_root]):
        if path.is_dir() and str(path) != "/":
            binds += ["--ro-bind", str(path), str(path)]
    return binds


def _sandboxed(argv: list[str], spec: dict[str, Any], work: Path) -> list[str]:
    from ..jobs.sandbox import base_mounts, hardening_args

    home = Path(spec["home"])
    runs, kept = home / "schedules", home / "artifacts" / "schedules"
    kept.mkdir(parents=True, exist_ok=True)
    # the notebook's kernel is a platform client (it reads the token, builds bundles in the
    # home), but every run's directory and kept notebook are read-only to it; its own work
    # directory and the schedule's working directory are writable (mounts later win)
    binds = _visible(argv[0])
    binds += ["--ro-bind", str(Path(spec["notebook"]).parent), str(Path(spec["notebook"]).parent)]
    binds += ["--bind", str(home), str(home)]
    binds += ["--ro-bind", str(runs), str(runs), "--ro-bind", str(kept), str(kept)]
    for path in dict.fromkeys([str(work), spec["cwd"]]):
        binds += ["--bind", path, path]
    hardening = [a for a in hardening_args() if a not in ("--unshare-pid",)]
    return ["bwrap", *base_mounts(), *hardening, *binds, "--chdir", spec["cwd"], *argv]


def command(spec: dict[str, Any], work: Path) -> list[str]:
    """The papermill command line of the run (wrapped in bwrap when ``spec["sandbox"]``)."""
    argv = [
        spec.get("python") or sys.executable,
        "-m",
        "papermill",
        spec["notebook"],
        str(work / "output.ipynb"),
        "-y",
        json.dumps(spec.get("parameters") or {}),
        "--cwd",
        spec["cwd"],
        "--no-progress-bar",
        "--log-output",
    ]
    if spec.get("kernel"):
        argv += ["-k", spec["kernel"]]
    return _sandboxed(argv, spec, work) if spec.get("sandbox") else argv


def _environment(work: Path, spec: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    private = str(work / "tmp")  # seen at the same path by the platform (a model saved there)
    env.update(
        JSML_HOME=spec["home"],
        JSML_SCHEDULE=spec["schedule"],
        JSML_SCHEDULE_RUN=spec["id"],
        TMPDIR=private,
        JUPYTER_RUNTIME_DIR=f"{private}/jupyter-runtime",
        IPYTHONDIR=f"{private}/ipython",
        MPLCONFIGDIR=f"{private}/matplotlib",
        XDG_CACHE_HOME=f"{private}/cache",
        PYTHONUNBUFFERED="1",
    )
    return env


def _copy_out(data: bytes, targets: list[str]) -> list[str]:
    written = []
    for target in targets:
        path = Path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            written.append(target)
        except OSError as exc:
            print(f"[jsml] could not write {target}: {exc}", flush=True)
    return written


def run(run_dir: Path) -> dict[str, Any]:
    """Execute the run described in ``run_dir/run.json``; returns (and writes) its result."""
    spec = json.loads((run_dir / "run.json").read_text())
    work, state = run_dir / "work", run_dir / "state"
    work.mkdir(exist_ok=True)
    (work / "tmp").mkdir(exist_ok=True)
    state.mkdir(exist_ok=True)
    started = time.time()
    result: dict[str, Any] = {"started_at": started}
    if not Path(spec["notebook"]).is_file():
        result.update(status="Failed", failure_reason=f"notebook {spec['notebook']} is gone")
    else:
        argv = command(spec, work)
        mode = "in a bubblewrap sandbox" if spec.get("sandbox") else "as a plain process"
        print(f"[jsml] running {spec['notebook']} {mode}: {' '.join(argv)}", flush=True)
        proc = subprocess.Popen(
            argv, cwd=spec["cwd"], env=_environment(work, spec), stdin=subprocess.DEVNULL
        )
        try:
            code = proc.wait(timeout=spec.get("timeout") or None)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            timed_out = True
        data = read_untrusted(work / "output.ipynb")
        written = (
            _copy_out(data, [spec["artifact"], *filter(None, [spec.get("lab_copy")])])
            if data
            else []
        )
        result["output"] = spec["artifact"] if spec["artifact"] in written else None
        result["lab_copy"] = spec.get("lab_copy") if spec.get("lab_copy") in written else None
        if code == 0 and not timed_out:
            result["status"] = "Completed"
        else:
            reason = (
                failure_of(data)
                or _papermill_error(run_dir)
                or f"papermill exited with code {code}"
            )
            if timed_out:
                reason = f"the run took longer than its timeout of {spec['timeout']:g}s"
            result.update(status="Failed", failure_reason=reason)
    result["ended_at"] = time.time()
    _write_json(state / RESULT, result)
    print(f"[jsml] run {spec['id']}: {result['status']}", flush=True)
    return result


def main() -> int:
    """Entry point."""
    run_dir = Path(sys.argv[1])
    try:
        run(run_dir)
    except Exception as exc:  # the daemon reads the reason from the result
        (run_dir / "state").mkdir(exist_ok=True)
        _write_json(
            run_dir / "state" / RESULT,
            {
                "status": "Failed",
                "failure_reason": f"the runner failed: {exc}",
                "ended_at": time.time(),
            },
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
