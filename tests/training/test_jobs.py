"""Training jobs on the local platform, end to end through the Python API."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
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


def run(source: str, namespace: dict[str, Any] | None = None, **kwargs: Any) -> jsml.Job:
    kwargs.setdefault("name", "t")
    return jsml.train(source, namespace=namespace or {}, **kwargs)


def output(job: jsml.Job, name: str = "result.json") -> Any:
    return json.loads((Path(job.record["job_dir"]) / "ml" / "output" / "data" / name).read_text())


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_train_end_to_end(home: Path, cancer_csv: Path) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    ns = {
        "pd": pd,
        "LogisticRegression": LogisticRegression,
        "FEATURES": ["mean radius", "mean texture"],
        "__name__": "__main__",
    }
    cell = (
        "df = pd.read_csv(channel('train'))\n"
        "model = LogisticRegression(C=hp.C, max_iter=500).fit(df[FEATURES], df.target)\n"
        "log_metric('accuracy', model.score(df[FEATURES], df.target))\n"
        "print('rows', len(df))\n"
    )
    job = run(cell, ns, name="cancer", data={"train": cancer_csv}, hp={"C": 0.5})
    assert job.status == "Completed"
    assert 0.8 < job.metrics["accuracy"] <= 1.0
    assert "rows 569" in job.logs()
    model = job.model()
    assert isinstance(model, LogisticRegression) and model.C == 0.5
    assert job.record["model"]["version"] == job.model_version
    assert jsml.model(f"cancer:{job.model_version}").flavor == "sklearn"
    again = run(cell, ns, name="cancer", data={"train": cancer_csv}, hp={"C": 0.1})
    assert again.id != job.id and again.model_version == job.model_version + 1
    assert again.model().C == 0.1 and job.model().C == 0.5  # never an overwrite
    assert [m.version for m in jsml.models("cancer")][-2:] == [
        job.model_version,
        again.model_version,
    ]
    assert again.bundle.hash == job.bundle.hash  # hyperparameters are not part of the bundle


def test_function_jobs_return_the_model(home: Path) -> None:
    def fit() -> dict[str, float]:
        log_metric("score", hp.k)  # noqa: F821 - provided inside the job
        log_metric("score", hp.k * 2, step=2)  # noqa: F821
        return {"k": hp.k}  # noqa: F821

    job = jsml.train(fit, hp={"k": 3})
    assert job.name == "fit" and job.metrics == {"score": 6.0}
    history = job.metric_history()
    assert [(m["name"], m["value"], m["step"]) for m in history] == [
        ("score", 3.0, None),
        ("score", 6.0, 2),
    ]
    listed = jsml.jobs(name="fit")[0]  # a listing's record has no model: fetched on demand
    assert listed.model() == {"k": 3} and listed.model_version == job.model_version
    assert job.model() == {"k": 3}


def test_a_failing_cell_raises_with_reason_and_log_tail(home: Path) -> None:
    with pytest.raises(JobFailed) as err:
        run("print('loading data')\nx = {}\nx['missing']\n", name="broken")
    failure = err.value
    assert failure.status == "Failed"
    assert failure.reason.startswith("KeyError: 'missing'")
    assert 'jsml_cell.py", line 3' in failure.reason
    assert "loading data" in failure.log_tail
    assert "Traceback" not in failure.log_tail  # the reason is not repeated as log lines
    assert str(failure).count("Traceback (most recent call last)") == 1
    job = jsml.job(failure.job_id)
    assert job.status == "Failed" and job.failure_reason == failure.reason
    failure_file = Path(job.record["job_dir"]) / "ml" / "output" / "failure"
    assert failure_file.read_text().startswith("KeyError: 'missing'")


def test_reading_notebook_files_directly_gets_a_hint(home: Path) -> None:
    with pytest.raises(JobFailed) as err:
        run("import pandas as pd\ndf = pd.read_csv('data/train.csv')\n", name="direct")
    assert "hint: the job runs in" in err.value.reason
    assert "add --data NAME=data/train.csv and read channel('NAME')" in err.value.reason


def test_bad_input_submits_nothing(home: Path, tmp_path: Path) -> None:
    before = len(jsml.jobs(limit=1000))
    cases = [
        (dict(data={"train": tmp_path / "nope.csv"}), "does not exist"),
        (dict(backend="mainframe"), "unknown backend 'mainframe'; available backends: local"),
        (dict(backend="nosuchcloud"), "unknown backend 'nosuchcloud'"),
        (dict(env="conda"), "--env must be one of kernel, isolated"),
        (dict(instance_type="ml.m5.larg"), "did you mean ml.m5.large"),
        (dict(name="bad name"), "invalid name"),
        (dict(memory="lots"), "cannot read memory size"),
    ]
    for kwargs, message in cases:
        with pytest.raises(UsageError, match=message):
            run("x = 1\n", **kwargs)
    with pytest.raises(UsageError, match=r"channel\('test'\)"):
        run("open(channel('test'))\n", data={"train": tmp_path})
    assert len(jsml.jobs(limit=1000)) == before


def test_max_runtime_stops_the_job(home: Path) -> None:
    started = time.monotonic()
    with pytest.raises(JobFailed, match=r"exceeded --max-runtime 1.0s \(MaxRuntimeExceeded\)"):
        run("import time\ntime.sleep(60)\n", name="slow", max_runtime="1s")
    assert time.monotonic() - started < 20


def test_memory_limit_kills_the_job(home: Path) -> None:
    with pytest.raises(JobFailed, match=r"exceeded --memory 150M per instance \(reached"):
        run(
            "blocks = []\nfor _ in range(40):\n    blocks.append(b'x' * (20 * 1024 * 1024))\n",
            name="hog",
            memory="150M",
        )


def test_retries_rerun_a_failed_job(home: Path) -> None:
    job = run(
        "import os\nif os.environ['JSML_ATTEMPT'] == '1':\n    raise RuntimeError('flaky')\n"
        "model = {'attempt': int(os.environ['JSML_ATTEMPT'])}\n",
        name="flaky",
        retries=1,
    )
    assert job.status == "Completed" and job.record["attempt"] == 2
    assert job.model() == {"attempt": 2}
    assert "retrying (attempt 2 of 2)" in job.logs()
    assert [e["status"] for e in job.record["events"]].count("Pending") == 2


def test_stop_ends_a_running_job(home: Path) -> None:
    job = run(
        "import time\nprint('started', flush=True)\ntime.sleep(60)\n", name="stoppable", wait=False
    )
    wait_for(lambda: "started" in job.logs())
    job.stop()
    job.wait(timeout=30, raise_on_failure=False)
    assert job.status == "Stopped" and job.failure_reason == "stopped on request"
    assert jsml.stop(job.id).status == "Stopped"  # stopping again is harmless


def test_interrupting_the_wait_stops_the_job(home: Path) -> None:
    def interrupt_once_running() -> None:
        wait_for(lambda: [j for j in jsml.jobs(name="interrupted") if j.status == "Running"])
        os.kill(os.getpid(), signal.SIGINT)

    # Ctrl-C as a kernel gets it: an earlier test's library (a server run in this process) may
    # have left another SIGINT handler installed, under which the interrupt never arrives
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=interrupt_once_running, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run("import time\ntime.sleep(60)\n", name="interrupted")
    finally:
        signal.signal(signal.SIGINT, previous)
    job = jsml.job("interrupted")
    job.wait(timeout=30, raise_on_failure=False)
    assert job.status == "Stopped"


def test_a_killed_supervisor_makes_the_job_lost(home: Path) -> None:
    job = run("import time\nprint('up', flush=True)\ntime.sleep(60)\n", name="lost", wait=False)
    wait_for(lambda: "up" in job.logs())
    os.kill(job.refresh().record["supervisor_pid"], signal.SIGKILL)
    with pytest.raises(JobFailed, match="lost: the job's supervisor"):
        job.wait(timeout=30)


def test_the_job_survives_a_daemon_kill(home: Path) -> None:
    job = run(
        "import time\nlog_metric('before', 1)\nprint('waiting', flush=True)\ntime.sleep(2)\n"
        "log_metric('after', 2)\nmodel = {'survived': True}\n",
        name="survivor",
        wait=False,
    )
    wait_for(lambda: "waiting" in job.logs())
    daemon_pid = state.read_state(home)["pid"]
    supervisor = job.refresh().record["supervisor_pid"]
    os.kill(daemon_pid, signal.SIGKILL)
    wait_for(lambda: not procs.is_alive(daemon_pid))
    assert procs.is_alive(supervisor)
    wait_for(lambda: (Path(job.record["job_dir"]) / "result.json").exists())  # finished meanwhile
    restarted = client.ensure_running(home)
    assert restarted.pid != daemon_pid
    job.wait(timeout=30)
    assert job.status == "Completed"
    assert job.metrics == {"before": 1.0, "after": 2.0}
    assert job.model() == {"survived": True}


def test_a_waiting_kernel_rides_out_a_daemon_kill(home: Path) -> None:
    killed: list[int] = []

    def kill_daemon_once_running() -> None:
        wait_for(lambda: [j for j in jsml.jobs(name="patient") if j.status == "Running"])
        time.sleep(0.3)
        killed.append(state.read_state(home)["pid"])
        os.kill(killed[0], signal.SIGKILL)

    threading.Thread(target=kill_daemon_once_running, daemon=True).start()
    lines: list[str] = []
    job = run(
        "import time\ntime.sleep(2)\nlog_metric('done', 1)\nmodel = 'patient'\n",
        name="patient",
        progress=jsml.Progress(lines.append),
    )
    assert killed and state.read_state(home)["pid"] != killed[0]
    assert job.status == "Completed" and job.model() == "patient"
    assert "".join(lines).count(": Completed") == 1


@needs_sandbox
def test_the_sandbox_isolates_the_job(home: Path) -> None:
    port = client.ensure_running(home).port
    cell = f"""
