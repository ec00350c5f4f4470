"""The panels stage on the PALM paper (figures cropped here with the ground-truth boxes), on a compound
figure made of separate embedded images, on single pictures, and its reruns."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
from pydantic import ValidationError

from mmretinal_builder.geometry import from_fractions, rounded
from mmretinal_builder.io import ImageStore
from mmretinal_builder.jobs import run_stages
from mmretinal_builder.schema import Figure, Provenance, figure_id
from mmretinal_builder.stage import Context, stage_class
from mmretinal_builder.stages.pages import PagesParams, PagesStage
from mmretinal_builder.stages.panels import PanelParams, PanelStage

from .synth import compose, fundus

PALM = Path(__file__).resolve().parents[1] / "data" / "palm" / "palm_scidata2024.pdf"
PALM_GT = PALM.with_suffix(".gt.json")


def _figure(book: str, page: int, bbox: list[float], page_size: list[float], rel: str | None, size: list[int],
            caption: str | None, label: str | None = None, caption_bbox: list[float] | None = None,
            parts: list[list[float]] | None = None) -> Figure:
    bbox = rounded(bbox)
    return Figure(id=figure_id(book, page, bbox), book=book, page=page, bbox=bbox, page_size=page_size, label=label,
                  caption=caption, caption_bbox=caption_bbox, caption_page=page if caption_bbox else None,
                  image=rel, image_size=size, parts=parts or [],
                  provenance=Provenance(book=book, page=page, bbox=bbox, page_size=page_size, rule="test"))


def palm_figures(run_dir: Path, native: bool) -> list[Figure]:
    """PALM Fig. 1-4 as the extract stage would hand them over: the embedded raster when it is the whole
    figure (``native``), else a render of the ground-truth box (PDF-text letters included)."""
    gt = json.loads(PALM_GT.read_text(encoding="utf-8"))[0]
    store = ImageStore(run_dir)
    out = []
    with pymupdf.open(PALM) as doc:
        for f in gt["figures"][:4]:
            page = doc[f["page"] - 1]
            ps = [page.rect.width, page.rect.height]
            bbox = list(from_fractions(f["bbox"], ps))
            if native:
                infos = [i for i in page.get_image_info(xrefs=True) if pymupdf.Rect(i["bbox"]).intersects(bbox)]
                info = max(infos, key=lambda i: pymupdf.Rect(i["bbox"]).get_area())
                img = doc.extract_image(info["xref"])
                rel, size, bbox = store.put(img["image"], img["ext"]), [img["width"], img["height"]], list(info["bbox"])
            else:
                pix = page.get_pixmap(clip=pymupdf.Rect(bbox), dpi=150)
                rel, size = store.put(pix.tobytes("png"), "png"), [pix.width, pix.height]
            out.append(_figure(PALM.name, f["page"], bbox, ps, rel, size, f["caption"], f["label"],
                               list(from_fractions(f["caption_bbox"], ps))))
    return out


def _ctx(run_dir: Path, book_path: Path | None = PALM) -> Context:
    """The panels stage's context as a build gives it: the pages the ``pages`` stage read of ``book_path``."""
    pages = run_stages([PagesStage(PagesParams(ocr=False))], run_dir=run_dir, book_path=book_path)[0] \
        if book_path else None
    return Context(run_dir=run_dir, stage="panels", book=book_path.name if book_path else None, book_path=book_path,
                   records={"pages": pages} if pages else {})


