"""Stage by stage: what each stage of a run kept of the ground truth's retinal figures, so a loss shows where it
happens (extraction, panel splitting, or curation).

Stage outputs are read from the run's shards generically: the recipe's stage names and order come from
``run.json``, a stage's output is ``shards/<book>/<NN>-<stage>/items.jsonl`` (book-scope) or
``shards/_run/<NN>-<stage>/items.jsonl`` (run-scope); a stage whose items are not figures or pairs (page models,
say) is left out. The final column is the run's ``pairs.jsonl`` (after every stage).

Measures, over the ground truth's retinal figures (``retinal: yes``), per document and overall:

* **found**: a figure of the stage's output on the same page with IoU >= 0.8 (pdffigures2's convention); after
  the panels stage a figure is there while any of its pairs is. A figure whose pairs the ``dedup`` stage dropped
  as duplicates of pairs the stage still holds (the same figure in another book of the run: a paper and its
  scanned copy) is in the dataset through that twin: it counts as found ``via duplicate`` (counted apart), and
  its caption, panels and modality are scored on the twin against this figure's ground truth;
* **caption exact**: found, and its caption equals the printed one (NFC, whitespace collapsed); missed figures
  count as wrong, so the number can only fall from stage to stage through losses;
* **panel count exact**: found, and the number of panels the stage gives it (1 without panels) equals the
  ground truth's; shown for the stage that splits panels (the first that hands on pairs);
* **modality accuracy of retinal panels**: for every retinal ground-truth panel (``panel_boxes`` with a CFP / FFA
  / OCT modality and not ``retinal: no``; a figure without boxes counts its predicted panels, or itself, against
  its own modality) matched to a kept pair of a found figure (panel IoU > 0), the pair's modality is right. Pairs
  without a modality (before the classify stage) are not scored;
* **non-retinal panels kept**: of the ground truth's non-retinal panels of found figures (maps beside a
  photograph: ``retinal: no`` or a non-retinal modality), the share a kept panel pair still shows (after
  classify it should be 0: the maps go, their photograph and figure stay).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import geometry
from ..errors import BuilderError
from ..io import iter_jsonl, read_json
from ..schema import MODALITIES, Figure, LineageStep, Pair, Panel, figures_of
from .extraction import _match, _retinal, norm_text

RETINAL_MODALITIES = ("CFP", "FFA", "OCT")
PANEL_MIN_IOU = 0.0  # a ground-truth panel is scored against the kept pair that overlaps it most


@dataclass
class StageOutput:
    """What one stage handed on, for every book: figures (pairs grouped back into their figures) and pairs."""

    name: str
    index: int | None  # position in the recipe; None for the run's final output
    figures: dict[str, list[Figure]] = field(default_factory=dict)  # book -> figures
    pairs: dict[str, list[Pair]] = field(default_factory=dict)  # book -> pairs (empty before the pairs exist)

    @property
    def has_pairs(self) -> bool:
        return any(self.pairs.values())


def _book_key(name: str) -> str:
    from ..runner import book_key  # the runner owns the shard layout

    return book_key(name)


_FIGURE_KEYS = {"id", "book", "page", "bbox", "page_size"}


def _read_items(path: Path) -> list[Figure | Pair] | None:
    """The items of a shard, or None when they are not figures or pairs (pages, say). A record that extends a
    figure (a figure before its crop, with its crop plan) is read as the figure it is."""
    out: list[Figure | Pair] = []
    for obj in iter_jsonl(path):
        if isinstance(obj, dict) and {"role", "figure"} <= set(obj):
            out.append(Pair.model_validate(obj))
        elif isinstance(obj, dict) and set(obj) >= _FIGURE_KEYS:
            out.append(_figure(obj))
        else:
            return None
    return out


def _figure(obj: dict[str, Any]) -> Figure:
    """A figure from a record that may carry more (a crop plan; the curation fields runs of older versions put on
    figures and panels): only the figure's own fields are read."""
    fields = {k: v for k, v in obj.items() if k in Figure.model_fields}
    fields["panels"] = [{k: v for k, v in p.items() if k in Panel.model_fields} for p in fields.get("panels", [])]
    fields["lineage"] = [{k: v for k, v in st.items() if k in LineageStep.model_fields}
                         for st in fields.get("lineage", []) if isinstance(st, dict)]
    return Figure.model_validate(fields)


def _output(name: str, index: int | None, items_by_book: dict[str, list[Figure | Pair]]) -> StageOutput:
    out = StageOutput(name, index)
    for book, items in items_by_book.items():
        pairs = [i for i in items if isinstance(i, Pair)]
        figs = [i for i in items if isinstance(i, Figure)]
        out.pairs[book] = pairs
        out.figures[book] = figs + figures_of(pairs)
    return out


