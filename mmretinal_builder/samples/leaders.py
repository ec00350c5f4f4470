"""Case-summary boxes with dot leaders under some figures ("Visual acuity ........ 6/12").

Case atlases print a patient's findings under the case's photograph and caption as a list whose labels and
values are joined by leader dots. On such a page the dots are most of the characters of the text layer: a
text-layer check that counts letters and digits against all visible characters reads a perfectly good page as a
broken font map and sends it to OCR, whose caption is then Tesseract's reading instead of the printed text. The
boxes here are drawn in the leader styles producers use:

* ``dots``: one run of full stops (FOP, Word tab leaders, InDesign): ``Refraction .............. -2.00 DS``;
* ``tex``: TeX's ``\\dotfill`` (``\\leaders\\hbox to .44em{\\hss.\\hss}\\hfill``): one dot glyph per 0.44 em,
  aligned across lines; the 0.16 em gaps come out of a text extractor as spaces:
  ``Agudeza visual, OD . . . . 0,5``;
* ``middot``: a run of middle dots ``·······`` (QuarkXPress, French typography);
* ``ellipsis``: Chinese typesetting's ``……`` (U+2026 in the CJK font, which MuPDF reads as ``⋯``):
  ``右眼眼压……………… 14 mmHg``.

The ground truth lists each box under ``leader_boxes`` (figure label, page, box, style, title, rows, leader
characters drawn); the figure on the page keeps its own ground truth (caption as printed, panels, modality).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .layout import Composer, FigureBlock
from .text import (
    CJK_FONT,
    Line,
    draw_line,
    font_file,
    font_metrics,
    pdf_font_name,
    split_runs,
    text_width,
    union,
)

LEADER_STYLES = ("dots", "tex", "middot", "ellipsis")
#: the leader character of each style
LEADER_CHAR = {"dots": ".", "tex": ".", "middot": "\u00b7", "ellipsis": "\u2026"}
TEX_PITCH = 0.44  # em: plain TeX's \dotfill box
BOX_SIZE = 7.5  # pt: boxes are set a little smaller than captions
ROW_LEADING = 1.32  # x the box size
GAP_ABOVE = 12.0  # pt between the figure's caption and the box

TITLES = {"en": "Case summary", "es": "Resumen del caso", "de": "Fallzusammenfassung", "pt": "Resumo do caso",
          "fr": "Résumé du cas", "zh": "病例摘要"}

Value = Callable[[random.Random, str], str]


def _num(x: float, lang: str, digits: int = 1) -> str:
    s = f"{x:.{digits}f}"
    return s if lang in ("en", "zh") else s.replace(".", ",")


def _acuity(rng: random.Random, lang: str) -> str:
    if lang == "en":  # Snellen, metric or imperial
        i = rng.randrange(7)
        return rng.choice((f"6/{(6, 9, 12, 18, 24, 36, 60)[i]}", f"20/{(20, 30, 40, 60, 80, 120, 200)[i]}"))
    return _num(rng.choice((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)), lang)


def _refraction(rng: random.Random, lang: str) -> str:
    sph = rng.choice((-8.5, -6.0, -4.25, -2.0, -0.75, 0.0, 0.5, 1.25, 2.5))
    sign = "+" if sph > 0 else ("-" if sph < 0 else "")
    text = f"{sign}{_num(abs(sph), lang, 2)} {'DS' if lang == 'en' else 'D'}"
    if rng.random() < 0.4:
        text += f" {_num(-rng.choice((0.5, 0.75, 1.25)), lang, 2)} x {rng.choice((10, 90, 175))}"
    return text


def _choice(**options: tuple[str, ...]) -> Value:
    return lambda rng, lang: rng.choice(options[lang])


_WEEKS = {"en": "weeks", "es": "semanas", "de": "Wochen", "pt": "semanas", "fr": "semaines", "zh": "周"}
_MONTHS = {"en": "months", "es": "meses", "de": "Monate", "pt": "meses", "fr": "mois", "zh": "个月"}


def _span(unit: dict[str, str], lo: int, hi: int) -> Value:
    return lambda rng, lang: f"{rng.randint(lo, hi)}{'' if lang == 'zh' else ' '}{unit[lang]}"


#: (label per language, value maker): the rows of a clinical case summary, both eyes where it matters (no age
#: or sex: the caption may state them)
ROWS: tuple[tuple[dict[str, str], Value], ...] = (
    ({"en": "Visual acuity, right eye", "es": "Agudeza visual, OD", "de": "Visus rechts", "pt": "Acuidade visual, OD",
      "fr": "Acuité visuelle, OD", "zh": "右眼视力"}, _acuity),
    ({"en": "Visual acuity, left eye", "es": "Agudeza visual, OI", "de": "Visus links", "pt": "Acuidade visual, OE",
      "fr": "Acuité visuelle, OG", "zh": "左眼视力"}, _acuity),
    ({"en": "Intraocular pressure, right eye", "es": "Presión intraocular, OD", "de": "Augeninnendruck rechts",
      "pt": "Pressão intraocular, OD", "fr": "Pression intraoculaire, OD", "zh": "右眼眼压"},
     lambda rng, lang: f"{rng.randint(9, 32)} mmHg"),
    ({"en": "Intraocular pressure, left eye", "es": "Presión intraocular, OI", "de": "Augeninnendruck links",
      "pt": "Pressão intraocular, OE", "fr": "Pression intraoculaire, OG", "zh": "左眼眼压"},
     lambda rng, lang: f"{rng.randint(9, 32)} mmHg"),
    ({"en": "Refraction, right eye", "es": "Refracción, OD", "de": "Refraktion rechts", "pt": "Refração, OD",
      "fr": "Réfraction, OD", "zh": "右眼屈光度"}, _refraction),
    ({"en": "Refraction, left eye", "es": "Refracción, OI", "de": "Refraktion links", "pt": "Refração, OE",
      "fr": "Réfraction, OG", "zh": "左眼屈光度"}, _refraction),
    ({"en": "Axial length, right eye", "es": "Longitud axial, OD", "de": "Achsenlänge rechts",
      "pt": "Comprimento axial, OD", "fr": "Longueur axiale, OD", "zh": "右眼眼轴长度"},
     lambda rng, lang: f"{_num(rng.uniform(21.5, 29.5), lang)} mm"),
    ({"en": "Axial length, left eye", "es": "Longitud axial, OI", "de": "Achsenlänge links",
      "pt": "Comprimento axial, OE", "fr": "Longueur axiale, OG", "zh": "左眼眼轴长度"},
     lambda rng, lang: f"{_num(rng.uniform(21.5, 29.5), lang)} mm"),
    ({"en": "Central subfield thickness", "es": "Grosor macular central", "de": "Zentrale Netzhautdicke",
      "pt": "Espessura macular central", "fr": "Épaisseur maculaire centrale", "zh": "黄斑中心凹厚度"},
     lambda rng, lang: f"{rng.randint(180, 640)} \u00b5m"),
    ({"en": "Lens", "es": "Cristalino", "de": "Linse", "pt": "Cristalino", "fr": "Cristallin", "zh": "晶状体"},
     _choice(en=("clear", "pseudophakic", "early nuclear sclerosis"), es=("transparente", "pseudofaquia"),
             de=("klar", "Pseudophakie"), pt=("transparente", "pseudofacia"), fr=("clair", "pseudophaque"),
             zh=("透明", "人工晶状体眼"))),
    ({"en": "Duration of symptoms", "es": "Duración de los síntomas", "de": "Beschwerdedauer",
      "pt": "Duração dos sintomas", "fr": "Durée des symptômes", "zh": "病程"}, _span(_WEEKS, 1, 30)),
    ({"en": "Treatment", "es": "Tratamiento", "de": "Therapie", "pt": "Tratamento", "fr": "Traitement", "zh": "治疗"},
     _choice(en=("observation", "3 anti-VEGF injections", "panretinal photocoagulation"),
             es=("observación", "3 inyecciones anti-VEGF", "panfotocoagulación"),
             de=("Beobachtung", "3 IVOM (Anti-VEGF)", "panretinale Laserkoagulation"),
             pt=("observação", "3 injeções anti-VEGF", "panfotocoagulação"),
             fr=("surveillance", "3 injections anti-VEGF", "photocoagulation panrétinienne"),
             zh=("观察", "玻璃体腔注射抗VEGF药物3次", "全视网膜激光光凝"))),
    ({"en": "Follow-up", "es": "Seguimiento", "de": "Verlaufskontrolle", "pt": "Seguimento", "fr": "Suivi",
      "zh": "随访"}, _span(_MONTHS, 2, 48)),
    ({"en": "Final visual acuity", "es": "Agudeza visual final", "de": "Visus bei Abschluss",
      "pt": "Acuidade visual final", "fr": "Acuité visuelle finale", "zh": "末次随访视力"}, _acuity),
)


def case_rows(lang: str, rng: random.Random) -> list[tuple[str, str]]:
    """The (label, value) rows of one case summary in ``lang`` (en, es, de, pt, fr, zh)."""
    return [(label[lang], value(rng, lang)) for label, value in ROWS]


def pick_case_figures(kinds: list[str], rng: random.Random) -> set[int]:
    """Indices of the figures that get a case-summary box: about one in ten of a book's photographs (one at
    least), never a chart, diagram or the book's full-page plate (the caller skips plates)."""
    photos = [k for k, kind in enumerate(kinds) if kind.startswith(("raster-", "compound-"))]
    if not photos:
        return set()
    return set(rng.sample(photos, max(1, min(len(photos), round(len(kinds) / 10)))))


