"""A trailing ``# comment`` on a magic line is a comment, as the README's examples write them."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_serverless_ml.frontends.magic_line import split, strip_comment
from jupyter_serverless_ml.training import Job


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("cancer --max-replicas 4     # waits until it serves", ["cancer", "--max-replicas", "4"]),
        ("# only a comment", []),
        ("s3://b/k#frag --tag a#b", ["s3://b/k#frag", "--tag", "a#b"]),
        ("--require 'note # kept' # dropped", ["--require", "note # kept"]),
        ('--x "a \\" # still quoted" # gone', ["--x", 'a " # still quoted']),
        ("plain", ["plain"]),
    ],
)
def test_comment_is_cut_where_a_shell_would(line: str, words: list[str]) -> None:
    assert split(line) == words


def test_line_without_comment_is_unchanged() -> None:
    line = "--name a#b --data train=/d/x.csv"
    assert strip_comment(line) == line


def test_commented_magic_lines_run_in_a_real_shell(ipython: Any) -> None:
    result = ipython.run_cell(
        "%%train --name commented --hp C=2  # a note for readers\nprint(hp.C)\n"
    )
    assert result.error_in_exec is None and result.error_before_exec is None
    job = result.result
    assert isinstance(job, Job) and job.status == "Completed"
    assert job.hyperparameters["C"] in (2, "2")
    shown = ipython.run_cell(f"j = %job {job.id}   # show it")
    assert shown.error_in_exec is None and ipython.user_ns["j"].id == job.id
    bad = ipython.run_cell("%job   # no job named")
    assert bad.error_in_exec is not None  # the comment is not taken for a job name
