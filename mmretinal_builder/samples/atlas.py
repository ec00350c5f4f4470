"""Sample atlases: book definitions, the plan of each book (chapters, text, figures, tables) and its PDF + GT."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pymupdf

from .captions import TABLES, LabelStyle, body_paragraph
from .figures import ImageOptions, make_figure
from .layout import (
    Block,
    Composer,
    FigureBlock,
    FigureSpec,
    Heading,
    PageBreak,
    PageStyle,
    Paragraph,
    PlateBlock,
    TableBlock,
    flow,
)
from .leaders import TITLES, CaseFigureBlock, LeaderBox, case_rows, pick_case_figures
from .texstyle import TexOptions
from .vocab import (
    CHAPTERS,
    DISEASE_BY_KEY,
    SECTIONS_DE,
    SECTIONS_EN,
    SECTIONS_ES,
    SECTIONS_FR,
    SECTIONS_PT,
    SECTIONS_ZH,
)

LICENSE = "CC0 (generated)"
CASE_NOTE = {"en": " Case {}.", "zh": "（病例{}）", "es": " Caso {}.", "de": " Fall {}.", "pt": " Caso {}.",
             "fr": " Cas {}."}

A4_2COL = PageStyle(
    "a4-2col", "A4, two text columns; figures span one column or the full page width (top of page); captions "
    "below, above, beside full-width figures, and on the page after a full-page plate; running header with page "
    "numbers", 595, 842, left=50, right=50, top=66, bottom=56, columns=2, gutter=18, body_size=9.2, leading=11.5,
    cap_size=7.8, cap_leading=9.6)
MARGIN_1COL = PageStyle(
    "margin-1col", "single text column with a wide left margin (Springer-like); figures in the text column; "
    "captions below, above, or in the left margin beside the figure; running header", 595, 782, left=155, right=50,
    top=62, bottom=50, side_col=(50.0, 143.0), body_size=9.8, leading=12.5, cap_size=8.0, cap_leading=10.0)
ZH_16K = PageStyle(
    "zh-16k", "Chinese 16K page, single column; captions centred below or above figures, a few beside; "
    "running header with chapter (第N章) and page number", 516, 729, left=56, right=56, top=64, bottom=54,
    lang="zh", body_size=9.5, leading=15.5, cap_size=8.5, cap_leading=12.5, cap_align="center", hyphenate=False)
B5_1COL = PageStyle(
    "b5-1col", "B5, single column; chapters in Spanish, German and English; captions below, above or beside "
    "figures; page numbers in the footer", 499, 709, left=54, right=54, top=60, bottom=54, body_size=9.5,
    leading=12.2, cap_size=8.0, cap_leading=10.0, page_number_in_footer=True, chapter_word="")
LATEX_THESIS = PageStyle(
    "latex-thesis", "A4 thesis typeset with pdfTeX, single column; chapters in Spanish, Portuguese and French; "
    "every accent drawn as its own glyph over the letter, no space characters (gaps only), the underscore a "
    "rule; captions below or above figures; page numbers in the footer", 595, 842, left=85, right=85, top=80,
    bottom=70, body_font="mpl:DejaVuSerif", body_bold="mpl:DejaVuSerif-Bold", body_size=9.5, leading=12.5,
    cap_font="mpl:DejaVuSerif", cap_bold="mpl:DejaVuSerif-Bold", cap_size=8.5, cap_leading=10.5,
    header_font="mpl:DejaVuSerif", page_number_in_footer=True, chapter_word="", tex=TexOptions(dotless_i=True))

EN_FIG = LabelStyle("Fig.", "-", " ", "Table", "en")
EN_FIGURE = LabelStyle("Figure", ".", ": ", "Table", "en")
EN_CAPS = LabelStyle("FIG.", None, ". ", "TABLE", "en")
ZH_SPACE = LabelStyle("图", "-", " ", "表", "zh")
ZH_FULLWIDTH = LabelStyle("图", "-", "．", "表", "zh")
PERSIAN_A4 = PageStyle(
    "fa-a4", "A4 Persian paper, one column, right-to-left text set by MuPDF's HTML layout in DejaVu Sans; one "
    "figure per page with its caption below", 595, 842, left=70, right=70, top=70, bottom=60, lang="fa")
ES_FIGURA = LabelStyle("Figura", ".", ". ", "Tabla", "es")
DE_ABB = LabelStyle("Abb.", None, ": ", "Tab.", "de")
ES_FIGURA_TEX = LabelStyle("Figura", ".", ": ", "Tabla", "es")  # LaTeX's default "Figura 2.10: ..."
PT_FIGURA = LabelStyle("Figura", ".", ": ", "Tabela", "pt")
FR_FIGURE = LabelStyle("Figure", ".", " \u2013 ", "Tableau", "fr")  # babel-french: "Figure 4.2 – ..."


@dataclass(frozen=True)
class BookDef:
    """One sample book: file stem, page style, label style per chapter, language, variant."""

    name: str
    style: PageStyle
    labels: tuple[LabelStyle, ...]  # one per chapter, cycled
    lang: str  # English | Chinese | mixed
    variant: str = "born-digital"  # born-digital | scanned | broken-text
    #: leader style of the case-summary boxes under some figures (leaders.py): "" (none), dots, tex, middot,
    #: ellipsis. Off in the bundled books (their bytes predate it).
    leaders: str = ""


BOOKS: tuple[BookDef, ...] = (
    BookDef("retina_atlas_en_2col", A4_2COL, (EN_FIG,), "English"),
    BookDef("fundus_atlas_en_margin", MARGIN_1COL, (EN_FIGURE,), "English", leaders="middot"),
    BookDef("yandibing_tupu_zh", ZH_16K, (ZH_SPACE,), "Chinese", leaders="ellipsis"),
    BookDef("proceedings_mixed_b5", B5_1COL, (ES_FIGURA, DE_ABB, EN_CAPS), "mixed", leaders="dots"),
    BookDef("retina_atlas_en_scan", replace(A4_2COL, page_number_in_footer=True), (EN_CAPS,), "English", "scanned"),
    BookDef("yandi_zh_broken", ZH_16K, (ZH_FULLWIDTH,), "Chinese", "broken-text"),
    BookDef("yandibing_tupu_zh_scan", ZH_16K, (ZH_SPACE,), "Chinese", "scanned"),
    BookDef("tesis_latex_es_pt_fr", LATEX_THESIS, (ES_FIGURA_TEX, PT_FIGURA, FR_FIGURE), "mixed", leaders="tex"),
    BookDef("maghaleh_fa_scan", PERSIAN_A4, (), "Persian", "scanned"),
)

# share of each figure kind in a book (the rest of the plan fixes minimums)
KIND_WEIGHTS = {
    "raster-cfp": 16, "raster-ffa": 8, "raster-oct": 7, "raster-retina": 4, "compound-separate": 20,
    "compound-single": 14, "compound-tiles": 10, "compound-inset": 4, "vector-bar": 3, "vector-line": 3,
    "vector-eye": 3, "vector-flow": 2, "borderline-flow": 2, "neg-device": 2, "neg-external": 2, "neg-rchart": 2,
}
# every book of n figures holds the first n-2 of these (negatives early, so even small books have some)
MINIMUM = ("raster-cfp", "compound-separate", "compound-single", "vector-bar", "compound-tiles", "raster-oct",
           "raster-ffa", "neg-device", "borderline-flow", "compound-inset", "vector-eye", "raster-retina",
           "compound-single", "compound-tiles", "compound-separate")


def _kinds(n: int, rng: random.Random) -> list[str]:
    base = list(MINIMUM[: max(0, min(len(MINIMUM), n - 2))])
    names = list(KIND_WEIGHTS)
    weights = [KIND_WEIGHTS[k] for k in names]
    while len(base) < n:
        base.append(rng.choices(names, weights)[0])
    rng.shuffle(base)
    return base[:n]


def _caption_position(style: PageStyle, spec: FigureSpec, rng: random.Random) -> str:
    if style.columns > 1:
        if spec.span == "full":
            return rng.choices(["below", "above", "right", "left"], [0.6, 0.1, 0.15, 0.15])[0]
        return rng.choices(["below", "above"], [0.85, 0.15])[0]
    if style.side_col is not None:
        return rng.choices(["below", "above", "left"], [0.5, 0.1, 0.4])[0]
    return rng.choices(["below", "above", "right", "left"], [0.7, 0.14, 0.1, 0.06])[0]


@dataclass
class BookPlan:
    """The blocks of one book in reading order and its figures by index."""

    blocks: list[Block]
    figures: list[FigureSpec]
    leader_boxes: list[LeaderBox] = field(default_factory=list)


def plan_book(book: BookDef, seed: int, n_figures: int, opts: ImageOptions) -> BookPlan:
    """Decide chapters, figures, captions, text and tables for one book (deterministic for the seed)."""
    rng = random.Random(f"mmretinal-samples:{seed}:{book.name}")
    st = book.style
    n_ch = 1 if n_figures < 8 else (2 if n_figures < 16 else 3)
    chapter_ids = sorted(rng.sample(range(len(CHAPTERS)), n_ch))
    first_no = rng.randint(1, 4)
    kinds = _kinds(n_figures, rng)
    # a generator of its own: the books without case boxes (the bundled ones) keep every other choice
    case_rng = random.Random(f"mmretinal-samples-leaders:{seed}:{book.name}")
    cases = pick_case_figures(kinds, case_rng) if book.leaders else set()
    leader_boxes: list[LeaderBox] = []
    owed = 0  # case boxes whose figure became the plate or is not a photograph: the next photograph takes them
    per = [n_figures // n_ch + (1 if i < n_figures % n_ch else 0) for i in range(n_ch)]
    blocks: list[Block] = []
    figures: list[FigureSpec] = []
    plate_at = rng.randrange(max(1, n_figures // 3), max(2, n_figures - 1)) if n_figures >= 6 else -1
    global_no = rng.randint(1, 20)  # book-wide numbering starts mid-book
    k = 0
    n_tables = 0
    plated = False
    seen_captions: set[str] = set()
    for ci, (cid, n_here) in enumerate(zip(chapter_ids, per, strict=True)):
        keys, titles = CHAPTERS[cid]
        labels = book.labels[ci % len(book.labels)]
        lang = labels.lang
        chap_no = first_no + ci
        title = titles[lang]
        if ci:
            blocks.append(PageBreak())
        head = f"第{chap_no}章　{title}" if lang == "zh" else (f"{chap_no} {title}")
        blocks.append(Heading(head, 15.0 if st.columns > 1 else 16.0, chapter=chap_no, chapter_title=title,
                              space_before=8, space_after=12))
        sections = {"en": SECTIONS_EN, "zh": SECTIONS_ZH, "es": SECTIONS_ES, "de": SECTIONS_DE, "pt": SECTIONS_PT,
                    "fr": SECTIONS_FR}[lang]
        d0 = DISEASE_BY_KEY[keys[0]]
        blocks.append(Paragraph(body_paragraph(lang, d0, [], rng)))
        tables_here = TABLES[lang]
        for j in range(n_here):
            d = DISEASE_BY_KEY[rng.choice(keys)]
            n_in_ch = j + 1
            number = labels.number(chap_no, n_in_ch) if labels.chapter_sep else str(global_no)
            global_no += 1
            nprng = np.random.default_rng([seed, _stable(book.name), k])
            spec = make_figure(k, kinds[k], labels, number, d, rng, nprng, opts)
            while spec.caption.text()[len(spec.caption.label):] in seen_captions:
                # identical captions would make the ground truth ambiguous: tell the cases apart
                spec.caption.preamble = (spec.caption.preamble + CASE_NOTE[lang].format(k + 1)).lstrip()
            seen_captions.add(spec.caption.text()[len(spec.caption.label):])
            if 0 <= plate_at <= k and not plated and spec.retinal == "yes":
                plated = True
                spec.span, spec.caption_position, spec.width_frac = "plate", "next-page", 1.0
            else:
                if st.columns > 1 and (spec.kind.startswith("compound") and rng.random() < 0.55
                                       or spec.modality == "OCT" and rng.random() < 0.3 or rng.random() < 0.08):
                    spec.span = "full"
                spec.caption_position = _caption_position(st, spec, rng)
                if spec.kind == "raster" and spec.caption_position in ("below", "above"):
                    spec.width_frac = rng.uniform(0.55, 1.0)
                elif spec.kind.startswith("compound"):
                    spec.width_frac = rng.uniform(0.85, 1.0)
                spec.cap_match_fig = spec.width_frac < 0.8 and rng.random() < 0.35
                spec.side_align = rng.choice(["top", "bottom"])
            figures.append(spec)
            if j % 4 == 0 and j:
                blocks.append(Heading(rng.choice(sections), 10.5, space_before=6, space_after=4))
            ref = spec.caption.label
            for p in range(rng.choice([1, 1, 2])):
                refs = [ref] if p == 0 else []
                if p == 0 and j and rng.random() < 0.3:
                    refs.append(figures[-2].caption.label)
                # a paragraph opening with 'Fig. N shows' (a false caption) in every chapter, then now and then
                lead = p == 0 and (j == 1 or rng.random() < 0.15)
                blocks.append(Paragraph(body_paragraph(lang, d, refs, rng, lead_ref=lead)))
            owed += k in cases
            if spec.span == "plate":
                blocks.append(PlateBlock(spec))
            elif owed and spec.retinal == "yes":
                owed -= 1
                # the caption between the photograph and the box, as case atlases print them: a ruled box right
                # under a figure (caption beside or above) is a failure mode of its own (the figure's box grows
                # over the rules), not the one these pages show
                spec.caption_position = "below"
                # a case page: the figure, its caption and the case summary, alone on the page
                box = LeaderBox(TITLES[lang], case_rows(lang, case_rng), book.leaders, lang)
                leader_boxes.append(box)
                blocks.extend([PageBreak(), CaseFigureBlock(spec, box=box), PageBreak()])
            else:
                blocks.append(FigureBlock(spec))
            if j == n_here // 2 and n_tables < len(tables_here) + 1:
                t_title, t_head, t_rows = tables_here[n_tables % len(tables_here)]
                t_no = labels.number(chap_no, 1) if labels.chapter_sep else str(n_tables + 1)
                n_tables += 1
                blocks.append(Paragraph(_table_ref(lang, labels.label(t_no, table=True))))
                blocks.append(TableBlock(labels.label(t_no, table=True), labels.printed(t_no, table=True), t_title,
                                         t_head, t_rows))
            k += 1
        blocks.append(Paragraph(body_paragraph(lang, d0, [], rng)))
    return BookPlan(blocks, figures, leader_boxes)


def _table_ref(lang: str, label: str) -> str:
    if lang == "zh":
        return f"各期的主要特点见{label.replace(' ', '')}。临床上应结合病史及多模式影像综合判断。"
    if lang == "es":
        return f"Los criterios se resumen en la {label}."
    if lang == "de":
        return f"Die Kriterien sind in {label} zusammengefasst."
    if lang == "pt":
        return f"Os critérios resumem-se na {label}."
    if lang == "fr":
        return f"Les critères sont résumés dans le {label}."
    return f"The main criteria are summarised in {label}; grading should always be based on the whole fundus."


def _stable(name: str) -> int:
    """A stable integer for a name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def save_pdf(doc: pymupdf.Document, title: str) -> bytes:
    """Serialise with fixed metadata and no new /ID, so the bytes depend only on the content."""
    doc.set_metadata({"title": title, "author": "mmretinal_builder.samples", "subject": "synthetic fundus atlas",
                      "creator": "mmretinal_builder.samples", "producer": "PyMuPDF", "creationDate": "",
                      "modDate": "", "keywords": "", "trapped": ""})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)