import json, os, socket
result = {{"pid": os.getpid()}}
try:
    open({str(Path.home() / "jsml-escape-test")!r}, "w")
    result["wrote_outside"] = True
except OSError as exc:
    result["wrote_outside"] = False
open("/tmp/private", "w").write("x")
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    result["network"] = True
except OSError:
    result["network"] = False
open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "result.json"), "w").write(json.dumps(result))
"""
    closed = run(cell, name="sandboxed")
    result = output(closed)
    assert result["wrote_outside"] is False and not (Path.home() / "jsml-escape-test").exists()
    assert result["network"] is False and result["pid"] < 10
    assert "sandbox: bubblewrap" in closed.logs()
    opened = run(cell, name="networked", network=True)
    assert output(opened)["network"] is True


@needs_sandbox
def test_jobs_cannot_read_the_platform_token_or_credentials(
    private_home: Callable[..., Path],
) -> None:
    from jupyter_serverless_ml.platform.jobs.sandbox import masked_paths

    home = private_home("masked", parent=Path("/var/tmp"))  # not hidden by the private /tmp
    cell = (
        "import json, os, sys\n"
        f"home = {str(home)!r}\n"
        "seen = {'listing': sorted(os.listdir(home)), 'python': sys.executable}\n"
        "try:\n    seen['token'] = open(home + '/token').read()\n"
        "except OSError as exc:\n    seen['token'] = type(exc).__name__\n"
        "open(os.environ['SM_OUTPUT_DATA_DIR'] + '/result.json', 'w').write(json.dumps(seen))\n"
    )
    job = run(cell, name="masked", env="isolated", network=True)
    seen = output(job)
    assert (home / "token").exists() and seen["token"] == "FileNotFoundError"
    assert seen["listing"] == ["envs"]  # only the job's own environment is bound back
    assert seen["python"].startswith(str(home / "envs"))
    assert Path("/home/u/.aws") in masked_paths(home, Path("/home/u"))


def test_the_container_contract(home: Path, cancer_csv: Path, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.csv").write_text("x\n1\n")
    cell = """
