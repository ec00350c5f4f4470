"""What each stage did to one pair or figure of a run (``mmretinal trace RUN_DIR ID``).

The answer comes from the records' lineage: every stage that kept an item stamped a step on it (stage, version,
the rule that decided, and what the stage saw: boxes, text before/after, scores). A kept pair is in
``pairs.jsonl``; a dropped item is in ``rejects.jsonl`` with the dropping stage's step last (the curation
stages add it) and the stage and reason of the drop. ``ID`` is a pair id (``<figure id>-pN`` for a panel), a
figure id (all its pairs), or a unique prefix of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BuilderError
from .io import iter_jsonl
from .schema import ITEM, Figure, LineageStep, Pair


@dataclass
class Trace:
    """One item's story: where it ended and every step it went through."""

    id: str
    kind: str  # "pair" or "figure"
    role: str | None  # figure, compound, panel (pairs)
    book: str
    page: int
    label: str | None
    panel_label: str | None
    steps: list[LineageStep]
    dropped: dict[str, Any] | None = None  # {"stage", "reason", "detail"} when a stage dropped it
    final: dict[str, Any] = field(default_factory=dict)  # what a kept pair ended with (caption, modality, ...)
    found: dict[str, Any] = field(default_factory=dict)  # how extraction found the figure (its provenance)


def _found(fig: Figure) -> dict[str, Any]:
    prov = fig.provenance
    return {"rule": prov.rule, "bbox": fig.bbox, "page_size": fig.page_size, "text_layer": prov.text_layer,
            "dpi": prov.dpi, "caption_rule": prov.caption_rule, "pair_rule": prov.pair_rule,
            "caption_bbox": fig.caption_bbox, "scores": prov.scores}


def _trace_of(item: Pair | Figure, dropped: dict[str, Any] | None = None) -> Trace:
    if isinstance(item, Pair):
        final = {} if dropped else {"caption": item.caption, "modality": item.modality,
                                    "confidence": item.modality_confidence, "retinal": item.retinal,
                                    "quality_flags": item.quality_flags, "duplicates": item.duplicates}
        return Trace(item.id, "pair", item.role, item.figure.book, item.figure.page, item.figure.label,
                     item.panel.label if item.panel is not None else None, item.history(), dropped, final,
                     _found(item.figure))
    return Trace(item.id, "figure", None, item.book, item.page, item.label, None, list(item.lineage), dropped,
                 found=_found(item))


def _matches(item_id: str, figure_id: str, query: str) -> bool:
    return query in (item_id, figure_id) or (len(query) >= 6 and item_id.startswith(query))


def find(run_dir: Path, query: str) -> list[Trace]:
    """Every kept pair and every dropped item of ``run_dir`` that ``query`` names, kept ones first."""
    run_dir = Path(run_dir)
    pairs_path, rejects_path = run_dir / "pairs.jsonl", run_dir / "rejects.jsonl"
    if not pairs_path.exists():
        raise BuilderError(f"{run_dir}: no pairs.jsonl (not a finished run, or built before pairs existed)")
    query = query.strip()
    if not query:
        raise BuilderError("trace: give a pair id or a figure id")
    out: list[Trace] = []
    for obj in iter_jsonl(pairs_path):
        fid = obj.get("figure", {}).get("id", "")
        if _matches(obj.get("id", ""), fid, query):
            out.append(_trace_of(Pair.model_validate(obj)))
    for rec in iter_jsonl(rejects_path) if rejects_path.exists() else []:
        item = rec.get("item")
        if not isinstance(item, dict) or rec.get("kind") == "report" or "id" not in item:
            continue
        fid = item.get("figure", {}).get("id", "") if "role" in item else item["id"]
        if _matches(item["id"], fid, query):
            drop = {"stage": rec.get("stage"), "reason": rec.get("reason"), "detail": rec.get("detail"),
                    "shard": rec.get("shard")}
            out.append(_trace_of(ITEM.validate_python(item), drop))
    ids = {t.id for t in out}
    if len({i.split("-p")[0] for i in ids}) > 1 and query not in ids:
        raise BuilderError(f"trace: {query!r} is the prefix of several ids ({', '.join(sorted(ids)[:5])}); "
                           "give more of it")
    return out


def describe(t: Trace) -> str:
    """One line saying what the item is and where it ended."""
    what = f"{t.role} pair" if t.kind == "pair" else "figure"
    name = t.label or "unlabelled figure"
    if t.panel_label or t.role == "panel":
        name = f"panel {t.panel_label or '?'} of {name}"
    end = (f"dropped by {t.dropped['stage']}: {t.dropped['reason']}" if t.dropped
           else "kept (pairs.jsonl and the dataset)")
    return f"{what} {t.id} - {name}, {t.book} p.{t.page} - {end}"


def detail_lines(detail: dict[str, Any], width: int = 100) -> list[str]:
    """A step's detail as ``key: value`` lines; long text is cut, boxes and numbers kept whole."""
    lines = []
    for k, v in detail.items():
        if isinstance(v, float):
            v = round(v, 4)
        elif isinstance(v, list) and v and all(isinstance(x, float) for x in v):
            v = [round(x, 1) for x in v]
        elif isinstance(v, dict):
            v = ", ".join(f"{a}={round(b, 4) if isinstance(b, float) else b}" for a, b in v.items())
        text = str(v)
        if len(text) > width:
            text = text[: width - 3] + "..."
        lines.append(f"{k}: {text}")
    return lines
