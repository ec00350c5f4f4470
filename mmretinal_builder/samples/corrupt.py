"""Degraded variants of a born-digital sample book: a scan (image-only pages) and a broken text layer.

* scanned: each page rendered at 200-300 dpi, tinted, rotated up to 2 degrees, blurred, noised, saved as
  JPEG in an image-only PDF; every ground-truth box is mapped through the same rotation (axis-aligned hull).
* broken-text: the page looks exactly the same, but every font gets a /ToUnicode CMap that maps its codes
  to the wrong characters (the legacy-font problem), so extracted text is garbage while the glyphs are right.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import cv2
import numpy as np
import pymupdf

from .fundus import add_noise

Box = list[float]


def _rotate_box(b: Box, m: np.ndarray, page_w: float, page_h: float, sx: float, sy: float) -> Box:
    """Map a fractional page box through the pixel-space affine `m`; returns the axis-aligned hull (fractions)."""
    xs = [b[0] * page_w, b[2] * page_w]
    ys = [b[1] * page_h, b[3] * page_h]
    pts = np.array([[x * sx - 0.5, y * sy - 0.5, 1.0] for x in xs for y in ys])  # pixel-centre coordinates
    q = pts @ m.T + 0.5
    x0, x1 = max(0.0, q[:, 0].min() / sx), min(page_w, q[:, 0].max() / sx)
    y0, y1 = max(0.0, q[:, 1].min() / sy), min(page_h, q[:, 1].max() / sy)
    return [round(x0 / page_w, 6), round(y0 / page_h, 6), round(x1 / page_w, 6), round(y1 / page_h, 6)]


def scan(pdf: bytes, gt: dict[str, Any], rng: random.Random, nprng: np.random.Generator, dpi: int = 200,
         quality: int = 70, max_angle: float = 2.0) -> tuple[pymupdf.Document, dict[str, Any]]:
    """Render every page to a noisy, slightly rotated JPEG; returns the image-only PDF and its adjusted GT."""
    if not 72 <= dpi <= 600:
        raise ValueError(f"scan: dpi {dpi} out of range 72-600")
    src = pymupdf.open("pdf", pdf)
    out = pymupdf.open()
    gt = copy.deepcopy(gt)
    angles: list[float] = []
    for pno, page in enumerate(src, start=1):
        pw, ph = page.rect.width, page.rect.height
        pix = page.get_pixmap(dpi=dpi, alpha=False)
        img = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n)[..., :3]
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        sx, sy = pix.w / pw, pix.h / ph
        paper = np.array([rng.uniform(0.86, 0.93), rng.uniform(0.93, 0.97), rng.uniform(0.96, 1.0)])
        img = cv2.transform(img, np.diag(paper))  # yellowish paper: scale each channel
        # most scanned pages are a little skewed, a few are straight
        angle = 0.0 if rng.random() < 0.1 else round(rng.choice((-1, 1)) * rng.uniform(0.2, max_angle), 3)
        angles.append(angle)
        m = cv2.getRotationMatrix2D(((pix.w - 1) / 2.0, (pix.h - 1) / 2.0), angle, 1.0)
        border = tuple(int(255 * c) for c in paper)
        img = cv2.warpAffine(img, m, (pix.w, pix.h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=border)
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.5, 0.9))
        img = add_noise(img, nprng, rng.uniform(4, 8))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"scan: JPEG encoding failed on page {pno}")
        new = out.new_page(width=pw, height=ph)
        new.insert_image(new.rect, stream=buf.tobytes(), keep_proportion=False)
        for f in gt["figures"]:
            if f["page"] == pno:
                f["bbox"] = _rotate_box(f["bbox"], m, pw, ph, sx, sy)
                for pb in f.get("panel_boxes", []):
                    pb["bbox"] = _rotate_box(pb["bbox"], m, pw, ph, sx, sy)
            if f["caption_page"] == pno:
                f["caption_bbox"] = _rotate_box(f["caption_bbox"], m, pw, ph, sx, sy)
        for t in gt["tables"]:
            if t["page"] == pno:
                t["bbox"] = _rotate_box(t["bbox"], m, pw, ph, sx, sy)
                t["caption_bbox"] = _rotate_box(t["caption_bbox"], m, pw, ph, sx, sy)
    gt["variant"] = "scanned"
    gt["scan"] = {"dpi": dpi, "jpeg_quality": quality, "rotation_deg": angles,
                  "note": "image-only pages; boxes are the axis-aligned hulls of the rotated boxes"}
    gt["traps"] = gt["traps"] + "; SCANNED: no text layer, pages rotated up to 2 degrees, noise and JPEG"
    src.close()
    return out, gt


def _bfchar_cmap(pairs: list[tuple[int, int]], two_byte: bool) -> bytes:
    width = 4 if two_byte else 2
    lines = ["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
             "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             "/CMapName /Garbled-UCS def", "/CMapType 2 def", "1 begincodespacerange",
             "<0000> <FFFF>" if two_byte else "<00> <FF>", "endcodespacerange"]
    for k in range(0, len(pairs), 100):  # at most 100 entries per bfchar section
        chunk = pairs[k : k + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{c:0{width}X}> <{u:04X}>" for c, u in chunk]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()


def _bfrange_cmap(blocks: list[tuple[int, int]]) -> bytes:
    lines = ["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
             "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             "/CMapName /Garbled-UCS2 def", "/CMapType 2 def", "1 begincodespacerange", "<0000> <FFFF>",
             "endcodespacerange"]
    for k in range(0, len(blocks), 100):
        chunk = blocks[k : k + 100]
        lines.append(f"{len(chunk)} beginbfrange")
        lines += [f"<{hi:02X}00> <{hi:02X}FF> <{to:02X}00>" for hi, to in chunk]
        lines.append("endbfrange")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()


def break_text(doc: pymupdf.Document, rng: random.Random) -> None:
    """Give every font a wrong /ToUnicode map (in place): glyphs render correctly, extracted text is garbage."""
    printable = [c for c in range(33, 127)] + [c for c in range(161, 256)]
    shuffled = printable[:]
    rng.shuffle(shuffled)
    simple_map = _bfchar_cmap(list(zip(printable, shuffled, strict=True)), two_byte=False)
    # 2-byte (UTF-16) codes of the CJK font: map whole 256-code blocks onto other ideograph blocks
    hi_blocks = [0x00, 0x20, 0x30, 0xFF, *range(0x4E, 0xA0)]
    targets = [rng.randrange(0x4E, 0xA0) for _ in hi_blocks]
    cjk_map = _bfrange_cmap(list(zip(hi_blocks, targets, strict=True)))
    fonts = 0
    for xref in range(1, doc.xref_length()):
        if doc.xref_get_key(xref, "Type") != ("name", "/Font"):
            continue
        subtype = doc.xref_get_key(xref, "Subtype")[1]
        if subtype not in ("/Type1", "/TrueType", "/Type0"):
            continue
        cmap_xref = doc.get_new_xref()
        doc.update_object(cmap_xref, "<<>>")
        doc.update_stream(cmap_xref, cjk_map if subtype == "/Type0" else simple_map)
        doc.xref_set_key(xref, "ToUnicode", f"{cmap_xref} 0 R")
        fonts += 1
    if not fonts:
        raise ValueError("break_text: the document has no fonts to break")