def stage_outputs(run_dir: Path) -> list[StageOutput]:
    """Every stage whose output is figures or pairs, in recipe order, then the run's final pairs."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists():
        raise BuilderError(f"{run_dir}: no run.json (is this a run directory?)")
    run = read_json(run_dir / "run.json")
    names = [s["name"] for s in run.get("recipe", {}).get("stages", [])]
    books = [b["name"] for b in run.get("books", [])]
    outs: list[StageOutput] = []
    for i, name in enumerate(names):
        by_book: dict[str, list[Figure | Pair]] = {}
        shard = run_dir / "shards" / "_run" / f"{i:02d}-{name}" / "items.jsonl"
        readable = True
        if shard.exists():  # a run-scope stage: all books in one shard
            items = _read_items(shard)
            readable = items is not None
            for item in items or []:
                book = item.figure.book if isinstance(item, Pair) else item.book
                by_book.setdefault(book, []).append(item)
        else:
            for book in books:
                path = run_dir / "shards" / _book_key(book) / f"{i:02d}-{name}" / "items.jsonl"
                if not path.exists():
                    continue
                items = _read_items(path)
                if items is None:
                    readable = False
                    break
                by_book[book] = items
        if readable and by_book:
            outs.append(_output(name, i, by_book))
    final = run_dir / "pairs.jsonl"
    if final.exists():
        by_book = {}
        for obj in iter_jsonl(final):
            p = Pair.model_validate(obj)
            by_book.setdefault(p.figure.book, []).append(p)
        outs.append(_output("final", None, by_book))
    elif (run_dir / "figures.jsonl").exists():  # a run of an older version: its final figures
        by_book = {}
        for item in _read_items(run_dir / "figures.jsonl") or []:
            by_book.setdefault(item.figure.book if isinstance(item, Pair) else item.book, []).append(item)
        outs.append(_output("final", None, by_book))
    return outs


def key_stages(outs: list[StageOutput]) -> dict[str, StageOutput]:
    """The three views of the per-document table: extraction (the last output before pairs exist), panels (the
    first output of pairs) and final."""
    out: dict[str, StageOutput] = {}
    first_pairs = next((k for k, o in enumerate(outs) if o.has_pairs and o.index is not None), None)
    if first_pairs is not None and first_pairs > 0:
        out["extract-side"] = outs[first_pairs - 1]
    elif first_pairs is None and outs:  # a run without pairs (extraction only, or an older version's run)
        out["extract-side"] = outs[0]
    if first_pairs is not None:
        out["panels"] = outs[first_pairs]
    if outs and outs[-1].index is None:
        out["final"] = outs[-1]
    return out


# ----------------------------------------------------------------------------------------------- scoring


def _gt_modality(m: Any) -> str | None:
    head = str(m or "").split(" ")[0].strip()
    return head if head in MODALITIES else None


def _panel_is_retinal(gp: dict[str, Any]) -> bool:
    return str(gp.get("retinal", "yes")).lower() in ("yes", "true") and \
        _gt_modality(gp.get("modality")) in RETINAL_MODALITIES


def _panel_matches(boxes: list[dict[str, Any]], fig: Figure, panel_pairs: list[Pair]) -> dict[int, Pair]:
    """Ground-truth panel index -> the kept panel pair that overlaps it most (one to one, best first)."""
    preds = [geometry.to_fractions(p.panel.bbox, fig.page_size) for p in panel_pairs]  # type: ignore[union-attr]
    scored = sorted(((geometry.iou(gp["bbox"], b), gi, k) for gi, gp in enumerate(boxes) for k, b in enumerate(preds)),
                    key=lambda t: (-t[0], t[1], t[2]))
    out: dict[int, Pair] = {}
    used: set[int] = set()
    for v, gi, k in scored:
        if v > PANEL_MIN_IOU and gi not in out and k not in used:
            out[gi] = panel_pairs[k]
            used.add(k)
    return out


def _modality_units(g: dict[str, Any], fig: Figure, pairs: list[Pair]) -> tuple[list[tuple[str, str]], int, int]:
    """(truth, predicted) modality of the retinal ground-truth panels of one found figure (see module doc), and
    how many of its non-retinal panels (maps beside a photograph) there are and how many a kept pair still shows."""
    kept = [p for p in pairs if p.figure.id == fig.id]
    panel_pairs = [p for p in kept if p.panel is not None]
    out: list[tuple[str, str]] = []
    boxes = g.get("panel_boxes") or []
    if boxes and panel_pairs:
        matched = _panel_matches(boxes, fig, panel_pairs)
        non_retinal = [gi for gi, gp in enumerate(boxes) if not _panel_is_retinal(gp)]
        for gi, gp in enumerate(boxes):
            pair = matched.get(gi)
            if _panel_is_retinal(gp) and pair is not None and pair.modality is not None:
                out.append((str(_gt_modality(gp["modality"])), str(pair.modality)))
        return out, len(non_retinal), sum(gi in matched for gi in non_retinal)
    truth = _gt_modality(g.get("modality"))
    if truth not in RETINAL_MODALITIES:
        return out, 0, 0
    units = panel_pairs or [p for p in kept if p.panel is None]
    return [(truth, str(p.modality)) for p in units if p.modality is not None], 0, 0


@dataclass
class Twins:
    """Figures the dedup stage dropped as duplicates, and where their kept twins are: figure id -> the kept
    pairs' ids; plus the extract-side figures a ground-truth figure is matched against to learn its id."""

    kept_as: dict[str, set[str]] = field(default_factory=dict)
    extract_side: StageOutput | None = None

    def twin(self, book: str, g: dict[str, Any], out: StageOutput, iou_threshold: float) -> tuple[str, Figure] | None:
        """The (book, figure) of ``out`` that holds ground-truth figure ``g`` of ``book`` as a duplicate."""
        if self.extract_side is None or not self.kept_as:
            return None
        figs = self.extract_side.figures.get(book, [])
        preds = [{"page": f.page, "bbox": f.bbox, "page_size": f.page_size} for f in figs]
        hit = next((figs[i] for i, _, _ in _match(preds, [g], iou_threshold)), None)
        kept = self.kept_as.get(hit.id, set()) if hit is not None else set()
        for other, pairs in out.pairs.items():
            for p in pairs:
                if p.id in kept:
                    return other, next(f for f in out.figures[other] if f.id == p.figure.id)
        return None


