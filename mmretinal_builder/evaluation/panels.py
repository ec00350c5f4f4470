"""Score panels against ground truth: panel counts, panel boxes, labels and sub-caption assignment.

Ground truth is the PALM-format file (a list of documents with ``figures``); generated books add
``kind`` and ``panel_boxes`` ``[{label, bbox (page fractions), caption, modality}]``. Predicted figures
are read from ``RUN_DIR/figures.jsonl`` and matched to ground-truth figures the pdffigures2 way (same
book and page, box IoU >= 0.8).

* panel count: a retinal figure (``retinal == "yes"``) is right when the number of predicted panels
  (1 when ``panels == []``) equals ``panels``; single pictures wrongly split are counted apart.
* panel boxes: each ground-truth panel is matched to the predicted panel of highest IoU (one to one).
* sub-captions: a matched panel's caption is right when, compared as words without the figure label and
  panel names, it is at least 90% similar to its own ground-truth sub-caption and no less similar to
  it than to any other panel's. ``subcaption_accuracy`` counts only figures whose caption the extract
  stage got right (>= 95% similar), so it measures the split and the assignment;
  ``subcaption_accuracy_end_to_end`` counts all.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from .. import geometry
from ..errors import BuilderError
from ..io import read_records
from ..panels.subcaptions import body_start, find_mentions
from ..schema import Figure, Panel

FIGURE_IOU = 0.8
PANEL_IOU = 0.9
CAPTION_SIMILARITY = 0.9


def _load_gt(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuilderError(f"{path}: ground-truth file not found") from None
    except json.JSONDecodeError as e:
        raise BuilderError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None
    if isinstance(data, dict):
        data = data.get("documents", data.get("docs"))
    if not isinstance(data, list) or not all(isinstance(d, dict) and "figures" in d for d in data):
        raise BuilderError(f"{path}: expected a list of documents, each with 'id' and 'figures'")
    return data


def caption_words(text: str | None) -> list[str]:
    """Words of a caption for comparison: no figure label, no panel names, lower case, CJK by character."""
    if not text:
        return []
    start = body_start(text)
    cut = [(m.start, m.end) for m in find_mentions(text, start)]
    kept, pos = [], start
    for s, e in cut:
        kept.append(text[pos:s])
        pos = e
    kept.append(text[pos:])
    out: list[str] = []
    for tok in re.findall(r"[\u4e00-\u9fff]|[^\W_]+", " ".join(kept).lower()):
        out.append(tok)
    return out


def _similar(a: list[str], b: list[str]) -> float:
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _panel_frac(p: Panel, fig: Figure) -> tuple[float, float, float, float]:
    return geometry.to_fractions(p.bbox, fig.page_size)


def _match_panels(gt_boxes: list[list[float]], preds: list[tuple[float, float, float, float]]
                  ) -> dict[int, tuple[int, float]]:
    """GT panel index -> (pred index, IoU), greedy by IoU, one to one."""
    pairs = sorted(((geometry.iou(g, p), gi, pi) for gi, g in enumerate(gt_boxes) for pi, p in enumerate(preds)),
                   reverse=True)
    out: dict[int, tuple[int, float]] = {}
    used: set[int] = set()
    for iou, gi, pi in pairs:
        if iou <= 0 or gi in out or pi in used:
            continue
        out[gi] = (pi, iou)
        used.add(pi)
    return out


def evaluate_panels(gt_path: str | Path, run_dir: str | Path, figures: list[Figure] | None = None) -> dict[str, Any]:
    """Panel metrics of a run against a ground-truth file (see the module docstring). ``figures``: score these
    (e.g. the panels stage's output, before curation dropped panels) instead of ``figures.jsonl``."""
    docs = _load_gt(Path(gt_path))
    if figures is None:
        figures = read_records(Path(run_dir) / "figures.jsonl", Figure)
    by_page: dict[tuple[str, int], list[Figure]] = defaultdict(list)
    for f in figures:
        by_page[(f.book, f.page)].append(f)
    c: Counter = Counter()
    kinds: dict[str, Counter] = defaultdict(Counter)
    failures: list[dict[str, Any]] = []
    for doc in docs:
        book = doc.get("id")
        for g in doc["figures"]:
            if g.get("retinal", "yes") != "yes":
                continue
            kind = g.get("kind") or ("compound" if int(g.get("panels", 1)) > 1 else "single")
            k = kinds[kind]
            c["figures"] += 1
            k["figures"] += 1
            cands = by_page.get((book, int(g["page"])), [])
            scored = [(geometry.iou(geometry.to_fractions(f.bbox, f.page_size), g["bbox"]), f) for f in cands]
            best = max(scored, key=lambda s: s[0], default=(0.0, None))
            n_gt = int(g.get("panels", 1))
            gt_panels = g.get("panel_boxes") or []
            if best[1] is None or best[0] < FIGURE_IOU:
                c["figures_unmatched"] += 1
                c["gt_panels_in_unmatched_figures"] += len(gt_panels)
                failures.append({"book": book, "figure": g.get("label"), "problem": "figure not found"})
                continue
            fig = best[1]
            c["figures_matched"] += 1
            k["figures_matched"] += 1
            n_pred = len(fig.panels) or 1
            right = n_pred == n_gt
            if n_gt > 1:
                c["compound"] += 1
                c["compound_count_right"] += right
            else:
                c["single"] += 1
                c["single_false_split"] += not right
            c["count_right"] += right
            k["count_right"] += right
            if not right:
                failures.append({"book": book, "figure": g.get("label"), "problem": "panel count",
                                 "expected": n_gt, "got": n_pred})
            if not gt_panels:
                continue
            preds = [_panel_frac(p, fig) for p in fig.panels]
            matches = _match_panels([p["bbox"] for p in gt_panels], preds)
            gt_words = [caption_words(p.get("caption")) for p in gt_panels]
            # a caption the extract stage got wrong (another figure's, truncated) is not a splitting error
            caption_ok = _similar(caption_words(fig.caption), caption_words(g.get("caption"))) >= 0.95
            for gi, gp in enumerate(gt_panels):
                c["panels"] += 1
                k["panels"] += 1
                if gi not in matches:
                    failures.append({"book": book, "figure": g.get("label"), "panel": gp.get("label"),
                                     "problem": "panel not found", "expected": gp["bbox"]})
                    continue
                pi, iou = matches[gi]
                c["panels_iou_ok"] += iou >= PANEL_IOU
                k["panels_iou_ok"] += iou >= PANEL_IOU
                if iou < PANEL_IOU:
                    failures.append({"book": book, "figure": g.get("label"), "panel": gp.get("label"),
                                     "problem": "panel box", "iou": round(iou, 3),
                                     "expected": gp["bbox"], "got": [round(v, 4) for v in preds[pi]]})
                pred = fig.panels[pi]
                if gp.get("label"):
                    c["labels"] += 1
                    c["labels_right"] += (pred.label or "").lower() == str(gp["label"]).lower()
                if gp.get("caption"):
                    words = caption_words(pred.caption)
                    own = _similar(words, gt_words[gi])
                    others = [_similar(words, w) for j, w in enumerate(gt_words) if j != gi and w != gt_words[gi]]
                    ok = own >= CAPTION_SIMILARITY and all(own >= o for o in others)
                    c["subcaptions_all"] += 1
                    c["subcaptions_all_right"] += ok
                    if not caption_ok:
                        c["subcaptions_figure_caption_wrong"] += 1
                        continue
                    c["subcaptions"] += 1
                    k["subcaptions"] += 1
                    c["subcaptions_right"] += ok
                    k["subcaptions_right"] += ok
                    if not ok:
                        failures.append({"book": book, "figure": g.get("label"), "panel": gp.get("label"),
                                         "problem": "sub-caption", "expected": gp["caption"], "got": pred.caption})

    def rate(num: str, den: str, counter: Counter = c) -> float | None:
        return round(counter[num] / counter[den], 4) if counter[den] else None

    return {
        "figures": c["figures"],
        "figures_matched": c["figures_matched"],
        "panel_count_accuracy": rate("count_right", "figures_matched"),
        "compound_count_accuracy": rate("compound_count_right", "compound"),
        "single_false_splits": c["single_false_split"],
        "single_figures": c["single"],
        "panels": c["panels"],
        "panel_iou_ok_rate": rate("panels_iou_ok", "panels"),
        "label_accuracy": rate("labels_right", "labels"),
        "subcaption_accuracy": rate("subcaptions_right", "subcaptions"),
        "subcaption_accuracy_end_to_end": rate("subcaptions_all_right", "subcaptions_all"),
        "subcaptions_figure_caption_wrong": c["subcaptions_figure_caption_wrong"],
        "gt_panels_in_unmatched_figures": c["gt_panels_in_unmatched_figures"],
        "by_kind": {kind: {"figures": kc["figures"], "matched": kc["figures_matched"],
                           "count_accuracy": rate("count_right", "figures_matched", kc),
                           "panel_iou_ok_rate": rate("panels_iou_ok", "panels", kc),
                           "subcaption_accuracy": rate("subcaptions_right", "subcaptions", kc)}
                    for kind, kc in sorted(kinds.items())},
        "failures": failures[:50],
    }
