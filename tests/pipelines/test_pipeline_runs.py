"""Pipelines on the real local platform: jobs in the sandbox, the store, the cache.

The functions are defined in a notebook-like ``__main__`` namespace (as a notebook's
are), so each step's code is captured into its bundle like a ``%%train`` cell's.
"""

from __future__ import annotations

import linecache
from pathlib import Path
from typing import Any

import pytest

from jupyter_serverless_ml import pipelines
from jupyter_serverless_ml.errors import UsageError
from jupyter_serverless_ml.pipelines import Pipeline, PipelineFailed

NOTEBOOK = '''
import pandas as pd
from sklearn.linear_model import LogisticRegression

FEATURES = ["mean radius", "mean texture"]

def prepare(rows):
    df = pd.read_csv(channel("raw"))
    return df.head(rows)

def fit(df, C):
    return LogisticRegression(C=C, max_iter=500).fit(df[FEATURES], df.target)

def score(model, df):
    return {"accuracy": float(model.score(df[FEATURES], df.target))}

def count_words():
    with open(channel("notes")) as fh:
        return len(fh.read().split())

def summary(words, df):
    return {"words": words, "rows": len(df)}

def flaky():
    import os
    marker = "/opt/ml/attempted"
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return "second attempt"
'''


@pytest.fixture(scope="module")
def notebook() -> dict[str, Any]:
    """The functions as a notebook cell defines them (their source in linecache, as
    IPython keeps it), so they are captured by source."""
    filename = "<ipython-input-pipelines>"
    linecache.cache[filename] = (len(NOTEBOOK), None, NOTEBOOK.splitlines(True), filename)
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(NOTEBOOK, filename, "exec"), ns)
    return ns


def _declare(nb: dict[str, Any], output: Path, csv: Path, notes: Path, threshold: float) -> Pipeline:
    p = Pipeline("cancer", output=output)
    prep = p.function(nb["prepare"], name="prep", data={"raw": csv}, params={"rows": 400})
    model = p.train(nb["fit"], inputs={"df": prep}, params={"C": 0.5})
    ev = p.evaluate(nb["score"], model=model, inputs={"df": prep})
    good = p.condition(ev, "accuracy", ">=", threshold, name="good-enough")
    p.register(model, model_name="cancer-best", when=good, name="reg")
    p.function(nb["summary"], name="tooweak", inputs={"df": prep}, params={"words": 0},
               when=good.otherwise)  # fmt: skip
    words = p.function(nb["count_words"], name="words", data={"notes": notes})
    p.function(nb["summary"], inputs={"words": words, "df": prep})
    return p


def test_rerun_is_cached_and_a_changed_input_reruns_only_downstream(
    home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path
) -> None:
    output = tmp_path / "out"
    notes = tmp_path / "notes.txt"
    notes.write_text("three little words")
    p = _declare(notebook, output, cancer_csv, notes, threshold=0.5)

    first = p.run()
    assert first.status == "Succeeded", first
    status = {s.name: s.status for s in first.steps}
    assert status == {
        "prep": "Succeeded", "fit": "Succeeded", "score": "Succeeded", "good-enough": "Succeeded",
        "reg": "Succeeded", "tooweak": "Skipped", "words": "Succeeded", "summary": "Succeeded",
    }  # fmt: skip
    assert first.record.cache_hits == 0
    assert 0.5 <= first.step("score").metrics["accuracy"] <= 1.0
    assert first.step("good-enough").metadata["result"] is True
    assert first.step("tooweak").failure_reason == "condition good-enough is True"
    assert first.output("summary") == {"words": 3, "rows": 400}
    assert first.step("reg").outputs["model"] == "cancer-best"
    assert first.step("fit").outputs["model"] == "cancer-fit"
    assert first.output("fit").C == 0.5
    edges = {(e["from"], e["to"], e["kind"]) for e in first.record.edges}
    assert ("prep", "fit", "data") in edges and ("good-enough", "reg", "condition") in edges

    second = p.run()
    assert second.status == "Succeeded"
    executed = {"good-enough"}  # a condition is evaluated again, never cached
    for step in second.steps:
        if step.status == "Skipped":
            continue
        if step.name in executed:
            assert not step.cache_hit
            continue
        assert step.cache_hit, step
        assert step.cached_from == first.id
        assert step.job_id == first.step(step.name).job_id  # no new job ran
    assert second.step("reg").outputs["version"] == first.step("reg").outputs["version"]

    notes.write_text("now there are five words")
    third = p.run()
    assert third.status == "Succeeded"
    rerun = {s.name for s in third.steps if s.status == "Succeeded" and not s.cache_hit}
    assert rerun == {"words", "summary", "good-enough"}
    assert third.step("words").job_id != first.step("words").job_id
    assert third.output("summary") == {"words": 5, "rows": 400}
    assert third.step("fit").cached_from == first.id

    uncached = p.run(use_cache=False, wait=False)
    assert uncached.record.use_cache is False
    uncached.stop().wait(raise_on_failure=False, timeout=60)
    assert uncached.status == "Stopped"

    runs = pipelines.pipeline_runs("cancer")
    assert [r.id for r in runs][:4] == [uncached.id, third.id, second.id, first.id]
    stored = {p.name: p for p in pipelines.pipelines()}["cancer"]
    assert {s["name"] for s in stored.steps} >= {"prep", "fit", "reg"}
    assert stored.last_run is not None and stored.last_run["id"] == uncached.id


