"""A hostile job against the sandbox and the host: capabilities, links and FIFOs, masks.

Each job here tries what an attacker's training script would: keep root's
capabilities, undo its mounts, plant links and FIFOs for the host to read, and
read the secrets people keep in their home directory.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jupyter_serverless_ml as jsml
from jupyter_serverless_ml.errors import JobFailed, UsageError
from jupyter_serverless_ml.platform import client, state
from jupyter_serverless_ml.platform.jobs import procs, sandbox

SANDBOXED = sandbox.probe().available
needs_sandbox = pytest.mark.skipif(  # CI sets JSML_REQUIRE_SANDBOX=1: there they must run
    not SANDBOXED and not os.environ.get("JSML_REQUIRE_SANDBOX"),
    reason=f"sandbox-only: {sandbox.probe().reason}",
)
pytestmark = pytest.mark.timeout(180)  # a host that blocks on a job file must fail, not hang


def run(source: str, **kwargs: Any) -> jsml.Job:
    kwargs.setdefault("name", "hostile")
    return jsml.train(source, namespace={}, **kwargs)


def output(job: jsml.Job) -> Any:
    path = Path(job.record["job_dir"]) / "ml" / "output" / "data" / "result.json"
    return json.loads(path.read_text())


RESULT = "open(os.environ['SM_OUTPUT_DATA_DIR'] + '/result.json', 'w').write(json.dumps(seen))\n"


@needs_sandbox
def test_a_job_has_no_capabilities_and_cannot_undo_its_mounts(home: Path) -> None:
    cell = (
        "import ctypes, errno, json, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines()"
        " if ':\\t' in l)\n"
        "seen = {k: status[k].strip() for k in ('CapEff', 'CapPrm', 'CapAmb')}\n"
        "seen['umount_tmp'] = libc.umount2(b'/tmp', 0), ctypes.get_errno()\n"
        "MS_REMOUNT, MS_BIND = 32, 4096\n"
        "seen['remount_root_rw'] = libc.mount(b'none', b'/', None, MS_REMOUNT | MS_BIND, None),"
        " ctypes.get_errno()\n"
        "seen['root'] = os.getuid() == 0\n" + RESULT
    )
    seen = output(run(cell, name="caps"))
    assert seen["CapEff"] == seen["CapPrm"] == seen["CapAmb"] == "0000000000000000"
    assert seen["umount_tmp"][0] == -1 and seen["umount_tmp"][1] in (1, 22)  # EPERM/EINVAL
    assert seen["remount_root_rw"] == [-1, 1]  # EPERM
    if os.getuid() == 0:
        assert "--cap-drop" in sandbox.hardening_args()


def test_a_failure_file_linked_to_the_token_is_not_read(home: Path) -> None:
    token = state.token(home)
    cell = (
        "import os\n"
        f"os.symlink({str(home / 'token')!r}, os.environ['SM_OUTPUT_DIR'] + '/failure')\n"
        "os._exit(3)\n"
    )
    with pytest.raises(JobFailed) as failed:
        run(cell, name="linked-failure")
    reason = failed.value.reason
    assert token not in reason and token not in jsml.job("linked-failure").logs()
    assert "failure is a symbolic link" in reason


def test_a_fifo_for_metrics_neither_hangs_the_daemon_nor_its_restart(home: Path) -> None:
    cell = (
        "import os, time\n"
        "path = os.environ['SM_OUTPUT_DIR'] + '/metrics.jsonl'\n"
        "if os.path.exists(path):\n    os.remove(path)\n"
        "os.mkfifo(path)\n"
        "print('fifo ready', flush=True)\n"
        "time.sleep(float(os.environ['SM_HP_PAUSE']))\n"
        "model = 'fifo'\n"
    )
    job = run(cell, name="fifo", hp={"pause": 0})
    assert job.status == "Completed" and job.model() == "fifo"
    assert any("metrics.jsonl is a FIFO" in e["message"] for e in job.record["events"]), job.record[
        "events"
    ]
    # the same job while the daemon restarts: reconciliation must not block on the FIFO
    slow = run(cell, name="fifo", hp={"pause": 1}, wait=False)
    deadline = 0
    while "fifo ready" not in slow.logs() and deadline < 600:
        deadline += 1
        __import__("time").sleep(0.05)
    daemon = state.read_state(home)["pid"]
    os.kill(daemon, signal.SIGKILL)
    while procs.is_alive(daemon):
        __import__("time").sleep(0.05)
    client.ensure_running(home)
    slow.wait(timeout=60)
    assert slow.status == "Completed" and slow.model() == "fifo"


@pytest.mark.parametrize(
    ("plant", "says"),
    [
        ("os.symlink('loop', d + '/loop')", "holds a symbolic link (loop)"),
        ("os.symlink(TOKEN, d + '/token')", "holds a symbolic link (token)"),
        ("os.makedirs(d + '/sub'); os.mkfifo(d + '/sub/pipe')", "holds a FIFO (sub/pipe)"),
    ],
    ids=["loop", "token", "fifo"],
)
def test_a_model_directory_with_links_or_special_files_fails_the_job(
    home: Path, plant: str, says: str
) -> None:
    cell = (
        "import os\n"
        f"TOKEN = {str(home / 'token')!r}\n"
        "model = 'payload'\n"
        "d = os.environ['SM_MODEL_DIR']\n"
        f"{plant}\n"
    )
    with pytest.raises(JobFailed, match="the job's model could not be registered") as failed:
        run(cell, name="bad-model")
    assert says in failed.value.reason and "instead of links" in failed.value.reason
    job = jsml.job("bad-model")
    assert job.status == "Failed" and job.record.get("model") is None
    registered = home / "artifacts" / "models" / "bad-model"
    assert not registered.exists() or not any(registered.rglob("token"))


@pytest.fixture()
def fake_user_home() -> Iterator[Path]:
    """A home directory full of credentials, outside /tmp (which the sandbox replaces)."""
    root = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="jsml-user-"))
    secrets = {
        ".npmrc": "//registry.npmjs.org/:_authToken=SECRET",
        ".pgpass": "db:5432:*:me:SECRET",
        ".my.cnf": "[client]\npassword=SECRET",
        ".config/gh/hosts.yml": "github.com:\n  oauth_token: SECRET",
        ".gnupg/private-keys-v1.d/key": "SECRET",
        ".cache/huggingface/token": "SECRET",
        ".huggingface/token": "SECRET",
        ".kaggle/kaggle.json": '{"key": "SECRET"}',
        ".databrickscfg": "[DEFAULT]\ntoken = SECRET",
        ".config/pip/pip.conf": "[global]\nindex-url = https://me:SECRET@pypi.example",
        ".ipython/profile_default/history.sqlite": "SECRET",
        ".jupyter/jupyter_server_config.json": '{"token": "SECRET"}',
        "runtime/jpserver-1234.json": '{"token": "SECRET"}',
        ".aws/credentials": "aws_secret_access_key = SECRET",
    }
    for rel, text in secrets.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    try:
        yield root
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


@needs_sandbox
def test_jobs_cannot_read_jupyter_tokens_history_or_credentials(
    private_home: Callable[..., Path], fake_user_home: Path
) -> None:
    runtime = fake_user_home / "runtime"
    platform = private_home(
        "masks", parent=Path("/var/tmp"), HOME=str(fake_user_home), JUPYTER_RUNTIME_DIR=str(runtime)
    )
    targets = [str(p) for p in fake_user_home.rglob("*") if p.is_file()]
    targets.append(str(platform / "token"))
    cell = (
        "import json, os\n"
        f"seen = {{}}\nfor path in {targets!r}:\n"
        "    try:\n        seen[path] = open(path).read()\n"
        "    except OSError as exc:\n        seen[path] = type(exc).__name__\n" + RESULT
    )
    seen = output(run(cell, name="masks", network=True))
    assert (platform / "token").exists() and len(seen) == len(targets)
    leaked = {path: text for path, text in seen.items() if "SECRET" in text or len(text) > 40}
    assert leaked == {}


def test_a_data_channel_inside_the_platform_home_is_refused(home: Path) -> None:
    (home / "jobs").mkdir(exist_ok=True)
    for inside in (home / "token", home / "jobs", home):
        if not inside.exists():
            state.token(home)
        with pytest.raises(UsageError, match=r"inside the platform's home .* copy the data"):
            run("x = 1\n", name="steal", data={"train": inside})
