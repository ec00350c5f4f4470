"""Scale-out: the real pipeline run by the Ray executor against a local Ray instance writes exactly what the
local executor writes; a Ray worker that dies costs only its own book."""

from __future__ import annotations

import os
import sys

import pytest
import ray

from mmretinal_builder import stage as stage_mod
from mmretinal_builder.recipe import recipe_from_dict
from mmretinal_builder.runner import Runner

from .helpers import recipe, snapshot
from .test_worker_crash import STAGES, make_books


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray instance for the module (the executor joins it instead of starting its own)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=80 << 20,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
    yield
    ray.shutdown()


def test_ray_executor_builds_what_the_local_executor_builds(small_books, small_reference, tmp_path, local_ray):
    ref, _ = small_reference
    run = tmp_path / "run"
    res = Runner(recipe(base=tmp_path), run, workers=2, executor="ray", show_progress=False).build([small_books])
    assert not res.failed and len(res.books) == 3
    assert snapshot(run) == ref


def test_a_dead_ray_worker_costs_only_its_book(tmp_path, local_ray, monkeypatch):
    for name, target in STAGES.items():
        monkeypatch.setitem(stage_mod.STAGES, name, target)
    good = ["a.pdf", "b.pdf"]
    books = make_books(tmp_path / "books", [*good, "crash_me.pdf"])
    rec = recipe_from_dict({"stages": ["fake_pages", "kill_self", "fake_count_all"]})
    res = Runner(rec, tmp_path / "run", workers=2, executor="ray", show_progress=False).build([books])
    assert res.books == good
    assert [(e["book"], e["stage"]) for e in res.failed] == [("crash_me.pdf", "worker")]
    assert "Ray task died" in res.failed[0]["error"]