def test_condition_false_branch_failed_steps_and_retries(
    home: Path, tmp_path: Path, notebook: dict[str, Any], cancer_csv: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("a b")
    p = _declare(notebook, tmp_path / "out", cancer_csv, notes, threshold=1.5)
    run = p.run()
    status = {s.name: s.status for s in run.steps}
    assert status["reg"] == "Skipped" and status["tooweak"] == "Succeeded"

    flaky = Pipeline("flaky", output=tmp_path / "flaky")
    flaky.function(notebook["flaky"], retries=1)
    done = flaky.run()
    assert done.output("flaky") == "second attempt"
    assert done.step("flaky").attempt == 2
    assert "first attempt fails" in done.logs("flaky")

    broken = Pipeline("broken", output=tmp_path / "broken")
    first = broken.function(notebook["flaky"])
    broken.function(notebook["count_words"], after=[first], data={"notes": notes})
    with pytest.raises(PipelineFailed, match="step flaky failed"):
        broken.run()
    failed = pipelines.pipeline_runs("broken")[0]
    assert failed.step("count-words").status == "Skipped"
    assert "first attempt fails" in str(failed.step("flaky").failure_reason)


def test_bad_definitions_are_refused_before_anything_runs(
    home: Path, tmp_path: Path, notebook: dict[str, Any]
) -> None:
    p = Pipeline("bad", output=tmp_path)
    with pytest.raises(UsageError, match="has no parameter nope"):
        p.function(notebook["prepare"], params={"rows": 1, "nope": 2})
    with pytest.raises(UsageError, match="needs rows"):
        p.function(notebook["prepare"])
    step = p.function(notebook["count_words"], data={"notes": tmp_path / "missing.txt"})
    with pytest.raises(UsageError, match="is a function step, not a condition"):
        _ = step.otherwise
    with pytest.raises(UsageError, match="already has a step"):
        p.function(notebook["count_words"])
    inside = Pipeline("inside", output=home / "x")
    inside.function(notebook["count_words"], data={"notes": tmp_path})
    with pytest.raises(UsageError, match="inside the platform's home"):
        inside.run()
    # what a run would fail on halfway is refused before the run (or the pipeline) is stored
    with pytest.raises(UsageError, match=r"step 'count-words': data channel 'notes': .*missing"):
        p.run(wait=False)
    assert "bad" not in [x.name for x in pipelines.pipelines()]
    (tmp_path / "notes.txt").write_text("a b\n")
    named = Pipeline("named", output=tmp_path / "named")
    trained = named.train(notebook["fit"], inputs={"df": named.function(
        notebook["prepare"], params={"rows": 5}, data={"raw": tmp_path / "notes.txt"})},
        params={"C": 1.0})  # fmt: skip
    named.register(trained, model_name="bad name!")
    with pytest.raises(UsageError, match=r"step 'register': model_name= invalid name 'bad name!'"):
        named.run(wait=False)
    budget = Pipeline("budget-neg", output=tmp_path / "neg")
    budget.function(notebook["count_words"], data={"notes": tmp_path / "notes.txt"}, max_cost=-1)
    with pytest.raises(UsageError, match=r"step 'count-words': max_cost: --max-cost must be a"):
        budget.run(wait=False)
    assert not {"named", "budget-neg"} & {x.name for x in pipelines.pipelines()}