TRAPS = {
    "a4-2col": "two columns with full-width figures at the page top; body text cites figures and some paragraphs "
               "start with 'Fig. N shows ...'; captions above and beside figures; a full-page plate whose caption "
               "opens the next page; soft hyphens in captions; bold labels and bold panel letters in separate "
               "spans; compound figures as separate images and as one raster with gutters; panel letters in PDF "
               "text and burned into rasters; vector charts and diagrams with captions (negatives); tables with "
               "captions (not figures)",
    "margin-1col": "captions in the left margin beside the figure; 'Figure N.M:' labels; a full-page plate with "
                   "the caption on the next page; soft hyphens; compound figures in both forms; vector negatives; "
                   "tables",
    "zh-16k": "Chinese captions (图 3-12) centred, mixed CJK/Latin spans; body text cites 图3-12 without a space "
              "and some paragraphs start with it; panel heads A．/（A）; a plate with the caption on the next page; "
              "tables 表 N-M",
    "b5-1col": "captions in Spanish (Figura 2.5.), German (Abb. 3:) and English (FIG. 4.); book-wide and "
               "chapter numbering mixed; page numbers in the footer",
    "fa-a4": "Persian (right-to-left) text with Latin terms (OCT) inside; caption labels شکل ۳-۲ with "
             "chapter-figure numbers in Persian digits (Tesseract reads hyphen-joined numbers backwards); the text "
             "layer holds Arabic presentation forms; meant to be scanned: OCR languages must come from script "
             "detection (fas)",
    "latex-thesis": "pdfTeX drawing: accents are separate glyphs kerned over their letters (acute, grave, "
                    "circumflex, tilde, diaeresis, cedilla) and words are separated by gaps, not spaces, so a "
                    "reader of the drawing order gets 'utilizando ´unicamente'; underscores are rules "
                    "('Image_05L' read as 'Image 05L'); captions in Spanish (Figura 2.10:), Portuguese (Figura "
                    "3.1:) and French (Figure 4.2 – , spaces before ':' and ';') naming modalities in those "
                    "languages; tables (Tabla, Tabela, Tableau)",
}