@dataclass
class LeaderBox:
    """A titled list of ``label <leaders> value`` rows between two rules, the width of the text column."""

    title: str
    rows: list[tuple[str, str]]
    style: str  # one of LEADER_STYLES
    lang: str
    record: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.style not in LEADER_STYLES:
            raise ValueError(f"unknown leader style {self.style!r} (one of {', '.join(LEADER_STYLES)})")

    def _fonts(self, c: Composer) -> tuple[str, str]:
        return c.style.cap_font, c.style.cap_bold

    def height(self, c: Composer) -> float:
        return GAP_ABOVE + BOX_SIZE * 1.6 + 4 + len(self.rows) * BOX_SIZE * ROW_LEADING + 4

    def draw(self, c: Composer, x: float, y: float, width: float) -> None:
        """Draw the box from ``y`` (its gap to the caption included) and record its ground truth."""
        assert c.shape is not None
        font, bold = self._fonts(c)
        top = y + GAP_ABOVE
        title = Line(split_runs(self.title, bold), 0.0, BOX_SIZE * 1.1)
        title.width = sum(text_width(t, f, title.size) for t, f in title.segments)
        asc = max(font_metrics(f)[0] for _, f in title.segments) * title.size
        boxes = [draw_line(c.shape, title, x, top + asc, tex=c.style.tex)]
        rule_y = top + BOX_SIZE * 1.6
        c.shape.draw_line((x, rule_y), (x + width, rule_y))
        leaders = 0
        base = rule_y + 4
        for i, (label, value) in enumerate(self.rows):
            baseline = base + (i + 0.8) * BOX_SIZE * ROW_LEADING
            lab = split_runs(label, font)
            val = split_runs(value, font)
            lab_w = sum(text_width(t, f, BOX_SIZE) for t, f in lab)
            val_w = sum(text_width(t, f, BOX_SIZE) for t, f in val)
            boxes.append(draw_line(c.shape, Line(lab, lab_w, BOX_SIZE), x, baseline, tex=c.style.tex))
            boxes.append(draw_line(c.shape, Line(val, val_w, BOX_SIZE), x + width - val_w, baseline,
                                   tex=c.style.tex))
            leaders += self._leaders(c, x, x + lab_w, x + width - val_w, baseline, font)
        bottom = base + len(self.rows) * BOX_SIZE * ROW_LEADING + 2
        c.shape.draw_line((x, bottom), (x + width, bottom))
        c.shape.finish(color=(0.35, 0.35, 0.35), width=0.5)
        b = union(boxes)
        self.record.update({"page": c.page_no, "bbox": c.frac((x, b[1], x + width, bottom + 0.25)),
                            "style": self.style, "title": self.title, "rows": len(self.rows),
                            "leader_chars": leaders})

    def _leaders(self, c: Composer, x0: float, a: float, b: float, baseline: float, font: str) -> int:
        """Fill ``a``..``b`` with leaders (a space's width kept clear at both ends); returns how many characters."""
        assert c.shape is not None
        ch = LEADER_CHAR[self.style]
        lead_font = CJK_FONT if self.style == "ellipsis" else font
        adv = text_width(ch, lead_font, BOX_SIZE)
        pad = text_width(" ", font, BOX_SIZE)
        a, b = a + pad, b - pad
        if self.style == "tex":
            # \leaders: each dot centred in a 0.44 em box, boxes on a grid from the box's left edge (the dots of
            # successive rows line up), one glyph per box
            pitch = TEX_PITCH * BOX_SIZE
            k0 = int(-(-(a - x0) // pitch))
            k1 = int((b - x0) // pitch)
            for k in range(k0, k1):
                c.shape.insert_text((x0 + k * pitch + (pitch - adv) / 2, baseline), ch, fontname=pdf_font_name(font),
                                    fontfile=font_file(font), fontsize=BOX_SIZE)
            return max(0, k1 - k0)
        n = int((b - a) // adv)
        if n > 0:  # one run, right-aligned against the value (a tab leader ends at the tab stop)
            run = Line([(ch * n, lead_font)], n * adv, BOX_SIZE)
            draw_line(c.shape, run, b - n * adv, baseline)
        return max(0, n)


@dataclass
class CaseFigureBlock(FigureBlock):
    """A figure with its caption, then its case-summary box below both (a case page: the plan puts page breaks
    around it, so no running text dilutes the leaders)."""

    box: LeaderBox | None = None

    def height(self, c: Composer, width: float) -> float:
        return super().height(c, width) + (self.box.height(c) if self.box else 0.0)

    def draw(self, c: Composer, x: float, y: float, width: float) -> None:
        fig_h = super().height(c, width)
        super().draw(c, x, y, width)
        if self.box is not None:
            self.box.record["figure"] = self.spec.caption.label
            self.box.draw(c, x, y + fig_h, width)
