"""Degraded variants of a born-digital sample book: a scan (image-only pages) and a broken text layer.

* scanned: each page rendered at 200-300 dpi and degraded by :mod:`~mmretinal_builder.samples.degrade`
  (yellowed paper, gutter shadow, turned up to 2 degrees and off-centre on a dark scanner lid, blur, noise),
  saved as JPEG in an image-only PDF; every ground-truth box is mapped through the same placement
  (axis-aligned hull).
* broken-text: the page looks exactly the same, but every font gets a /ToUnicode CMap that maps its codes
  to the wrong characters (the legacy-font problem), so extracted text is garbage while the glyphs are right.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pymupdf

from .degrade import DegradeOptions, degrade_document


def scan(pdf: bytes, gt: dict[str, Any], rng: random.Random, nprng: np.random.Generator, dpi: int = 200,
         quality: int = 70, max_angle: float = 2.0) -> tuple[pymupdf.Document, dict[str, Any]]:
    """A scanned copy (:mod:`~mmretinal_builder.samples.degrade`): yellowed uneven paper, a gutter shadow,
    the sheet turned up to ``max_angle`` degrees (most pages a little, a few not at all) and off-centre on a
    dark scanner lid, blur, noise, JPEG. Returns the image-only PDF and its adjusted ground truth."""
    opts = DegradeOptions(dpi=dpi, skew=max_angle, min_skew=min(0.2, max_angle), straight_share=0.1, noise=6.0,
                          blur=0.7, quality=quality, border=True, shadow=True, yellow=True)
    src = pymupdf.open("pdf", pdf)
    try:
        out, new_gt = degrade_document(src, opts, rng, nprng, gt)
    finally:
        src.close()
    if new_gt is None:  # degrade_document maps a ground truth whenever it is given one
        raise RuntimeError("scan: no ground truth came back")
    info = new_gt.pop("degrade")
    new_gt["scan"] = {"dpi": dpi, "jpeg_quality": quality, "rotation_deg": info["rotation_deg"],
                      "scale": info["scale"], "border": True, "gutter_shadow": True, "yellowed": True, "note": info["note"]}
    new_gt["traps"] = gt["traps"] + ("; SCANNED: no text layer, pages turned up to 2 degrees and off-centre on a "
                                     "dark scanner lid, gutter shadows, yellowed uneven paper, noise and JPEG")
    return out, new_gt


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
