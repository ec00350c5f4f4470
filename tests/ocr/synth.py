"""Small synthetic scanned pages for the OCR tests: text and a photo-like block on tinted, noisy paper."""

from __future__ import annotations

import cv2
import numpy as np
import pymupdf

PARAGRAPH = [
    "On fluorescein angiography the typical finding is",
    "numerous hyperfluorescent microaneurysms around",
    "the macula. Optical coherence tomography shows",
    "diffuse retinal thickening with intraretinal fluid.",
]
CAPTION = "FIG. 3. Fundus photograph of the left eye."
PHOTO = (60.0, 120.0, 240.0, 230.0)  # points, on a 300 x 330 pt page


def text_page_pdf(lines: list[str] = PARAGRAPH, size: tuple[float, float] = (300.0, 330.0),
                  photo: tuple[float, float, float, float] | None = PHOTO, caption: str | None = CAPTION) -> bytes:
    """A born-digital page: a paragraph, a dark picture and a caption below it."""
    doc = pymupdf.open()
    page = doc.new_page(width=size[0], height=size[1])
    y = 40.0
    for ln in lines:
        page.insert_text((30, y), ln, fontsize=9, fontname="helv")
        y += 12
    if photo is not None:
        page.draw_rect(pymupdf.Rect(photo), color=(0.1, 0.05, 0.0), fill=(0.35, 0.15, 0.05))
        page.draw_circle(((photo[0] + photo[2]) / 2, (photo[1] + photo[3]) / 2), 40, color=None,
                         fill=(0.85, 0.45, 0.2))
        if caption:
            page.insert_text((photo[0], photo[3] + 14), caption, fontsize=8, fontname="hebo")
    data = doc.tobytes()
    doc.close()
    return data


def scan_pdf(pdf: bytes, dpi: int = 200, angle: float = 1.5, seed: int = 0) -> tuple[bytes, list[np.ndarray]]:
    """Render every page, tint, rotate by ``angle`` degrees, add noise; an image-only PDF and the affines."""
    rng = np.random.default_rng(seed)
    src = pymupdf.open("pdf", pdf)
    out = pymupdf.open()
    mats = []
    for page in src:
        pix = page.get_pixmap(dpi=dpi, alpha=False)
        img = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n)[..., :3].astype(np.float32)
        img *= np.array([0.97, 0.94, 0.88], np.float32)  # yellowish paper
        m = cv2.getRotationMatrix2D(((pix.w - 1) / 2.0, (pix.h - 1) / 2.0), angle, 1.0)
        mats.append(m)
        img = cv2.warpAffine(img, m, (pix.w, pix.h), borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(247, 240, 224))
        img = np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        new = out.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, stream=buf.tobytes())
    data = out.tobytes()
    out.close()
    src.close()
    return data, mats


def rotated_hull(box: tuple[float, float, float, float], m: np.ndarray, dpi: int) -> tuple[float, ...]:
    """Where a page box lands (axis-aligned hull, points) after the scan's rotation ``m`` (pixels)."""
    s = dpi / 72.0
    pts = np.array([[x * s - 0.5, y * s - 0.5, 1.0] for x in (box[0], box[2]) for y in (box[1], box[3])])
    q = (pts @ m.T + 0.5) / s
    return (q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max())