def read_twins(run_dir: Path) -> dict[str, set[str]]:
    """figure id -> ids of the pairs its pairs were merged into (``rejects.jsonl``, reason ``duplicate``)."""
    path = Path(run_dir) / "rejects.jsonl"
    out: dict[str, set[str]] = {}
    for rec in iter_jsonl(path) if path.exists() else []:
        item = rec.get("item") or {}
        if rec.get("reason") != "duplicate" or "role" not in item:
            continue
        detail = rec.get("detail")
        try:
            detail = json.loads(detail) if isinstance(detail, str) else (detail or {})
        except json.JSONDecodeError:
            continue
        if isinstance(detail, dict) and detail.get("of"):
            out.setdefault(item["figure"]["id"], set()).add(str(detail["of"]))
    return out


def score_document(doc: dict[str, Any], out: StageOutput, iou_threshold: float = 0.8,
                   twins: Twins | None = None) -> dict[str, Any]:
    """Counts of one document at one stage."""
    book = doc["id"]
    gts = [g for g in doc.get("figures", []) if _retinal(g)]
    figs = out.figures.get(book, [])
    preds = [{"page": f.page, "bbox": f.bbox, "page_size": f.page_size} for f in figs]
    matches = {j: i for i, j, _ in _match(preds, gts, iou_threshold)}
    c: Counter = Counter(retinal=len(gts))
    missed = []
    modality: list[tuple[str, str]] = []
    for j, g in enumerate(gts):
        where = (book, figs[matches[j]]) if j in matches else None
        if where is None and twins is not None:
            where = twins.twin(book, g, out, iou_threshold)
            c["via_duplicate"] += where is not None
        if where is None:
            missed.append({"label": g.get("label"), "page": g["page"]})
            continue
        at, fig = where
        c["found"] += 1
        c["caption_exact"] += norm_text(fig.caption) == norm_text(g.get("caption"))
        n_panels = len(fig.panels) or 1
        if out.has_pairs:  # a compound figure's whole pair keeps count of its panels when some were dropped
            n_panels = _panels_cut(fig, out.pairs.get(at, []))
        c["panel_count_exact"] += n_panels == int(g.get("panels", 1))
        units, non_retinal, shown = _modality_units(g, fig, out.pairs.get(at, []))
        modality += units
        c["non_retinal_panels"] += non_retinal
        c["non_retinal_panels_kept"] += shown
    c["modality_n"] = len(modality)
    c["modality_right"] = sum(t == p for t, p in modality)
    return {"counts": dict(c), "missed": missed, "modality_pairs": modality}


