"""Recipe validation: every mistake is reported as FILE: WHERE: WHAT, with no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmretinal_builder import stage as stage_mod
from mmretinal_builder.errors import RecipeError
from mmretinal_builder.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmretinal_builder.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def fake_stage(monkeypatch):
    monkeypatch.setitem(stage_mod.STAGES, "fake_pages", "tests.foundation.fake_stages:PagesStage")


def test_unknown_top_level_key_cli(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\nworkerz: 2\nstages: [pages, pair, crop]\n")
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n")
    res = run_cli("build", str(tmp_path / "a.pdf"), "--out", str(tmp_path / "run"), "--recipe", str(recipe),
                  cwd=tmp_path)
    assert res.returncode != 0
    assert "workerz" in res.stderr and str(recipe) in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_missing_input_file_cli(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [books/missing.pdf]\nstages: [pages, pair, crop]\n")
    res = run_cli("build", "--out", str(tmp_path / "run"), "--recipe", str(recipe), cwd=tmp_path)
    assert res.returncode != 0
    assert "missing.pdf" in res.stderr and "not found" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_cli_inputs_replace_the_recipe_inputs(tmp_path):
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "A page without figures.")
    doc.save(tmp_path / "given.pdf")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [books/missing.pdf]\nstages: [pages, pair, crop]\n")  # would fail if it were still used
    res = run_cli("build", str(tmp_path / "given.pdf"), "--out", str(tmp_path / "run"), "--recipe", str(recipe),
                  "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "run" / "shards" / "given.pdf").is_dir()
    assert "missing.pdf" not in res.stderr + res.stdout


def test_missing_cli_input(tmp_path):
    res = run_cli("build", str(tmp_path / "nope.pdf"), "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert res.returncode != 0 and "nope.pdf" in res.stderr and "Traceback" not in res.stderr


def test_unknown_stage_param(tmp_path, fake_stage):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stages:\n  - fake_pages: {per_pag: 3}\n")
    with pytest.raises(RecipeError, match=r"stages\[0\] \(fake_pages\): unknown key 'per_pag'"):
        load_recipe(recipe)


def test_wrong_type_and_unknown_stage(tmp_path, fake_stage):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stages:\n  - fake_pages: {per_page: many}\n")
    with pytest.raises(RecipeError, match=r"per_page"):
        load_recipe(recipe)
    recipe.write_text("stages: [fake_pagez]\n")
    with pytest.raises(RecipeError, match="unknown stage 'fake_pagez'"):
        load_recipe(recipe)


def test_invalid_yaml(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stages: [a, b\n")
    with pytest.raises(RecipeError, match="invalid YAML"):
        load_recipe(recipe)


def test_shipped_recipes_validate():
    for path in sorted((REPO / "pipelines").glob("*.yaml")):
        if path.name.startswith("keepfit"):
            continue  # training configs, validated by keepfit's tests
        load_recipe(path)


def test_the_old_extract_stage_says_what_to_write_instead(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stages:\n  - extract: {render_dpi: 300}\n  - panels\n")
    with pytest.raises(RecipeError, match=r"stages\[0\]: the extract stage was split.*`- pages`, `- pair` and "
                                          r"`- crop`.*limits:"):
        load_recipe(recipe)


def test_neighbouring_stages_must_fit(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stages: [pages, crop]\n")
    with pytest.raises(RecipeError, match=r"stages\[1\] \(crop\): takes FigureDraft records but 'pages' gives "
                                          r"PageRecord; put 'pair' before it"):
        load_recipe(recipe)
    recipe.write_text("stages: [pair, crop]\n")
    with pytest.raises(RecipeError, match=r"stages\[0\] \(pair\).*cannot come first"):
        load_recipe(recipe)
    recipe.write_text("stages: [pages, pair, panels]\n")
    with pytest.raises(RecipeError, match="put 'crop' before it"):
        load_recipe(recipe)


def test_limits_are_validated_and_have_defaults(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("limits: {max_pages: 20, book_timeout_s: 60}\nstages: [pages, pair, crop]\n")
    r = load_recipe(recipe)
    assert (r.limits.max_pages, r.limits.book_timeout_s, r.limits.page_timeout_s) == (20, 60, 300)
    assert r.snapshot()["limits"]["book_timeout_s"] == 60
    recipe.write_text("limits: {max_pagez: 20}\nstages: [pages]\n")
    with pytest.raises(RecipeError, match=r"unknown key 'limits.max_pagez'"):
        load_recipe(recipe)
    assert load_recipe(None).limits.book_timeout_s > 0  # a budget by default
