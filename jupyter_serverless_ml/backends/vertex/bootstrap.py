"""The command a Vertex AI CustomJob runs: the bundle's runner under the Vertex contract.

Sent as ``python -c <this file's source>`` to a prebuilt training container, so it
uses the standard library only. Vertex gives the container ``AIP_MODEL_DIR`` (a
``gs://`` URI under the job's base output directory), ``CLOUD_ML_PROJECT_ID``,
``CLOUD_ML_JOB_ID`` and, with several replicas, ``CLUSTER_SPEC``; and it mounts
Cloud Storage at ``/gcs/BUCKET/...`` (Cloud Storage FUSE). This script:

1. copies the bundle's code and every data channel from ``/gcs`` into a fresh ML root
   (``code/``, ``input/data/<channel>/``, ``input/config/*.json``), the layout the
   runner reads (``JSML_ML_ROOT``);
2. names the hosts from ``CLUSTER_SPEC`` (workerpool0 is ``algo-1``) and sets
   ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` for several replicas;
3. runs ``jsml_runtime.runner`` with the variables Vertex set kept as Vertex set them;
4. copies the saved model to ``AIP_MODEL_DIR`` (replica 0) and the metrics and any
   failure reason to ``JSML_OUTPUT_URI`` (while it runs too, every few seconds).

``JSML_GCS_MOUNT`` moves the Cloud Storage mount (``/gcs`` by default).
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

_KEEP_PREFIXES = ("AIP_", "CLOUD_ML_")
_KEEP = ("CLUSTER_SPEC", "TF_CONFIG")
_WRAPPER = """
import json, os, sys
saved = json.loads(os.environ.pop("JSML_VERTEX_ENV"))
from jsml_runtime import contract, runner
_complete = contract.complete_environment
def _keep_vertex(config):
    _complete(config)
    os.environ.update(saved)
contract.complete_environment = _keep_vertex
sys.exit(runner.main())
"""


def gcs_path(uri: str) -> Path:
    """The Cloud Storage FUSE path of ``gs://bucket/name``."""
    if not uri.startswith("gs://"):
        raise ValueError(f"not a gs:// URI: {uri}")
    return Path(os.environ.get("JSML_GCS_MOUNT") or "/gcs") / uri[len("gs://") :].rstrip("/")


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / source.name)


def hosts_from_cluster(spec: dict) -> tuple:
    """``(hosts, current_host, master address, master port)`` from a CLUSTER_SPEC."""
    cluster = spec.get("cluster") or {}
    pools = sorted(k for k in cluster if k.startswith("workerpool"))
    addresses = [a for pool in pools for a in cluster[pool]]
    if not addresses:
        return ["algo-1"], "algo-1", "127.0.0.1", 0
    task = spec.get("task") or {}
    index = 0
    for pool in pools:
        if pool == task.get("type"):
            index += int(task.get("index") or 0)
            break
        index += len(cluster[pool])
    hosts = [f"algo-{i + 1}" for i in range(len(addresses))]
    master, _, port = addresses[0].rpartition(":")
    return hosts, hosts[index], master, int(port or 0)


def _sync(root: Path, output: Path, model_dir: str, final: bool, rank: int) -> None:
    output.mkdir(parents=True, exist_ok=True)
    suffix = "" if rank == 0 else f".{rank}"
    for name in ("metrics.jsonl", "failure"):
        source = root / "output" / name
        if source.is_file():
            shutil.copy2(source, output / (name + suffix))
    if final and rank == 0 and model_dir and (root / "model").is_dir():
        shutil.copytree(root / "model", gcs_path(model_dir), dirs_exist_ok=True)


def tuned_arguments(argv: list) -> dict:
    """A tuning trial's parameters: Vertex appends ``--NAME=VALUE`` to the container's
    arguments (values JSON where they parse, as every hyperparameter)."""
    found = {}
    for arg in argv:
        name, sep, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if sep and name:
            try:
                found[name] = json.loads(value)
            except ValueError:
                found[name] = value
    return found


def output_uri() -> str:
    """Where metrics and the failure go: a tuning trial's own folder (``<trial>/output``
    beside its ``AIP_MODEL_DIR``), else ``JSML_OUTPUT_URI``."""
    uri = os.environ["JSML_OUTPUT_URI"]
    trial = os.environ.get("CLOUD_ML_TRIAL_ID")
    if trial and trial.isdigit():
        return f"{uri.rstrip('/').rsplit('/', 1)[0]}/{trial}/output"
    return uri


def main() -> int:
    """Stage the bundle, run it, copy back what it made; the runner's exit code."""
    root = Path(tempfile.mkdtemp(prefix="jsml-ml-"))
    output = gcs_path(output_uri())
    vertex = {k: v for k, v in os.environ.items() if k.startswith(_KEEP_PREFIXES) or k in _KEEP}
    hosts, current, master, port = hosts_from_cluster(
        json.loads(os.environ.get("CLUSTER_SPEC") or "{}")
    )
    rank = hosts.index(current)
    try:
        for part in ("model", "output/data", "checkpoints", "input/data"):
            (root / part).mkdir(parents=True, exist_ok=True)
        _copy(gcs_path(os.environ["JSML_BUNDLE_URI"]) / "code", root / "code")
        channels = json.loads(os.environ.get("JSML_CHANNELS") or "{}")
        for name, uri in channels.items():
            _copy(gcs_path(uri), root / "input" / "data" / name)
        sys.path.insert(0, str(root / "code"))
        from jsml_runtime import contract

        hps = json.loads(os.environ.get("JSML_HYPERPARAMETERS") or "{}")
        tuned = tuned_arguments(sys.argv[1:])
        if tuned:  # a tuning trial: the runner reads them with the fixed ones
            hps.update(tuned)
            os.environ["JSML_HYPERPARAMETERS"] = json.dumps(hps)
        instance_type = os.environ.get("JSML_INSTANCE_TYPE") or "local"
        contract.write_config(root, list(channels), hps, hosts, current, instance_type)
    except Exception as exc:  # the bundle or a channel is missing: the job fails saying so
        output.mkdir(parents=True, exist_ok=True)
        (output / "failure").write_text(
            f"the job could not be staged: {type(exc).__name__}: {exc}\n"
        )
        print(f"[jsml] the job could not be staged: {exc}", file=sys.stderr, flush=True)
        return 1
    env = dict(os.environ, JSML_ML_ROOT=str(root), JSML_VERTEX_ENV=json.dumps(vertex))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "code"), env.get("PYTHONPATH")]))
    if len(hosts) > 1:
        env.update(
            RANK=str(rank), WORLD_SIZE=str(len(hosts)), MASTER_ADDR=master, MASTER_PORT=str(port)
        )
    done = threading.Event()
    every = float(os.environ.get("JSML_SYNC_SECONDS") or 5)

    def keep_syncing() -> None:
        while not done.wait(every):
            with contextlib.suppress(OSError):
                _sync(root, output, "", False, rank)

    syncer = threading.Thread(target=keep_syncing, daemon=True)
    syncer.start()
    code = subprocess.call([sys.executable, "-c", _WRAPPER], cwd=root / "code", env=env)
    done.set()
    syncer.join()
    _sync(root, output, os.environ.get("AIP_MODEL_DIR", ""), True, rank)
    return code


if __name__ == "__main__":
    sys.exit(main())