@pytest.mark.parametrize("native", [True, False], ids=["native-raster", "rendered-region"])
def test_palm_figures_1_to_4(tmp_path: Path, native: bool) -> None:
    figs = palm_figures(tmp_path, native)
    ctx = _ctx(tmp_path)
    out = PanelStage().run(figs, ctx)
    assert [len(f.panels) for f in out] == [6, 3, 4, 4]
    assert [p.label for p in out[0].panels] == list("abcdef")
    assert {p.label_source for p in out[0].panels} == {"pdf-text"}
    assert [p.label for p in out[1].panels] == list("abc")
    assert {p.label_source for p in out[1].panels} <= {"ocr", "order"}
    assert [p.label for p in out[2].panels] == list("abcd")
    assert [p.label for p in out[3].panels] == ["a1", "a2", "b1", "b2"]
    f1 = out[0].panels[3]
    assert f1.caption.startswith("Examples of retinal lesions commonly observed in PM cases: Retinal atrophy,")
    assert f1.caption.endswith("All images corresponds to training samples from PALM.")
    assert "Tessellated" not in f1.caption
    assert out[3].panels[2].caption == ("Example of the annotation interface used by the experts in a PM sample. "
                                        "original input images")
    for fig in out:
        for p in fig.panels:
            cap = fig.caption
            assert all(0 <= a < b <= len(cap) for a, b in p.caption_spans)
            assert (tmp_path / p.image).is_file()
            x0, y0, x1, y1 = p.bbox_px
            assert p.image_size == [x1 - x0, y1 - y0]
            assert fig.bbox[0] - 1 <= p.bbox[0] < p.bbox[2] <= fig.bbox[2] + 1
    # Fig. 3's panels are one row; each panel box is about a quarter of the figure's width
    widths = [p.bbox[2] - p.bbox[0] for p in out[2].panels]
    assert max(widths) < 0.26 * (out[2].bbox[2] - out[2].bbox[0])
    assert ctx.rejects == []


def test_rerun_is_byte_identical(tmp_path: Path) -> None:
    a = PanelStage().run(palm_figures(tmp_path / "a", True)[1:3], _ctx(tmp_path / "a"))
    b = PanelStage().run(palm_figures(tmp_path / "b", True)[1:3], _ctx(tmp_path / "b"))
    assert [f.to_json() for f in a] == [f.to_json() for f in b]


def _separate_images_pdf(path: Path) -> tuple[list[list[float]], list[float], list[float]]:
    """A page with three photos side by side, PDF-text letters under them and a caption."""
    rng = np.random.default_rng(3)
    doc = pymupdf.open()
    page = doc.new_page(width=500, height=400)
    parts = []
    for i in range(3):
        rect = pymupdf.Rect(50 + i * 135, 50, 50 + i * 135 + 130, 180)
        ok, buf = cv2.imencode(".png", fundus(200, 200, rng))
        page.insert_image(rect, stream=buf.tobytes())
        page.insert_text((rect.x0 + 60, 194), f"({'abc'[i]})", fontsize=8)
        parts.append([rect.x0, rect.y0, rect.x1, rect.y1])
    caption = "Fig. 2 Diabetic retinopathy. (a) Early. (b) Late. (c) Treated."
    page.insert_text((50, 220), caption, fontsize=9)
    doc.save(path)
    return parts, [50, 50, 450, 196], [50, 211, 330, 222]


def _separate_images_figure(tmp_path: Path) -> tuple[Path, Path, Figure, list[list[float]]]:
    """The book of :func:`_separate_images_pdf` and its figure as the crop stage hands it on (a 144 dpi render)."""
    pdf = tmp_path / "book.pdf"
    parts, bbox, cap_box = _separate_images_pdf(pdf)
    with pymupdf.open(pdf) as doc:
        pix = doc[0].get_pixmap(clip=pymupdf.Rect(bbox), dpi=144)
    run = tmp_path / "run"
    rel = ImageStore(run).put(pix.tobytes("png"), "png")
    fig = _figure(pdf.name, 1, bbox, [500, 400], rel, [pix.width, pix.height],
                  "Fig. 2 Diabetic retinopathy. (a) Early. (b) Late. (c) Treated.", "Fig. 2", cap_box, parts)
    return pdf, run, fig, parts


def test_separate_embedded_images_become_panels(tmp_path: Path) -> None:
    pdf, run, fig, parts = _separate_images_figure(tmp_path)
    out = PanelStage().run([fig], _ctx(run, pdf))[0]
    assert [(p.label, p.label_source, p.caption) for p in out.panels] == [
        ("a", "pdf-text", "Diabetic retinopathy. Early."), ("b", "pdf-text", "Diabetic retinopathy. Late."),
        ("c", "pdf-text", "Diabetic retinopathy. Treated.")]
    for p, part in zip(out.panels, parts, strict=True):
        assert p.bbox == pytest.approx(part, abs=1.5)


