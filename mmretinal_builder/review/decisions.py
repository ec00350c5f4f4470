"""Reviewers' decisions: parsed from Label Studio tasks, stored append-only, resolved latest-wins.

A decision refers to a pair by its stable id (the figure id; a task is one figure with its panels). The store is
a folder of JSONL files (``annotations/decisions/<project>.jsonl``): lines are only ever appended, a batch is
validated completely before anything is written, so a malformed export never costs a decision already stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import BuilderError
from ..schema import MODALITIES

DecisionKind = Literal["accept", "reject", "needs-fix"]


class PanelBox(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bbox_px: list[int] = Field(description="[x0, y0, x1, y1] in pixels of the figure image")


class Decision(BaseModel):
    """One reviewer's decision on one pair (one line of a decisions file)."""

    model_config = ConfigDict(extra="forbid")
    pair_id: str
    reviewer: str
    time: str = Field(description="ISO 8601 time of the annotation's last update")
    decision: DecisionKind
    caption: str | None = Field(default=None, description="edited caption, null when unchanged")
    modality: str | None = Field(default=None, description="changed modality, null when unchanged")
    panels: list[PanelBox] | None = Field(default=None, description="edited panel boxes, null when unchanged")
    note: str | None = None
    project: str | None = None
    task_id: int | None = None
    annotation_id: int | None = None

    @property
    def key(self) -> tuple[str | None, int | None, str]:
        """Identity of the annotation version: pulling twice must not append it twice."""
        return (self.project, self.annotation_id, self.time)


def _first(results: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((r for r in results if r.get("from_name") == name), None)


def _rect_to_px(value: dict[str, Any], width: int, height: int) -> list[int]:
    """Label Studio rectangles are percentages of the image; convert to pixel boxes."""
    x0 = value["x"] / 100.0 * width
    y0 = value["y"] / 100.0 * height
    x1 = x0 + value["width"] / 100.0 * width
    y1 = y0 + value["height"] / 100.0 * height
    return [round(max(0.0, x0)), round(max(0.0, y0)), round(min(width, x1)), round(min(height, y1))]


def panels_from_results(results: list[dict[str, Any]], width: int, height: int) -> list[list[int]]:
    """Panel rectangles of an annotation, in reading order (rows top to bottom, then left to right)."""
    boxes = [_rect_to_px(r["value"], width, height) for r in results
             if r.get("from_name") == "panels" and r.get("type") == "rectanglelabels"]
    if not boxes:
        return []
    row_tol = 0.25 * min(b[3] - b[1] for b in boxes)
    return sorted(boxes, key=lambda b: (round(b[1] / row_tol) if row_tol > 0 else b[1], b[0]))


def decision_from_annotation(task: dict[str, Any], annotation: dict[str, Any], project: str,
                             reviewers: dict[int, str] | None = None) -> Decision | None:
    """Turn one Label Studio annotation into a Decision (None for a skipped or undecided annotation)."""
    if annotation.get("was_cancelled"):
        return None
    data = task.get("data") or {}
    pair_id = data.get("pair_id")
    if not isinstance(pair_id, str) or not pair_id:
        raise ValueError(f"task {task.get('id')}: no pair_id in its data")
    results = annotation.get("result") or []
    choice = _first(results, "decision")
    if choice is None:
        return None
    decision = (choice.get("value", {}).get("choices") or [None])[0]
    caption_r = _first(results, "caption")
    caption = None
    if caption_r is not None:
        text = " ".join(t.strip() for t in caption_r.get("value", {}).get("text", []) if t.strip())
        caption = text if text and text != (data.get("caption") or "") else None
    modality_r = _first(results, "modality")
    modality = None
    if modality_r is not None:
        m = (modality_r.get("value", {}).get("choices") or [None])[0]
        if m not in MODALITIES:
            raise ValueError(f"task {task.get('id')}: unknown modality {m!r}")
        modality = m if m != data.get("modality") else None
    panels = None
    w, h = data.get("image_width"), data.get("image_height")
    if w and h:
        boxes = panels_from_results(results, int(w), int(h))
        original = data.get("panels_px") or []
        if boxes and boxes != original and not _close(boxes, original):
            panels = [PanelBox(bbox_px=b) for b in boxes]
    note_r = _first(results, "note")
    note = " ".join(note_r.get("value", {}).get("text", [])).strip() if note_r else None
    completed_by = annotation.get("completed_by")
    if isinstance(completed_by, dict):
        reviewer = completed_by.get("email") or str(completed_by.get("id"))
    else:
        reviewer = (reviewers or {}).get(completed_by, str(completed_by))
    return Decision(
        pair_id=pair_id, reviewer=reviewer, time=str(annotation.get("updated_at") or annotation.get("created_at")),
        decision=decision, caption=caption, modality=modality, panels=panels, note=note or None,
        project=project, task_id=task.get("id"), annotation_id=annotation.get("id"),
    )


def _close(a: list[list[int]], b: list[list[int]], tol: int = 2) -> bool:
    """Rounding through percentages moves boxes by a pixel: that is not an edit."""
    return len(a) == len(b) and all(abs(x - y) <= tol for ba, bb in zip(a, b, strict=True)
                                    for x, y in zip(ba, bb, strict=True))


class DecisionStore:
    """A folder of append-only JSONL decision files."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []

    def load(self) -> list[Decision]:
        out: list[Decision] = []
        for path in self.files():
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    out.append(Decision.model_validate(json.loads(line)))
                except (json.JSONDecodeError, ValidationError) as e:
                    raise BuilderError(f"{path}:{n}: not a valid decision ({_short(e)})") from None
        return out

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for path in self.files():
            h.update(path.name.encode())
            h.update(path.read_bytes())
        return h.hexdigest()

    def append(self, project: str, decisions: Iterable[Decision]) -> int:
        """Append the decisions not stored yet; returns how many were new. One write, flushed and synced."""
        known = {d.key for d in self.load()}
        new = [d for d in decisions if d.key not in known]
        if not new:
            return 0
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{_safe(project)}.jsonl"
        payload = "".join(json.dumps(d.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) + "\n"
                          for d in new)
        # Append mode keeps earlier lines untouched even if this write is cut short; a torn last line is
        # reported by load() with its file and line number.
        with path.open("a", encoding="utf-8") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        return len(new)


def latest(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The winning decision per pair: the latest time; ties broken by annotation id."""
    best: dict[str, Decision] = {}
    for d in decisions:
        cur = best.get(d.pair_id)
        if cur is None or (d.time, d.annotation_id or 0) > (cur.time, cur.annotation_id or 0):
            best[d.pair_id] = d
    return best


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "project"


def _short(e: Exception) -> str:
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return str(e)
