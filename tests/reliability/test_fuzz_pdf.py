"""Bounded fuzzing of the PDF ingest: 40 mutants (flipped bytes, truncations, duplicated, deleted, inserted
and zeroed chunks) of generated PDFs go through the whole pipeline in one build, run as its own process. The
build must exit normally, and every mutant must end either as a finished book or as a reported error."""

from __future__ import annotations

import json
import subprocess

from mmretinal_builder.runner import book_key
from mmretinal_builder.samples import hostile

from .helpers import build_cmd, read_jsonl, write_recipe

MUTANTS = 40


def test_mutated_pdfs_never_crash_the_build(small_books, tmp_path):
    sources = {"figs_a.pdf": hostile.good_figure_pdf(0), "figs_b.pdf": hostile.good_figure_pdf(1),
               "margin.pdf": (small_books / "fundus_atlas_en_margin.pdf").read_bytes()}
    books = tmp_path / "mutants"
    books.mkdir()
    names = []
    for name, data in hostile.mutants(sources, MUTANTS, seed=1).items():
        (books / name).write_bytes(data)
        names.append(name)
    run = tmp_path / "run"
    res = subprocess.run(build_cmd([books], run, write_recipe(tmp_path / "recipe.yaml")), capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, f"the build process failed (rc {res.returncode}): {res.stderr[-3000:]}"
    assert "Traceback" not in res.stderr
    stats = json.loads((run / "stats.json").read_text())
    errors = {e["book"]: e for e in read_jsonl(run / "errors.jsonl") if e["level"] == "error"}
    finished = {r["book"] for r in stats["per_book"]}
    assert stats["books"]["total"] == MUTANTS
    assert stats["books"]["ok"] + stats["books"]["failed"] == MUTANTS
    assert len(errors) == stats["books"]["failed"]
    for name in names:
        assert (name in errors) != (book_key(name) in finished), f"{name}: neither finished nor reported"
    internal = {k: e["error"] for k, e in errors.items() if e["error"].startswith("internal error")}
    assert not internal, f"crashes inside the pipeline (caught, but bugs): {internal}"
    assert stats["books"]["ok"] > 0 and stats["books"]["failed"] > 0, "the mutants cover both outcomes"
