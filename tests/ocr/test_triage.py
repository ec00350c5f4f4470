"""Which pages OCR reads (issue 18): pages that can hold a figure or its caption, never a text-only page."""

from __future__ import annotations

from mmretinal_builder.pdf.page_model import DrawingCluster, ImagePlacement, PageModel
from mmretinal_builder.pdf.scan.triage import ocr_reasons

A4 = (595.0, 842.0)


def page(n: int, layer: str, images: list[tuple[float, float, float, float]] = (), chart: bool = False) -> PageModel:
    ims = [ImagePlacement(xref=1, bbox=b, transform=(b[2] - b[0], 0, 0, b[3] - b[1], b[0], b[1]), width_px=100,
                          height_px=100) for b in images]
    drawings = [DrawingCluster((100, 100, 400, 300), n_paths=40, n_curves=12)] if chart else []
    return PageModel(number=n, size=A4, images=ims, drawings=drawings, text_layer=layer)  # type: ignore[arg-type]


def test_scans_and_pictures_without_text_are_read():
    models = [page(1, "none", [(0, 0, 595, 842)]), page(2, "none", [(100, 100, 300, 250)]),
              page(3, "broken", [(0, 0, 595, 500)]), page(4, "ok", [(0, 0, 595, 842)])]
    assert ocr_reasons(models) == {1: "scan", 2: "image", 3: "scan"}


def test_text_only_pages_are_never_read():
    """3000 pages of one short line: no text layer to speak of, no image, no figure anywhere near."""
    models = [page(k, "none") for k in range(1, 3001)]
    assert ocr_reasons(models) == {}
    tiny = [page(1, "none", [(10, 10, 30, 30)])]  # an icon or a bullet: no figure, no caption in it
    assert ocr_reasons(tiny) == {}


def test_a_broken_page_is_read_when_it_or_a_neighbour_holds_figure_material():
    models = [page(1, "broken"), page(2, "broken"), page(3, "ok", chart=True), page(4, "broken"), page(5, "broken"),
              page(6, "broken", chart=True), page(7, "none")]
    # 2 and 4 sit beside the chart on page 3 (a caption may be there), 5 beside 6, 6 holds a chart; 1 is
    # text-only with no figure beside it; 7 has no text and no image (blank or all vector): nothing to read
    assert ocr_reasons(models) == {2: "broken-text-layer", 4: "broken-text-layer", 5: "broken-text-layer",
                                   6: "broken-text-layer"}
