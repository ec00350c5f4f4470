"""Sub-caption splitting: panel names in many styles, false names rejected, offsets into the caption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmretinal_builder.panels.assign import assign_subcaptions
from mmretinal_builder.panels.subcaptions import body_start, find_mentions, split_subcaptions

DATA = Path(__file__).resolve().parents[1] / "data"


def segs(text: str) -> dict[tuple[str, ...], list[str]]:
    r = split_subcaptions(text)
    return {s.labels: [text[a:b] for a, b in s.spans] for s in r.segments}


def shared(text: str) -> list[str]:
    r = split_subcaptions(text)
    return [text[a:b] for a, b in r.shared]


def _palm_captions() -> list[str]:
    gt = json.loads((DATA / "palm" / "palm_scidata2024.gt.json").read_text(encoding="utf-8"))[0]
    return [f["caption"] for f in gt["figures"]]


def test_palm_fig1_leading_labels_with_shared_preamble_and_closing_sentence() -> None:
    cap = _palm_captions()[0]
    out = segs(cap)
    assert list(out) == [("a",), ("b",), ("c",), ("d",), ("e",), ("f",)]
    assert out[("a",)] == ["Peripapillary atrophies, which occur at the proximity of the optic disc"]
    assert shared(cap) == ["Examples of retinal lesions commonly observed in PM cases:"[:-1],
                           "All images corresponds to training samples from PALM."]


def test_palm_fig3_trailing_labels() -> None:
    cap = _palm_captions()[2]
    r = split_subcaptions(cap)
    assert r.mode == "trailing"
    out = segs(cap)
    assert out[("c",)] == ["epiretinal membrane"]
    assert out[("d",)] == ["diabetic retinopathy"]
    assert shared(cap)[0] == "Examples of color fundus images from PALM corresponding to the non-PM category."


def test_palm_fig4_grouped_and_hierarchical_labels() -> None:
    out = segs(_palm_captions()[3])
    assert out[("a",)] == ["a no-PM sample"]
    assert out[("a1", "b1")] == ["original input images"]
    assert out[("a2", "b2")] == ["manual annotations."]


@pytest.mark.parametrize("text,expected", [
    ("Figure 3-2 A, Fundus photograph showing drusen. B, Fluorescein angiogram, late phase. C and D, OCT scans.",
     {("A",): ["Fundus photograph showing drusen."], ("B",): ["Fluorescein angiogram, late phase."],
      ("C", "D"): ["OCT scans."]}),
    ("Fig. 8 (a-c) Fundus photographs of three patients. (d) OCT of the first patient.",
     {("a", "b", "c"): ["Fundus photographs of three patients."], ("d",): ["OCT of the first patient."]}),
    ("Fig. 12 a) drusen, b) geographic atrophy, e.g. in AMD, c) CNV.",
     {("a",): ["drusen"], ("b",): ["geographic atrophy, e.g. in AMD"], ("c",): ["CNV."]}),
    ("Fig. 13 Drusen in the macula (a, b) and their OCT appearance (c-e).",
     {("a", "b"): ["Drusen in the macula"], ("c", "d", "e"): ["their OCT appearance"]}),
    ("Fig. 7 Left: colour fundus photograph. Right: late-phase FFA showing leakage.",
     {("left",): ["colour fundus photograph."], ("right",): ["late-phase FFA showing leakage."]}),
    ("Fig. 6 Fundus photograph (left) and FFA (right) of a patient with CRVO.",
     {("left",): ["Fundus photograph"], ("right",): ["FFA"]}),
    ("Fig. 11 Top row: fundus photographs. Bottom row: FFA.",
     {("top",): ["fundus photographs."], ("bottom",): ["FFA."]}),
    ("图3-12 A．眼底彩照，可见黄斑出血；B．FFA早期；C．OCT。",
     {("A",): ["眼底彩照，可见黄斑出血"], ("B",): ["FFA早期"], ("C",): ["OCT。"]}),
    ("图2 左图为眼底彩照，右图为FFA。", {("left",): ["眼底彩照"], ("right",): ["FFA。"]}),
    ("图 4-1 （A）眼底彩照；（B、C）FFA早期及晚期。", {("A",): ["眼底彩照"], ("B", "C"): ["FFA早期及晚期。"]}),
    ("Fig. 9 a Colour fundus photo of the left eye. b Red-free image.",
     {("a",): ["Colour fundus photo of the left eye."], ("b",): ["Red-free image."]}),
    ("Fig. 2 Patient with CSC. (A and B) Fundus photographs of both eyes. (C) OCT.",
     {("A", "B"): ["Fundus photographs of both eyes."], ("C",): ["OCT."]}),
])
def test_panel_name_styles(text: str, expected: dict) -> None:
    assert segs(text) == expected


@pytest.mark.parametrize("text,reason", [
    ("Fig. 5 A 45-year-old woman with central serous chorioretinopathy.", None),
    ("Fig. 5 A fundus photograph of a patient with drusen.", "lone-bare-label"),
    ("Fig. 2 Fundus photograph (a) of the right eye.", "single-label"),
    ("Fig. 3 Choroidal vessels seen in vitamin (A) deficiency, (a) early and (b) late.", "other-case"),
    ("Fig. 4 Drusen (a), haemorrhage (b), and (x) unrelated.", "out-of-sequence"),
    ("Fig. 4 The right eye and the left eye of the patient.", None),
])
def test_false_panel_names_are_rejected(text: str, reason: str | None) -> None:
    r = split_subcaptions(text)
    if reason is None:
        assert r.rejected == [] and r.mentions == []
    else:
        assert reason in {why for _, why in r.rejected}
    assert len({lab for s in r.segments for lab in s.labels}) != 1


def test_article_a_is_not_a_panel_name() -> None:
    r = split_subcaptions("Fig. 5 A fundus photograph showing drusen (a) and OCT (b).")
    assert [s.labels for s in r.segments] == [("a",), ("b",)]
    assert r.shared == []
    assert "A fundus photograph showing drusen" in [r.text[a:b] for s in r.segments for a, b in s.spans]


def test_reference_back_to_a_panel_does_not_start_a_segment() -> None:
    text = "Fig. 8 (a) Fundus photograph. (b) OCT of the lesion shown in (a)."
    assert segs(text)[("b",)] == ["OCT of the lesion shown in (a)."]


def test_caption_without_names_is_all_shared() -> None:
    text = "Fig. 1 Fundus photographs of both eyes."
    r = split_subcaptions(text)
    assert r.segments == [] and [text[a:b] for a, b in r.shared] == ["Fundus photographs of both eyes."]


def test_body_start_skips_the_figure_label() -> None:
    assert body_start("Fig. 3-12 Drusen") == len("Fig. 3-12 ")
    assert body_start("Figure 2.5: Drusen") == len("Figure 2.5: ")
    assert body_start("图 3-12．玻璃膜疣") == len("图 3-12．")
    assert body_start("FIG. 4 Drusen", "FIG. 4") == len("FIG. 4 ")
    assert body_start("Drusen") == 0


def test_span_text_restores_the_punctuation_cut_at_a_name() -> None:
    cap = _palm_captions()[0]
    r = split_subcaptions(cap)
    text = r.span_text(sorted(r.shared + r.segments[0].spans))
    assert text.startswith("Examples of retinal lesions commonly observed in PM cases: Peripapillary atrophies")
    assert text.endswith("optic disc. All images corresponds to training samples from PALM.")


# ------------------------------------------------------------------------------ properties

_TOKENS = st.sampled_from([
    "(a)", "(b)", "(c)", "(d)", "(A)", "(B)", "(a-c)", "(a, b)", "(a and e)", "a)", "b)", "A.", "B.", "C,",
    "A．", "B．", "（A）", "（B、C）", "Left:", "Right:", "(left)", "(right)", "Top row:", "左：", "右图为", "(A2)",
    "(a1)", "(b2)", "a", "A", "the", "fundus", "photograph", "showing", "drusen", "and", "of", ",", ".", ";",
    ":", "Fig.", "1", "3-12", "图", "眼底", "。", "；", "e.g.", "(", ")", " ", "\n", "–",
])
_CAPTIONS = st.lists(_TOKENS, max_size=40).map(" ".join) | st.text(max_size=200)


def _check(text: str) -> None:
    r = split_subcaptions(text)
    n = len(text)
    for a, b in r.shared + [sp for s in r.segments for sp in s.spans]:
        assert 0 <= a < b <= n
    for m in r.mentions:
        assert 0 <= m.start < m.end <= n
    # every candidate name is either taken as a panel name or reported with a reason
    found = {(m.start, m.end) for m in find_mentions(text, r.body_start)}
    taken = {(m.start, m.end) for m in r.mentions}
    rejected = {(m.start, m.end) for m, _ in r.rejected}
    assert found == taken | rejected and not taken & rejected
    # every accepted name has a segment
    assert {lab for m in r.mentions for lab in m.labels} <= {lab for s in r.segments for lab in s.labels}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CAPTIONS)
def test_splitter_never_raises_and_offsets_index_the_text(text: str) -> None:
    _check(text)
    _check("Fig. 2 " + text)


@settings(max_examples=150, deadline=None)
@given(_CAPTIONS, st.integers(min_value=1, max_value=6),
       st.lists(st.sampled_from(["a", "b", "c", "A", "a1", None]), min_size=6, max_size=6))
def test_every_segment_goes_to_a_panel_or_is_reported(text: str, n: int, labels: list) -> None:
    r = split_subcaptions("Fig. 1 " + text)
    boxes = [[i * 10.0, 0.0, i * 10.0 + 9, 9.0] for i in range(n)]
    res = assign_subcaptions(r, labels[:n], [None] * n, boxes)
    assert len(res.panels) == n
    for seg in r.segments:
        if seg in res.unassigned or not seg.spans:
            continue
        assert any(set(map(tuple, p.spans)) >= set(seg.spans) for p in res.panels)
    for i, p in enumerate(res.panels):
        assert (p.caption is None) == (i in res.uncaptioned or not p.spans)
        for a, b in p.spans:
            assert 0 <= a < b <= len(r.text)
