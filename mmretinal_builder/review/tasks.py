"""Figures -> Label Studio tasks (data + a prediction holding the pre-filled panels, caption and modality)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import BuilderError
from ..schema import Figure

MODEL_VERSION = "mmretinal-builder"


def image_url(run_dir: Path, image_rel: str, document_root: Path | None) -> str:
    """URL under which Label Studio serves the image: its local-files endpoint (path relative to the root)."""
    path = (run_dir / image_rel).resolve()
    if document_root is None:
        raise BuilderError("no Label Studio document root: pass --document-root (the server's "
                           "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT) or use --upload")
    try:
        rel = path.relative_to(document_root.resolve())
    except ValueError:
        raise BuilderError(f"{path}: not under the Label Studio document root {document_root}; "
                           "start the server with a document root above the run directory") from None
    return f"/data/local-files/?d={quote(rel.as_posix())}"


def task_data(fig: Figure, url: str, modality: str | None = None) -> dict[str, Any]:
    """The task's data: what the reviewer sees plus what the pull needs to interpret the annotation.
    ``modality``: what classify decided for the whole figure (its figure-level pair)."""
    w, h = fig.image_size or [0, 0]
    data = {
        "pair_id": fig.id,
        "image": url,
        "image_rel": fig.image,
        "image_width": w,
        "image_height": h,
        "book": fig.book,
        "page": fig.page,
        "label": fig.label or "(no label)",
        "caption": fig.caption or "",
        "modality": modality or "other",
        "panels_px": [p.bbox_px for p in fig.panels],
    }
    data["content_hash"] = hashlib.sha256(json.dumps({k: v for k, v in data.items() if k != "image"},
                                                     sort_keys=True).encode()).hexdigest()[:16]
    return data


def prediction(fig: Figure, modality: str | None = None, confidence: float | None = None) -> dict[str, Any]:
    """Pre-filled regions and fields, shown to reviewers as the starting point."""
    w, h = fig.image_size or [1, 1]
    result: list[dict[str, Any]] = []
    for p in fig.panels:
        x0, y0, x1, y1 = p.bbox_px
        result.append({
            "id": f"panel{p.index}", "from_name": "panels", "to_name": "image", "type": "rectanglelabels",
            "original_width": w, "original_height": h, "image_rotation": 0,
            "value": {"x": 100.0 * x0 / w, "y": 100.0 * y0 / h, "width": 100.0 * (x1 - x0) / w,
                      "height": 100.0 * (y1 - y0) / h, "rotation": 0, "rectanglelabels": ["panel"]},
        })
    result.append({"id": "caption", "from_name": "caption", "to_name": "image", "type": "textarea",
                   "value": {"text": [fig.caption or ""]}})
    result.append({"id": "modality", "from_name": "modality", "to_name": "image", "type": "choices",
                   "value": {"choices": [modality or "other"]}})
    return {"model_version": MODEL_VERSION, "score": float(confidence or 0.0), "result": result}
