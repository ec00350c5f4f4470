"""The bundled sample books shipped inside the package."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pymupdf

BUNDLE = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"


def test_bundle_is_small_complete_and_consistent() -> None:
    gt = json.loads((BUNDLE / "ground_truth.json").read_text(encoding="utf-8"))
    assert (BUNDLE / "README.md").read_text(encoding="utf-8").count("CC0") >= 1
    assert {d["variant"] for d in gt} == {"born-digital", "scanned"}
    assert {d["lang"] for d in gt} == {"English", "Chinese", "mixed"}  # mixed: the pdfTeX thesis (es/pt/fr)
    total = sum(p.stat().st_size for p in BUNDLE.iterdir() if p.is_file())
    assert total < 8_000_000
    for d in gt:
        data = (BUNDLE / d["id"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == d["sha256"], d["id"]
        pdf = pymupdf.open("pdf", data)
        assert pdf.page_count == d["pages"]
        assert 12 <= len(d["figures"]) <= 24