def test_panel_letters_come_from_the_persisted_pages_not_the_pdf(tmp_path: Path) -> None:
    """The stage reads PDF-text letters from the ``pages`` stage's records: with the PDF gone it still finds them,
    and without the records (a recipe with no pages stage) it does not read the PDF either."""
    pdf, run, fig, parts = _separate_images_figure(tmp_path)
    ctx = _ctx(run, pdf)
    pdf.unlink()
    out = PanelStage(PanelParams(ocr=False)).run([fig], ctx)[0]
    assert [(p.label, p.label_source) for p in out.panels] == [("a", "pdf-text"), ("b", "pdf-text"), ("c", "pdf-text")]
    bare = Context(run_dir=run, stage="panels", book=pdf.name, book_path=pdf)
    out = PanelStage(PanelParams(ocr=False)).run([fig], bare)[0]
    assert len(out.panels) == 3 and {p.label_source for p in out.panels} == {"order"}  # named by reading order


def test_burned_in_letters_are_read_when_the_pdf_has_none(tmp_path: Path) -> None:
    c = compose([3], 11, gutter=10, letters="tag", background=255, tile="mixed", upper=True)
    ok, buf = cv2.imencode(".png", c.image)
    rel = ImageStore(tmp_path).put(buf.tobytes(), "png")
    h, w = c.image.shape[:2]
    cap = "Figure 5 Macular hole. (B) Red-free. (C) OCT. (A) Colour photograph."
    fig = _figure("x.pdf", 1, [0, 0, w / 4, h / 4], [600, 800], rel, [w, h], cap, "Figure 5")
    out = PanelStage().run([fig], _ctx(tmp_path, None))[0]
    assert [p.label for p in out.panels] == ["A", "B", "C"]
    assert "ocr" in {p.label_source for p in out.panels}
    assert out.panels[0].caption == "Macular hole. Colour photograph."


def test_single_pictures_keep_no_panels(tmp_path: Path) -> None:
    from skimage import data as skdata

    store = ImageStore(tmp_path)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(skdata.retina(), cv2.COLOR_RGB2BGR))
    figs = [_figure("x.pdf", 1, [0, 0, 300, 300], [600, 800], store.put(buf.tobytes(), "jpg"), [1411, 1411],
                    "Fig. 1 A normal fundus (a) and nothing else.")]
    out = PanelStage().run(figs, _ctx(tmp_path, None))
    assert out[0].panels == []


def test_missing_or_absent_images_keep_the_figure(tmp_path: Path) -> None:
    figs = [_figure("x.pdf", 1, [0, 0, 10, 10], [600, 800], None, [1, 1], "Fig. 1 (a) x. (b) y."),
            _figure("x.pdf", 2, [0, 0, 10, 10], [600, 800], "images/zz/missing.png", [1, 1], "Fig. 2 (a) x. (b) y.")]
    ctx = _ctx(tmp_path, None)
    out = PanelStage().run(figs, ctx)
    assert [f.panels for f in out] == [[], []]
    assert ctx.counters["panels:no-image"] == 1 and ctx.counters["panels:unreadable-image"] == 1
    assert any("missing.png" in w for w in ctx.warnings)


def test_unassigned_subcaptions_are_reported(tmp_path: Path) -> None:
    c = compose([2], 4, gutter=10)
    ok, buf = cv2.imencode(".png", c.image)
    rel = ImageStore(tmp_path).put(buf.tobytes(), "png")
    h, w = c.image.shape[:2]
    fig = _figure("x.pdf", 1, [0, 0, w / 4, h / 4], [600, 800], rel, [w, h],
                  "Fig. 3 (a) Fundus. (b) FFA. (c) OCT.", "Fig. 3")
    ctx = _ctx(tmp_path, None)
    out = PanelStage(PanelParams(ocr=False)).run([fig], ctx)[0]
    assert [p.caption for p in out.panels] == [None, None]
    reasons = sorted(r["reason"] for r in ctx.rejects)
    assert reasons == ["panel-without-subcaption"] * 2 + ["subcaption-unassigned"] * 3


def test_params_and_registry() -> None:
    assert issubclass(stage_class("panels"), PanelStage)  # PanelStage, then its figures become pairs
    assert PanelStage.scope == "book"
    with pytest.raises(ValidationError):
        PanelParams(gutter_width=3)
    p = PanelParams(min_panel_frac=0.2, ocr=False)
    assert p.split_params().min_panel_frac == 0.2
