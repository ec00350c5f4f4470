"""Sub-captions to panels: by label, by reading order, by position; leftovers reported, never guessed."""

from __future__ import annotations

from mmretinal_builder.panels.assign import assign_subcaptions, leaf_labels
from mmretinal_builder.panels.subcaptions import split_subcaptions

ROW3 = [[0, 0, 10, 10], [12, 0, 22, 10], [24, 0, 34, 10]]
GRID4 = [[0, 0, 10, 10], [12, 0, 22, 10], [0, 12, 10, 22], [12, 12, 22, 22]]
CAP = "Fig. 1 Patient with CSC. (a) Fundus photograph. (b) FFA, early phase. (c) OCT."


def test_by_label_whatever_the_order() -> None:
    sub = split_subcaptions(CAP)
    res = assign_subcaptions(sub, ["c", "a", "b"], ["pdf-text"] * 3, ROW3)
    assert [p.caption for p in res.panels] == ["Patient with CSC. OCT.", "Patient with CSC. Fundus photograph.",
                                               "Patient with CSC. FFA, early phase."]
    assert res.unassigned == [] and res.uncaptioned == []
    spans = res.panels[1].spans
    assert [CAP[a:b] for a, b in spans] == ["Patient with CSC.", "Fundus photograph."]


def test_by_reading_order_when_panels_show_no_letters() -> None:
    res = assign_subcaptions(split_subcaptions(CAP), [None] * 3, [None] * 3, ROW3)
    assert [(p.label, p.label_source) for p in res.panels] == [("a", "order"), ("b", "order"), ("c", "order")]
    # one letter read by OCR that agrees: the others are filled in
    res = assign_subcaptions(split_subcaptions(CAP), [None, "b", None], [None, "ocr", None], ROW3)
    assert [(p.label, p.label_source) for p in res.panels] == [("a", "order"), ("b", "ocr"), ("c", "order")]


def test_count_mismatch_is_reported_not_guessed() -> None:
    res = assign_subcaptions(split_subcaptions(CAP), [None, None], [None, None], ROW3[:2])
    assert [p.caption for p in res.panels] == [None, None]
    assert res.uncaptioned == [0, 1]
    assert [s.labels for s in res.unassigned] == [("a",), ("b",), ("c",)]


def test_missing_letter_in_caption_gap_is_filled() -> None:
    cap = "Fig. 2 (a) Fundus. (b) FFA. (d) OCT."
    assert leaf_labels(split_subcaptions(cap).labels()) == ["a", "b", "c", "d"]
    res = assign_subcaptions(split_subcaptions(cap), [None] * 4, [None] * 4, GRID4)
    assert res.panels[2].caption is None and res.uncaptioned == [2]
    assert res.panels[3].caption == "OCT."


def test_range_and_hierarchical_labels() -> None:
    cap = "Fig. 4 Experts in (a) a no-PM sample, and (b) a PM sample. (a1) and (b1): originals, (a2) and (b2): masks."
    res = assign_subcaptions(split_subcaptions(cap), ["a1", "a2", "b1", "b2"], ["pdf-text"] * 4, GRID4)
    assert [p.caption for p in res.panels] == [
        "Experts in a no-PM sample, originals", "Experts in a no-PM sample, masks.",
        "Experts in a PM sample. originals", "Experts in a PM sample. masks."]
    res = assign_subcaptions(split_subcaptions("Fig. 5 (a-c) Fundus photographs. (d) OCT."), [None] * 4, [None] * 4,
                             GRID4)
    assert [p.caption for p in res.panels] == ["Fundus photographs."] * 3 + ["OCT."]


def test_positions() -> None:
    sub = split_subcaptions("Fig. 7 Left: colour fundus photograph. Right: late-phase FFA.")
    res = assign_subcaptions(sub, [None, None], [None, None], ROW3[:2])
    assert [p.caption for p in res.panels] == ["colour fundus photograph.", "late-phase FFA."]
    sub = split_subcaptions("Fig. 8 Top row: fundus photographs. Bottom row: FFA.")
    res = assign_subcaptions(sub, [None] * 4, [None] * 4, GRID4)
    assert [p.caption for p in res.panels] == ["fundus photographs."] * 2 + ["FFA."] * 2


def test_caption_without_panel_names_is_shared_by_all() -> None:
    res = assign_subcaptions(split_subcaptions("Fig. 3 Both eyes of a diabetic patient."), [None] * 2, [None] * 2,
                             ROW3[:2])
    assert [p.caption for p in res.panels] == ["Both eyes of a diabetic patient."] * 2
    assert res.panels[0].spans == [[7, 39]]
