"""Extraction metrics against ground truth (pdffigures2's convention).

Ground truth: a JSON list of documents (``id`` = PDF file name, ``figures`` with ``page``, ``bbox`` as page
fractions, ``label``, ``caption``, ``retinal``; optionally ``tables`` with ``page``/``bbox``/``label``), as in
``palm_scidata2024.gt.json`` and the sample generator's ``ground_truth.json``. Predictions: the
``figures.jsonl`` of a run.

* A predicted figure **matches** a ground-truth figure on the same page when their boxes have IoU >= 0.8
  (one-to-one, best IoU first). IoU is computed in page fractions (equal to IoU in points).
* **Caption** of a matched figure: normalised exact match (whitespace collapsed, NFC), a similarity ratio
  (difflib) and the character error rate (edit distance / ground-truth length).
* A **pair** is right when its figure matches and its caption is that figure's own caption: the exact text
  for a caption taken from a text layer; for a caption read by OCR (provenance ``caption_rule`` starting
  with ``ocr:``, or ``text_layer`` ``none``/``broken`` without a caption rule) a character error rate of at
  most ``OCR_PAIR_CER`` (0.1) *and* the figure's own caption nearest to it (edit distance) among all the
  document's ground-truth captions, so a misread character is not a wrong pair while another figure's
  caption is. Pair precision = right / predicted, pair recall = right / ground truth. **Pair exact**
  (``pair_exact``) is the strict variant, exact text for every caption, reported alongside.
* **Retinal subset**: ground-truth figures with ``retinal: yes``. Recall counts those; precision counts the
  predictions matched to them plus the unmatched predictions (which may be retinal figures placed badly),
  leaving out predictions matched to non-retinal figures.
* **Tables taken as figures**: predictions overlapping a ground-truth table (IoU >= 0.5), or, where the
  ground truth lists no tables, predictions whose label is a table label.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BuilderError
from ..geometry import iou
from ..io import atomic_write_text, iter_jsonl, read_json
from ..schema import MODALITIES

_TABLE_LABEL = re.compile(r"^\s*(Table|TABLE|Tab\.|TAB\.|Tabla|Tabelle|Tableau|表)")


def norm_text(s: str | None) -> str:
    """Normalised form used for exact caption matches: NFC, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", s or "")).strip()


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute = 1), vectorised over ``b``."""
    if a == b:
        return 0
    if not a or not b:
        return max(len(a), len(b))
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    idx = np.arange(len(b) + 1)
    prev = idx.copy()
    for i, ch in enumerate(a, 1):
        sub = prev[:-1] + (bb != ord(ch))
        tmp = np.empty_like(prev)
        tmp[0] = i
        tmp[1:] = np.minimum(sub, prev[1:] + 1)
        prev = np.minimum.accumulate(tmp - idx) + idx  # insertions: new[j] = min_k<=j tmp[k] + (j - k)
    return int(prev[-1])


def cer(pred: str, gt: str) -> float:
    return levenshtein(pred, gt) / max(len(gt), 1)


OCR_PAIR_CER = 0.1  # an OCR'd caption this close to its figure's own caption (and nearest to it) is right


def _read_by_ocr(pred: dict[str, Any]) -> bool:
    """Was the predicted caption read by OCR (see the provenance's caption rule / text layer)?"""
    prov = pred.get("provenance") or {}
    rule = prov.get("caption_rule")
    if rule:
        return str(rule).startswith("ocr:")
    return prov.get("text_layer") in ("none", "broken")


def _own_caption(pc: str, j: int, gt_captions: list[str], own_cer: float) -> bool:
    """An OCR'd caption ``pc`` is ground-truth figure ``j``'s: close enough, and no other caption closer."""
    if own_cer > OCR_PAIR_CER:
        return False
    own = levenshtein(pc, gt_captions[j])
    return all(k == j or levenshtein(pc, g) >= own for k, g in enumerate(gt_captions))


def _prf(tp: int, n_pred: int, n_gt: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else (1.0 if n_gt == 0 else 0.0)
    r = tp / n_gt if n_gt else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def load_ground_truth(path: Path) -> list[dict[str, Any]]:
    data = read_json(path)
    if isinstance(data, dict):
        data = data.get("documents", data.get("docs"))
    if not isinstance(data, list) or not all(isinstance(d, dict) and "id" in d for d in data):
        raise BuilderError(f"{path}: expected a list of documents, each with 'id' and 'figures'")
    for d in data:
        for k, f in enumerate(d.get("figures", [])):
            if not {"page", "bbox"} <= set(f):
                raise BuilderError(f"{path}: document {d['id']}: figure {k} needs 'page' and 'bbox'")
    return data


def load_predictions(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Figures of a run, grouped by book (plain dicts: later stages may add fields)."""
    path = Path(run_dir) / "figures.jsonl"
    if not path.exists():
        raise BuilderError(f"{run_dir}: no figures.jsonl (is this a run directory?)")
    out: dict[str, list[dict[str, Any]]] = {}
    for n, row in enumerate(iter_jsonl(path), 1):
        for key in ("book", "page", "bbox", "page_size"):
            if key not in row:
                raise BuilderError(f"{path}:{n}: figure record without '{key}'")
        out.setdefault(row["book"], []).append(row)
    return out


def _frac(box: list[float], size: list[float]) -> tuple[float, float, float, float]:
    w, h = size
    return (box[0] / w, box[1] / h, box[2] / w, box[3] / h)


def _match(preds: list[dict[str, Any]], gts: list[dict[str, Any]], thr: float) -> list[tuple[int, int, float]]:
    """One-to-one matches (pred index, gt index, IoU) on the same page, best IoU first."""
    cands = []
    for i, p in enumerate(preds):
        pb = _frac(p["bbox"], p["page_size"])
        for j, g in enumerate(gts):
            if int(g["page"]) != int(p["page"]):
                continue
            v = iou(pb, g["bbox"])
            if v >= thr:
                cands.append((v, i, j))
    used_p: set[int] = set()
    used_g: set[int] = set()
    out = []
    for v, i, j in sorted(cands, key=lambda t: (-t[0], t[1], t[2])):
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        out.append((i, j, v))
    return out


def _retinal(g: dict[str, Any]) -> bool:
    v = g.get("retinal")
    return v is True or (isinstance(v, str) and v.lower() == "yes")


def evaluate_document(doc: dict[str, Any], preds: list[dict[str, Any]], iou_threshold: float = 0.8,
                      ) -> dict[str, Any]:
    """All metrics of one document plus the raw counts that sum into the overall numbers."""
    gts = doc.get("figures", [])
    matches = _match(preds, gts, iou_threshold)
    details = []
    exact = 0
    sims: list[float] = []
    cers: list[float] = []
    gt_captions = [norm_text(g.get("caption")) for g in gts]
    for i, j, v in matches:
        pc, gc = norm_text(preds[i].get("caption")), gt_captions[j]
        ok = pc == gc
        exact += ok
        sim = difflib.SequenceMatcher(None, pc, gc, autojunk=False).ratio()
        e = cer(pc, gc)
        sims.append(sim)
        cers.append(e)
        ocr = _read_by_ocr(preds[i])
        right = ok or (ocr and _own_caption(pc, j, gt_captions, e))
        details.append({"gt": gts[j].get("label"), "pred": preds[i].get("label"), "page": gts[j]["page"],
                        "iou": round(v, 4), "caption_exact": ok, "caption_similarity": round(sim, 4),
                        "caption_cer": round(e, 4), "caption_ocr": ocr, "pair_right": right,
                        **({} if ok else {"pred_caption": pc, "gt_caption": gc})})
    matched_p = {i for i, _, _ in matches}
    matched_g = {j for _, j, _ in matches}
    missed = [{"label": g.get("label"), "page": g["page"]} for j, g in enumerate(gts) if j not in matched_g]
    spurious = [{"label": p.get("label"), "page": p["page"], "bbox": p["bbox"]}
                for i, p in enumerate(preds) if i not in matched_p]
    # retinal subset
    ret = {j for j, g in enumerate(gts) if _retinal(g)}
    ret_tp = sum(1 for _, j, _ in matches if j in ret)
    ret_pairs = sum(1 for (i, j, _), d in zip(matches, details, strict=True) if j in ret and d["pair_right"])
    ret_pred = len(preds) - sum(1 for _, j, _ in matches if j not in ret)
    # tables taken as figures
    tables = doc.get("tables") or []
    as_tables = 0
    for p in preds:
        pb = _frac(p["bbox"], p["page_size"])
        if tables:
            if any(int(t.get("page", -1)) == int(p["page"]) and "bbox" in t and iou(pb, t["bbox"]) >= 0.5
                   for t in tables):
                as_tables += 1
        elif _TABLE_LABEL.match(p.get("label") or ""):
            as_tables += 1
    counts = {
        "gt": len(gts), "pred": len(preds), "tp": len(matches), "caption_exact": exact,
        "pairs_right": sum(1 for d in details if d["pair_right"]),
        "pairs_right_exact": sum(1 for d in details if d["caption_exact"]),
        "sim_sum": sum(sims), "cer_sum": sum(cers),
        "retinal_gt": len(ret), "retinal_tp": ret_tp, "retinal_pairs_right": ret_pairs, "retinal_pred": ret_pred,
        "tables_as_figures": as_tables,
    }
    modality = [(gm, preds[i]["modality"]) for i, j, _ in matches
                if (gm := _gt_modality(gts[j])) and preds[i].get("modality") in MODALITIES]
    return {"id": doc["id"], **_metrics(counts), "counts": counts, "matches": details, "missed": missed,
            "spurious": spurious, "modality_pairs": modality}


def _gt_modality(g: dict[str, Any]) -> str | None:
    """The ground truth's modality class ("CFP (pathologic myopia)" -> CFP); None for mixed or unknown."""
    head = str(g.get("modality") or "").split(" ")[0].strip()
    return head if head in MODALITIES else None


def modality_report(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Confusion matrix ({true: {predicted: n}}) and accuracy of the modality of matched figures."""
    cm = {a: dict.fromkeys(MODALITIES, 0) for a in MODALITIES}
    for truth, pred in pairs:
        cm[truth][pred] += 1
    right = sum(cm[m][m] for m in MODALITIES)
    return {"n": len(pairs), "accuracy": round(right / len(pairs), 4) if pairs else None, "confusion": cm}


def _metrics(c: dict[str, Any]) -> dict[str, Any]:
    tp = c["tp"]
    return {
        "figure": _prf(tp, c["pred"], c["gt"]),
        "caption_exact": round(c["caption_exact"] / tp, 4) if tp else 0.0,
        "caption_similarity": round(c["sim_sum"] / tp, 4) if tp else 0.0,
        "caption_cer": round(c["cer_sum"] / tp, 4) if tp else 0.0,
        "pair": _prf(c["pairs_right"], c["pred"], c["gt"]),
        "pair_exact": _prf(c["pairs_right_exact"], c["pred"], c["gt"]),
        "retinal": {
            "figure": _prf(c["retinal_tp"], c["retinal_pred"], c["retinal_gt"]),
            "pair": _prf(c["retinal_pairs_right"], c["retinal_pred"], c["retinal_gt"]),
        },
        "tables_as_figures": c["tables_as_figures"],
    }


def evaluate(gt_docs: Iterable[dict[str, Any]], predictions: dict[str, list[dict[str, Any]]],
             iou_threshold: float = 0.8) -> dict[str, Any]:
    """Per-document and overall (micro-averaged) extraction metrics."""
    docs = [evaluate_document(d, predictions.get(d["id"], []), iou_threshold) for d in gt_docs]
    total: dict[str, Any] = {}
    for d in docs:
        for k, v in d["counts"].items():
            total[k] = total.get(k, 0) + v
    if not docs:
        raise BuilderError("the ground truth lists no documents")
    known = {d["id"] for d in docs}
    return {
        "iou_threshold": iou_threshold,
        "overall": {**_metrics(total), "counts": {k: round(v, 4) for k, v in total.items()},
                    "modality": modality_report([tuple(p) for d in docs for p in d["modality_pairs"]])},
        "documents": docs,
        "unknown_books": sorted(b for b in predictions if b not in known),
    }


def write_report(result: dict[str, Any], path: Path) -> None:
    atomic_write_text(Path(path), json.dumps(result, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