def _panels_cut(fig: Figure, pairs: list[Pair]) -> int:
    """How many panels the panels stage cut this figure into (from its pairs' panels step), else 1."""
    for p in pairs:
        if p.figure.id != fig.id:
            continue
        for step in p.lineage:
            if step.stage == "panels" and "panels" in step.detail:
                return int(step.detail["panels"]) or 1
    return len(fig.panels) or 1


def _rates(c: dict[str, int]) -> dict[str, float | None]:
    n = c.get("retinal", 0)

    def rate(k: str, den: int) -> float | None:
        return round(c.get(k, 0) / den, 4) if den else None

    return {"retinal_found": rate("found", n), "caption_exact": rate("caption_exact", n),
            "panel_count_exact": rate("panel_count_exact", c.get("found", 0)),
            "modality_accuracy": rate("modality_right", c.get("modality_n", 0)),
            "non_retinal_panels_kept": rate("non_retinal_panels_kept", c.get("non_retinal_panels", 0))}


def evaluate_stages(gt_docs: list[dict[str, Any]], run_dir: Path, iou_threshold: float = 0.8) -> dict[str, Any]:
    """Per stage (overall) and per document (the three key stages): see the module docstring."""
    outs = stage_outputs(run_dir)
    if not outs:
        raise BuilderError(f"{run_dir}: no stage output with figures or pairs")
    keys = key_stages(outs)
    twins = Twins(read_twins(run_dir), keys.get("extract-side"))
    stages = []
    per_doc: dict[str, dict[str, Any]] = {d["id"]: {"id": d["id"], "stages": {}} for d in gt_docs}
    for out in outs:
        total: Counter = Counter()
        for d in gt_docs:
            s = score_document(d, out, iou_threshold, twins)
            total.update(s["counts"])
            view = next((k for k, v in keys.items() if v is out), None)
            if view is not None:
                per_doc[d["id"]]["stages"][view] = {**_rates(s["counts"]), "counts": s["counts"],
                                                    "missed": s["missed"]}
        stages.append({"stage": out.name, "index": out.index, "has_pairs": out.has_pairs,
                       "figures": sum(len(v) for v in out.figures.values()),
                       "pairs": sum(len(v) for v in out.pairs.values()), **_rates(total), "counts": dict(total)})
    return {"iou_threshold": iou_threshold, "key_stages": {k: v.name for k, v in keys.items()},
            "stages": stages, "documents": list(per_doc.values()), "losses": losses(run_dir, gt_docs, keys, twins)}


def losses(run_dir: Path, gt_docs: list[dict[str, Any]], keys: dict[str, StageOutput],
           twins: Twins | None = None) -> list[dict[str, Any]]:
    """Retinal figures the extraction found that are gone at the end, with the stage and reason that dropped
    their last pair (from ``rejects.jsonl``); one kept through its duplicate says where (``kept_as``)."""
    first, last = keys.get("extract-side"), keys.get("final")
    if first is None or last is None:
        return []
    drops: dict[str, dict[str, Any]] = {}
    path = Path(run_dir) / "rejects.jsonl"
    for rec in iter_jsonl(path) if path.exists() else []:
        item = rec.get("item") or {}
        fid = (item.get("figure") or {}).get("id") if "role" in item else item.get("id")
        if fid and rec.get("kind") != "report":
            drops[fid] = {"stage": rec.get("stage"), "reason": rec.get("reason"), "pair": item.get("id")}
    out = []
    for d in gt_docs:
        gts = [g for g in d.get("figures", []) if _retinal(g)]
        at = {}
        for name, view in (("first", first), ("last", last)):
            figs = view.figures.get(d["id"], [])
            preds = [{"page": f.page, "bbox": f.bbox, "page_size": f.page_size} for f in figs]
            at[name] = {j: figs[i] for i, j, _ in _match(preds, gts, 0.8)}
        for j in sorted(set(at["first"]) - set(at["last"])):
            fig = at["first"][j]
            loss = {"document": d["id"], "label": gts[j].get("label"), "page": gts[j]["page"], "figure": fig.id,
                    **drops.get(fig.id, {"stage": None, "reason": "not found in rejects"})}
            twin = twins.twin(d["id"], gts[j], last, 0.8) if twins is not None else None
            if twin is not None:
                loss["kept_as"] = {"book": twin[0], "page": twin[1].page, "figure": twin[1].id}
            out.append(loss)
    return out


def write_stage_report(result: dict[str, Any], path: Path) -> None:
    from ..io import atomic_write_text

    atomic_write_text(Path(path), json.dumps(result, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
