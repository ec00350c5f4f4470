"""``mmretinal build`` with bad PDFs among good ones, ``eval-extraction`` and ``inspect`` through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pymupdf
import pytest
from typer.testing import CliRunner

from mmretinal_builder.cli import app

from .pdfs import A4, caption, picture, save

PALM = Path(__file__).resolve().parents[1] / "data" / "palm" / "palm_scidata2024.pdf"
PALM_GT = PALM.with_suffix(".gt.json")
runner = CliRunner()


def good_book(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_image(pymupdf.Rect(100, 100, 400, 300), stream=picture(300, 200))
    caption(page, 100, 320, "Figure 1.", "A good book's only figure.")
    return save(doc, path)


@pytest.fixture()
def extract_recipe(tmp_path):
    p = tmp_path / "extract.yaml"
    p.write_text("name: extract-only\nstages:\n  - pages\n  - pair\n  - crop\n", encoding="utf-8")
    return p


def test_bad_books_fail_alone(tmp_path, extract_recipe):
    books = tmp_path / "books"
    books.mkdir()
    good = good_book(books / "good.pdf")
    data = good.read_bytes()
    src = pymupdf.open(str(good))
    src.save(str(books / "locked.pdf"), encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    (books / "truncated.pdf").write_bytes(data[: len(data) // 3])
    (books / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    run = tmp_path / "run"
    res = runner.invoke(app, ["build", str(books), "--out", str(run), "--recipe", str(extract_recipe),
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    errors = {e["book"]: e for e in map(json.loads, (run / "errors.jsonl").read_text().splitlines())}
    assert set(errors) == {"locked.pdf", "truncated.pdf", "corrupt.pdf"}
    assert all(e["stage"] == "pages" for e in errors.values())  # the first stage opens the book
    assert "encrypted" in errors["locked.pdf"]["error"]
    assert "truncated" in errors["truncated.pdf"]["error"]
    assert "corrupt or not a PDF" in errors["corrupt.pdf"]["error"]
    figures = [json.loads(line) for line in (run / "figures.jsonl").read_text().splitlines()]
    assert [(f["book"], f["label"]) for f in figures] == [("good.pdf", "Figure 1")]
    stats = json.loads((run / "stats.json").read_text())
    assert (stats["books"]["total"], stats["books"]["ok"], stats["books"]["failed"]) == (4, 1, 3)


def test_eval_extraction_and_inspect_on_palm(tmp_path):
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    shutil.copy(PALM, pdfs / PALM.name)
    run = tmp_path / "run"
    out_json = tmp_path / "eval.json"
    res = runner.invoke(app, ["eval-extraction", "--gt", str(PALM_GT), "--pdfs", str(pdfs), "--out", str(run),
                              "--json-out", str(out_json)])
    assert res.exit_code == 0, res.output
    report = json.loads(out_json.read_text())
    assert report["overall"]["pair"]["f1"] == 1.0 and report["overall"]["counts"]["gt"] == 6
    assert report["documents"][0]["id"] == PALM.name
    # the same run evaluated again from its directory gives the same numbers
    again = tmp_path / "again.json"
    res = runner.invoke(app, ["eval-extraction", "--gt", str(PALM_GT), "--run", str(run), "--json-out", str(again)])
    assert res.exit_code == 0, res.output
    assert json.loads(again.read_text())["overall"] == report["overall"]
    # overlays of the pages that hold figures
    res = runner.invoke(app, ["inspect", str(run), "--pdfs", str(pdfs), "--out", str(tmp_path / "png")])
    assert res.exit_code == 0, res.output
    pngs = sorted(p.name for p in (tmp_path / "png").glob("*.png"))
    assert pngs == [f"{PALM.name}-p{p:04d}.png" for p in (2, 3, 4, 6)]
    res = runner.invoke(app, ["inspect", str(run), "--pdfs", str(pdfs), "--page", "4", "--book", PALM.name,
                              "--out", str(tmp_path / "one")])
    assert res.exit_code == 0 and len(list((tmp_path / "one").glob("*.png"))) == 1


def test_cli_errors_are_clear(tmp_path):
    res = runner.invoke(app, ["eval-extraction", "--gt", str(PALM_GT)])
    assert res.exit_code == 2 and "exactly one of --run" in res.output
    res = runner.invoke(app, ["eval-extraction", "--gt", str(tmp_path / "nope.json"), "--run", str(tmp_path)])
    assert res.exit_code == 2 and "nope.json" in res.output
    res = runner.invoke(app, ["inspect", str(tmp_path)])
    assert res.exit_code == 2 and "no figures.jsonl" in res.output
