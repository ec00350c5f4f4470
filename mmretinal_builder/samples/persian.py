"""A Persian sample paper: right-to-left text, Persian digits, Latin terms inside, one figure per page.

Persian is set by MuPDF's HTML layout (:meth:`pymupdf.Page.insert_htmlbox`, HarfBuzz shaping, bidi) in
DejaVu Sans, the TrueType font matplotlib ships (a builder dependency, so it is there offline); the page
layout is simple and known exactly: a running head, a paragraph, the figure (one procedural fundus, FFA or
OCT image), its caption below (``شکل ۳-۲: ...``, chapter-figure numbers in Persian digits, Latin terms such as
OCT inside), another paragraph. The born-digital text layer holds Arabic presentation forms, which the
builder judges unusable and OCRs; the book is meant to be scanned (variant ``scanned``), so everything comes
from OCR in the book's script, as on the real Persian papers this stands for.
"""

from __future__ import annotations

import random
from typing import Any

import matplotlib
import numpy as np
import pymupdf

from .figures import ImageOptions, make_figure
from .vocab import DISEASE_BY_KEY

FONT_DIR = matplotlib.get_data_path() + "/fonts/ttf"
CSS = ("@font-face {font-family: fa; src: url(DejaVuSans.ttf);} "
       "* {font-family: fa;} p {text-align: justify; margin: 0;}")
WIDTH, HEIGHT = 595.0, 842.0
LEFT, RIGHT, TOP = 70.0, 525.0, 70.0
DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

# (disease key, Persian name)
DISEASES = (("npdr", "رتینوپاتی دیابتی"), ("wamd", "دژنراسیون ماکولا وابسته به سن"),
            ("crvo", "انسداد ورید مرکزی شبکیه"), ("pm", "نزدیک‌بینی پاتولوژیک"),
            ("glaucoma", "گلوکوم"), ("cscr", "کوریورتینوپاتی سروز مرکزی"))
EYES = ("راست", "چپ")
PHASES = ("اولیه", "شریانی-وریدی", "تأخیری")
BODY = ("رتینوپاتی دیابتی یکی از علل اصلی کاهش بینایی در بزرگسالان است و معاینه ته چشم برای تشخیص آن "
        "ضروری است.", "تصویربرداری از شبکیه با عکس رنگی فوندوس، آنژیوگرافی فلورسئین و OCT انجام می‌شود.",
        "در این مطالعه بیماران مراجعه‌کننده به درمانگاه شبکیه بررسی شدند.",
        "ضخامت ماکولا با دستگاه OCT اندازه‌گیری شد و نتایج با گروه شاهد مقایسه گردید.",
        "درمان بر اساس شدت ضایعات و وضعیت بینایی بیمار انتخاب می‌شود.",
        "پیگیری منظم بیماران برای تشخیص زودهنگام عوارض اهمیت دارد.")


def caption(mod: str, number: str, disease: str, rng: random.Random) -> str:
    """A Persian caption naming the modality (in Persian, or as OCT) and the disease."""
    eye = rng.choice(EYES)
    if mod == "CFP":
        body = rng.choice([f"عکس رنگی فوندوس چشم {eye} در بیمار مبتلا به {disease}.",
                           f"تصویر فوندوس بیمار مبتلا به {disease}؛ خونریزی و اگزودا دیده می‌شود."])
    elif mod == "FFA":
        body = f"آنژیوگرافی فلورسئین چشم {eye} در فاز {rng.choice(PHASES)} در بیمار مبتلا به {disease}."
    else:
        body = rng.choice([f"تصویر OCT از ماکولا در بیمار مبتلا به {disease}.",
                           f"توموگرافی انسجام نوری ماکولا در بیمار مبتلا به {disease}."])
    return f"شکل {number.translate(DIGITS)}: {body}"


def _html(page: pymupdf.Page, rect: pymupdf.Rect, text: str, size: float) -> float:
    """Set right-to-left text in ``rect``; returns the height it took."""
    spare, scale = page.insert_htmlbox(rect, f'<p dir="rtl" style="font-size:{size}pt">{text}</p>', css=CSS,
                                       archive=pymupdf.Archive(FONT_DIR))
    if spare < 0 or scale < 1:
        raise RuntimeError(f"persian sample: text does not fit in {rect}")
    return rect.height - spare


def compose_persian(name: str, seed: int, n_figures: int, opts: ImageOptions) -> tuple[pymupdf.Document,
                                                                                     list[dict[str, Any]]]:
    """One figure per page; returns the document and the ground-truth figures (fractions of the page)."""
    rng = random.Random(f"mmretinal-samples-fa:{seed}:{name}")
    doc = pymupdf.open()
    figures: list[dict[str, Any]] = []
    chapter = rng.randint(2, 5)
    for k in range(n_figures):
        page = doc.new_page(width=WIDTH, height=HEIGHT)
        _html(page, pymupdf.Rect(LEFT, 40, RIGHT, 60), "مجله چشم‌پزشکی — مقاله پژوهشی", 7.5)
        y = TOP + _html(page, pymupdf.Rect(LEFT, TOP, RIGHT, TOP + 160), " ".join(rng.sample(BODY, 3)), 10) + 14
        mod = rng.choice(("CFP", "CFP", "FFA", "OCT"))
        key, disease = rng.choice(DISEASES)
        spec = make_figure(k, {"CFP": "raster-cfp", "FFA": "raster-ffa", "OCT": "raster-oct"}[mod],
                           _LABEL, "1", DISEASE_BY_KEY[key], rng, np.random.default_rng([seed, k, 7]), opts)
        im = spec.images[0]
        w = rng.uniform(220, 320)
        h = w / im.aspect
        fig = pymupdf.Rect((WIDTH - w) / 2, y, (WIDTH + w) / 2, y + h)
        page.insert_image(fig, stream=im.data)
        number = f"{chapter}-{k + 1}"
        text = caption(mod, number, disease, rng)
        cap_top = fig.y1 + 8
        cap_h = _html(page, pymupdf.Rect(LEFT + 20, cap_top, RIGHT - 20, cap_top + 60), text, 9)
        _html(page, pymupdf.Rect(LEFT, cap_top + cap_h + 14, RIGHT, HEIGHT - 60), " ".join(rng.sample(BODY, 4)), 10)
        figures.append({
            "label": f"شکل {number.translate(DIGITS)}", "page": k + 1, "bbox": _frac(fig), "panels": 1,
            "panel_note": "", "modality": mod, "retinal": "yes", "caption": text,
            "caption_bbox": _frac(pymupdf.Rect(LEFT + 20, cap_top, RIGHT - 20, cap_top + cap_h)),
            "caption_position": "below", "caption_page": k + 1, "kind": "raster", "note": spec.note,
        })
    return doc, figures


def _frac(r: pymupdf.Rect) -> list[float]:
    return [round(r.x0 / WIDTH, 6), round(r.y0 / HEIGHT, 6), round(r.x1 / WIDTH, 6), round(r.y1 / HEIGHT, 6)]


def _label_style() -> Any:
    from .captions import LabelStyle

    return LabelStyle("Fig.", "-", " ", "Table", "en")  # make_figure's own (English) caption is not used


_LABEL = _label_style()
