"""Jobs as plain processes (no bubblewrap): each job gets its own copy of the code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import jupyter_serverless_ml as jsml

pytestmark = pytest.mark.timeout(180)


def test_a_job_writing_into_its_cwd_does_not_change_the_cached_bundle(
    private_home: Callable[..., Path],
) -> None:
    private_home("plain", JSML_SANDBOX="off")
    cell = (
        "import os\n"
        "seen = sorted(os.listdir('.'))\n"
        "open('planted.py', 'w').write('EVIL = True\\n')\n"
        "name = next(n for n in sorted(os.listdir('.')) if n.endswith('.py'))\n"
        "with open(name, 'a') as fh:\n    fh.write('# CHANGED' + '!' * 3)\n"
        "model = seen\n"
    )
    first = jsml.train(cell, namespace={}, name="cwd")
    bundle = Path(first.bundle.path) / "code"
    before = {p: p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    assert not any(p.name == "planted.py" for p in before) and all(
        b"CHANGED!!!" not in v for v in before.values()
    )
    second = jsml.train(cell, namespace={}, name="cwd")
    assert second.bundle.hash == first.bundle.hash  # the same cached bundle ...
    assert second.model() == first.model()  # ... which the first job did not change
    assert "planted.py" not in second.model()
    assert {p: p.read_bytes() for p in bundle.rglob("*") if p.is_file()} == before
    code = Path(second.record["job_dir"]) / "ml" / "code"
    assert code.is_dir() and not code.is_symlink()
