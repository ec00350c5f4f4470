"""Captions: the ground-truth text equals what a reader extracts; line breaking and caption structure."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from mmretinal_builder.samples.atlas import EN_FIG, ZH_FULLWIDTH
from mmretinal_builder.samples.captions import HEAD_STYLES, compound_caption, single_caption
from mmretinal_builder.samples.text import NBSP, is_cjk, join_lines, split_runs, text_width, wrap
from mmretinal_builder.samples.vocab import DISEASE_BY_KEY

from .conftest import docs_of, page_rect


def _extract(page: pymupdf.Page, frac: list[float]) -> str:
    r = pymupdf.Rect(page_rect(frac, page.rect.width, page.rect.height)) + (-1, -1, 1, 1)
    return join_lines(page.get_text("text", clip=r).split("\n"))


def test_caption_text_equals_extracted_text(sample_set: tuple[Path, list[dict[str, Any]]]) -> None:
    out, _ = sample_set
    n = 0
    for doc in docs_of(sample_set, "born-digital"):
        pdf = pymupdf.open(out / doc["id"])
        for f in doc["figures"]:
            assert _extract(pdf[f["caption_page"] - 1], f["caption_bbox"]) == f["caption"], (doc["id"], f["label"])
            n += 1
        for t in doc["tables"]:
            assert _extract(pdf[t["page"] - 1], t["caption_bbox"]) == t["caption"], (doc["id"], t["label"])
    assert n == 48


def test_chinese_captions_and_references(sample_set: tuple[Path, list[dict[str, Any]]]) -> None:
    out, docs = sample_set
    zh = [d for d in docs if d["lang"] == "Chinese"]
    assert len(zh) == 2
    caps = [f["caption"] for d in zh for f in d["figures"]]
    assert all(re.match(r"^图 \d+-\d+", c) for c in caps)
    assert all(sum(is_cjk(ch) for ch in c) >= 5 for c in caps)
    assert any(re.match(r"^图 \d+-\d+．", c) for c in caps)  # full-width punctuation after the number
    panel_heads = " ".join(p["caption"] for d in zh for f in d["figures"] for p in f.get("panel_boxes", []))
    assert "．" in panel_heads or "（A）" in panel_heads
    born = next(d for d in zh if d["variant"] == "born-digital")
    body = "".join(p.get_text() for p in pymupdf.open(out / born["id"]))
    assert re.search(r"图\d+-\d+", body)  # body text cites 图3-12 without a space: not a caption


def test_body_text_cites_figures_without_being_captions(sample_set: tuple[Path, list[dict[str, Any]]]) -> None:
    out, _ = sample_set
    doc = docs_of(sample_set, "born-digital")[0]
    pdf = pymupdf.open(out / doc["id"])
    caption_starts = {(f["caption_page"], round(f["caption_bbox"][1], 3)) for f in doc["figures"]}
    false_starts = 0
    for pno, page in enumerate(pdf, start=1):
        for b in page.get_text("dict")["blocks"]:
            for line in b.get("lines", []):
                text = "".join(s["text"] for s in line["spans"])
                y = round(line["bbox"][1] / page.rect.height, 3)
                if re.match(r"Fig\. \d+-\d+ shows", text) and (pno, y) not in caption_starts:
                    false_starts += 1
    assert false_starts >= 1


def test_wrap_respects_width_and_rejoins() -> None:
    text = ("Fluorescein angiography demonstrates hyperfluorescent microaneurysms and extensive capillary "
            "non-perfusion, characteristically beyond the vascular arcades.")
    lines = wrap(split_runs(text, "helv"), 90, 8, hyphenate=True)
    assert len(lines) > 3
    assert all(ln.width <= 90 + 1e-6 for ln in lines)
    assert any(ln.text.endswith("-") and re.search(r"[a-z]-$", ln.text) for ln in lines)
    assert join_lines([ln.text for ln in lines]) == text


def test_wrap_keeps_labels_and_chinese_punctuation() -> None:
    runs = split_runs(f"图{NBSP}3-12．非增殖期糖尿病视网膜病变，黄斑区硬性渗出。", "helv")
    assert {f for _, f in runs} == {"helv", "china-s"}
    lines = wrap(runs, 40, 8)
    assert lines[0].text.startswith(f"图{NBSP}3-12")
    assert all(ln.text[0] not in "，。．：；" for ln in lines)
    assert join_lines([ln.text for ln in lines]) == "图 3-12．非增殖期糖尿病视网膜病变，黄斑区硬性渗出。"
    assert text_width("中文", "china-s", 10) == 20


@pytest.mark.parametrize("label_style", [EN_FIG, ZH_FULLWIDTH])
def test_compound_caption_structure(label_style: Any) -> None:
    rng = random.Random(3)
    d = DISEASE_BY_KEY["npdr"]
    for head in HEAD_STYLES[label_style.lang]:
        cap = compound_caption(label_style, "3-12", d, ["CFP", "CFP", "FFA", "OCT"], rng, "multimodal", head)
        assert "".join(t for t, _ in cap.runs("helv", "hebo")) == cap.printed()
        full = cap.text()
        covered = sorted(ch for s in cap.segments for ch in s.letters)
        assert covered == ["a", "b", "c", "d"]
        for letter in "abcd":
            sub = cap.panel_caption(letter)
            assert sub.startswith(label_style.label("3-12"))
            seg = next(s for s in cap.segments if letter in s.letters)
            assert seg.head in sub and seg.head in full
            others = [s for s in cap.segments if letter not in s.letters]
            assert not any(s.body in sub for s in others if s.body not in seg.body)
    single = single_caption(label_style, "2-1", d, "CFP", rng)
    assert single.text().startswith(label_style.label("2-1")) and not single.segments