def compose_book(book: BookDef, seed: int, n_figures: int, opts: ImageOptions) -> tuple[bytes, dict[str, Any]]:
    """Lay out one born-digital book; returns the PDF bytes and its ground-truth document."""
    tables: list[dict[str, Any]] = []
    leader_boxes: list[dict[str, Any]] = []
    if book.style.lang == "fa":
        from .persian import compose_persian

        doc, figures = compose_persian(book.name, seed, max(1, min(n_figures, 8)), opts)
        doc.subset_fonts()
    else:
        plan = plan_book(book, seed, n_figures, opts)
        doc = pymupdf.open()
        comp = Composer(doc, book.style, random.Random(f"mmretinal-samples-draw:{seed}:{book.name}"))
        flow(comp, plan.blocks)
        if book.style.tex is not None:
            doc.subset_fonts()  # the embedded TrueType fonts: only the glyphs used
        missing = [s.caption.label for s in plan.figures if s.index not in comp.figures
                   or comp.figures[s.index]["caption_bbox"] is None]
        if missing:
            raise RuntimeError(f"{book.name}: figures or captions not placed: {missing}")
        figures = [comp.figures[s.index] for s in plan.figures]
        tables = comp.tables
        leader_boxes = [b.record for b in plan.leader_boxes]
    pdf = save_pdf(doc, book.name.replace("_", " "))
    st = book.style
    gt = {
        "id": f"{book.name}.pdf",
        "note_src": f"Synthetic atlas generated by mmretinal_builder.samples (seed {seed}); every image, chart "
                    "and text is procedural or from scikit-image's CC0 retina() photograph.",
        "size": len(pdf),
        "sha256": hashlib.sha256(pdf).hexdigest(),
        "pages": doc.page_count,
        "page_pt": f"{st.width:g}x{st.height:g}",
        "lang": book.lang,
        "layout": st.description,
        "license": LICENSE,
        "traps": TRAPS[st.name],
        "variant": "born-digital",
        "seed": seed,
        "figures": figures,
        "tables": tables,
    }
    if leader_boxes:  # only books with case boxes carry the key (the bundled books' ground truth stays the same)
        gt["leader_boxes"] = leader_boxes
        gt["traps"] += (f"; case-summary boxes with {book.leaders} leaders under {len(leader_boxes)} figures "
                        "('Visual acuity .......... 6/12'): the leader characters are most of the page's text, a "
                        "good text layer that a letters-per-character check reads as broken")
    doc.close()
    return pdf, gt