import json, os
keys = ["SM_MODEL_DIR", "AIP_MODEL_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_EXTRA", "SM_NUM_GPUS",
        "SM_NUM_CPUS", "SM_HOSTS", "SM_CURRENT_HOST", "SM_HPS", "SM_HP_C", "WORLD_SIZE", "RANK"]
result = {k: os.environ.get(k) for k in keys}
result["train"] = channel("train")
result["extra"] = sorted(os.listdir(channel("extra")))
result["hpjson"] = json.load(open(os.environ["SM_INPUT_CONFIG_DIR"] + "/hyperparameters.json"))
result["cwd"] = os.getcwd()
open(os.environ["SM_OUTPUT_DATA_DIR"] + "/result.json", "w").write(json.dumps(result))
"""
    job = run(
        cell,
        name="contract",
        data={"train": cancer_csv, "extra": shards},
        hp={"C": 0.5, "kind": "l2"},
        instance_type="ml.g5.xlarge",
    )
    r = output(job)
    root = "/opt/ml" if SANDBOXED else str(Path(job.record["job_dir"]) / "ml")
    assert r["SM_MODEL_DIR"] == f"{root}/model" and r["AIP_MODEL_DIR"] == f"{root}/model/"
    assert r["SM_CHANNEL_TRAIN"] == f"{root}/input/data/train"
    assert r["train"] == f"{root}/input/data/train/{cancer_csv.name}"
    assert r["extra"] == ["a.csv"]
    assert r["SM_NUM_GPUS"] == "1" and json.loads(r["SM_HOSTS"]) == ["algo-1"]
    assert json.loads(r["SM_HPS"]) == {"C": 0.5, "kind": "l2"} and r["SM_HP_C"] == "0.5"
    assert r["hpjson"] == {"C": "0.5", "kind": "l2"}
    assert r["WORLD_SIZE"] == "1" and r["RANK"] == "0" and r["cwd"] == f"{root}/code"


def test_multi_instance_ranks_rendezvous(home: Path) -> None:
    cell = """
import os, socket, time
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
if rank == 0:
    server = socket.create_server((addr, port))
    hellos = sorted(server.accept()[0].recv(100).decode() for _ in range(world - 1))
    log_metric("peers", len(hellos))
    model = {"hellos": hellos, "host": os.environ["SM_CURRENT_HOST"]}
else:
    for _ in range(100):
        try:
            sock = socket.create_connection((addr, port))
            break
        except OSError:
            time.sleep(0.05)
    sock.sendall(os.environ["SM_CURRENT_HOST"].encode())
print("rank", rank, "of", world, flush=True)
"""
    job = run(cell, name="ranks", instance_count=3)
    assert job.model() == {"hellos": ["algo-2", "algo-3"], "host": "algo-1"}
    assert job.metrics == {"peers": 2.0}
    log = job.logs()
    assert all(f"[algo-{i + 1}] rank {i} of 3" in log for i in range(3))


def test_entry_point_script_runs_unchanged(home: Path, cancer_csv: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(
        "import argparse, os, joblib\nimport pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from features import COLUMNS\n"
        "p = argparse.ArgumentParser()\np.add_argument('-C', type=float, default=1.0)\n"
        "a, _ = p.parse_known_args()\n"
        "d = os.environ['SM_CHANNEL_TRAIN']\n"
        "df = pd.read_csv(os.path.join(d, os.listdir(d)[0]))\n"
        "m = LogisticRegression(C=a.C, max_iter=500).fit(df[COLUMNS], df.target)\n"
        "joblib.dump(m, os.path.join(os.environ['SM_MODEL_DIR'], 'model.joblib'))\n"
    )
    (src / "features.py").write_text("COLUMNS = ['mean radius']\n")
    job = jsml.train(
        entry_point="train.py",
        source_dir=src,
        data={"train": cancer_csv},
        hp={"C": 0.25},
        name="script",
    )
    assert job.status == "Completed"
    assert job.model().C == 0.25
    assert job.record["model"]["flavor"] == "files"


def test_isolated_environment_is_built_once_per_requirements(home: Path) -> None:
    cell = "import sys, json\nmodel = {'python': sys.executable}\n"
    first = run(cell, name="iso", env="isolated")
    python = first.model()["python"]
    assert python.startswith(str(home / "envs")), python
    second = run(cell + "x = 2\n", name="iso", env="isolated")
    assert second.model()["python"] == python
    assert "isolated environment reused" in second.logs()
    assert "isolated environment built" in first.logs()


def test_logs_follow_prints_until_the_end(home: Path) -> None:
    job = run(
        "import time\nfor i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.2)\n",
        name="ticker",
        wait=False,
    )
    lines: list[str] = []
    jsml.follow_logs(job.id, progress=jsml.Progress(lines.append))
    text = "".join(lines)
    assert all(f"tick {i}" in text for i in range(3)) and "Completed" in text


def test_plain_process_fallback_says_so(private_home: Callable[..., Path]) -> None:
    private_home(JSML_SANDBOX="off")
    job = run("import os\nmodel = os.environ['SM_MODEL_DIR']\n", name="plain")
    assert "no sandbox (JSML_SANDBOX=off): running as a plain process" in job.logs()
    assert job.model() == str(Path(job.record["job_dir"]) / "ml" / "model")


def test_a_full_disk_is_a_clear_error_and_loses_nothing(
    private_home: Callable[..., Path],
) -> None:
    import subprocess

    from conftest import stop_everything

    from jupyter_serverless_ml.errors import ConfigError

    home = private_home("small")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(home)]).returncode:
        pytest.skip("cannot mount a small file system here")
    try:
        kept = run("model = 'small'\n", name="fits")
        with pytest.raises(ConfigError, match=r"could not write the bundle under .*No space left"):
            run("n = len(blob)\n", {"blob": os.urandom(4 * 1024 * 1024)}, name="toobig")
        assert not list((home / "artifacts" / "bundles").glob(".build-*"))  # space given back
        assert [j.name for j in jsml.jobs()] == ["fits"]  # nothing submitted
        assert run("model = 'after'\n", name="fits").model() == "after"
        assert kept.model() == "small"
    finally:
        stop_everything(home)
        subprocess.run(["umount", "-l", str(home)])


def test_jobs_queue_beyond_capacity(private_home: Callable[..., Path]) -> None:
    private_home(JSML_MAX_CONCURRENT_JOBS="1")
    first = run(
        "import time\nprint('first', flush=True)\ntime.sleep(1.5)\n", name="first", wait=False
    )
    second = run("model = 'second'\n", name="second", wait=False)
    wait_for(lambda: "first" in first.logs())
    assert second.refresh().record["status"] == "Pending"
    assert second.record["events"][-1]["message"].startswith("queued: 1 job(s) running")
    lines: list[str] = []
    second.wait(timeout=60, progress=jsml.Progress(lines.append))
    assert "second-" in lines[0] and ": Pending (queued: 1 job(s) running" in lines[0]
    first.refresh()
    assert first.status == "Completed" and second.model() == "second"
    assert second.record["started_at"] >= first.record["ended_at"]
    third = run("import time\ntime.sleep(30)\n", name="third", wait=False)
    queued = run("model = 1\n", name="fourth", wait=False)
    assert jsml.stop(queued.id).status == "Stopped"  # a queued job stops at once
    third.stop()


def test_a_required_sandbox_that_does_not_work_refuses_jobs(
    private_home: Callable[..., Path], tmp_path: Path
) -> None:
    private_home(JSML_SANDBOX="require", PATH=str(tmp_path / "empty-bin"))  # no bwrap to find
    with pytest.raises(UsageError, match=r"JSML_SANDBOX=require but no sandbox works here"):
        run("x = 1\n", name="strict")
    assert len(jsml.jobs()) == 0


def test_a_pytorch_model_trained_in_a_job(home: Path) -> None:
    torch = pytest.importorskip("torch")
    cell = (
        "import torch\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Linear(2, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "x = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]); y = x.sum(1, keepdim=True)\n"
        "for step in range(200):\n"
        "    opt.zero_grad(); loss = ((model(x) - y) ** 2).mean(); loss.backward(); opt.step()\n"
        "log_metric('loss', loss.item(), step=step)\n"
    )
    job = run(cell, name="torchy")
    assert job.record["model"]["flavor"] == "pytorch"
    assert job.metrics["loss"] < 0.01
    prediction = job.model()(torch.tensor([[2.0, 3.0]])).item()
    assert abs(prediction - 5.0) < 0.3
