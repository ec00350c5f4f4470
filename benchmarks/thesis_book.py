"""A long, text-heavy, thesis-like PDF set the way pdfTeX sets it: the benchmark's second kind of real-looking book.

The figure-dense book (PALM x 25) measures renders; a thesis measures the rest: about 45 lines of justified body text
per page, few figures. What this generator writes, page after page (A4, one column, 11 pt Times):

* body text as pdfTeX writes it: one text object per line, words placed by ``TJ`` kerns (no space glyphs), justified;
  accents as glyphs of their own kerned over their letter (OT1 encoding: ``Represent´acion``-style lines that the
  reader repairs glyph by glyph), author names with accents in the text and the bibliography;
* a running head in italics over a 0.4 pt head rule, the page number at the foot, chapter openings, section
  headings in bold, numbered display equations, footnotes under a short rule, a dotted table of contents;
* every ~9 pages a figure (a fundus photograph, a pair of them with (a)/(b), or a vector chart) with its
  ``Figure 3.2:`` caption below, every ~14 pages a booktabs table (three rules) with its caption above; the body
  cites them ("as shown in Figure 3.2"), as real prose does.

Deterministic for a seed. ``python benchmarks/thesis_book.py 200 thesis200.pdf``
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pymupdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmretinal_builder.samples import charts  # noqa: E402
from mmretinal_builder.samples.captions import body_paragraph  # noqa: E402
from mmretinal_builder.samples.fundus import draw_cfp  # noqa: E402
from mmretinal_builder.samples.panels import encode  # noqa: E402
from mmretinal_builder.samples.vocab import DISEASES  # noqa: E402

W, H = 595.0, 842.0
LEFT, RIGHT, TOP, BOTTOM = 85.0, 510.0, 95.0, 760.0
SIZE, LEAD = 11.0, 13.6
FONTS = {"R": ("tiro", "Times-Roman"), "B": ("tibo", "Times-Bold"), "I": ("tiit", "Times-Italic")}
ACCENT_GLYPH = {"\u0301": "\u00b4", "\u0300": "`", "\u0308": "\u00a8", "\u0303": "~", "\u0302": "^"}
NAMES = ["Gómez", "Müller", "Pérez", "Martínez", "Núñez", "Sánchez", "Brändle", "Jiménez", "Björk", "Öztürk"]
_METRICS = {k: pymupdf.Font(v[0]) for k, v in FONTS.items()}


def _adv(text: str, font: str, size: float) -> float:
    f = _METRICS[font]
    return sum(f.glyph_advance(ord(c)) for c in text) * size


def _pdf_str(s: str) -> str:
    b = s.encode("cp1252", "replace")
    return "(" + "".join(chr(c) if 32 <= c < 127 and chr(c) not in "()\\" else f"\\{c:03o}" for c in b) + ")"


def _word_ops(word: str, font: str, size: float) -> list[str]:
    """TJ elements of one word: accented letters as letter + accent glyph kerned over it (OT1 style)."""
    import unicodedata

    ops: list[str] = []
    run = ""
    for ch in word:
        dec = unicodedata.normalize("NFD", ch)
        if len(dec) == 2 and dec[1] in ACCENT_GLYPH:
            if run:
                ops.append(_pdf_str(run))
                run = ""
            base, acc = dec[0], ACCENT_GLYPH[dec[1]]
            wl, wa = _adv(base, font, size), _adv(acc, font, size)
            shift = (wl - wa) / 2  # pdfTeX: \accent kerns the accent over the letter, then back
            ops += [f"{-shift / size * 1000:.0f}", _pdf_str(acc), f"{(shift + wa) / size * 1000:.0f}", _pdf_str(base)]
        else:
            run += ch
    if run:
        ops.append(_pdf_str(run))
    return ops


class Thesis:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.nprng = np.random.default_rng(seed)
        self.doc = pymupdf.open()
        self.page: pymupdf.Page | None = None
        self.ops: list[str] = []
        self.y = TOP
        self.chapter = 0
        self.head = ""
        self.figs = self.tables = self.eqs = 0
        self.since_fig = self.since_table = 0
        self.pending: list[str] = []  # figure/table references the coming paragraphs cite

    # -------------------------------------------------------------- pages and text objects

    def new_page(self) -> None:
        self.flush()
        self.page = self.doc.new_page(width=W, height=H)
        for alias, _base in FONTS.values():
            self.page.insert_font(fontname=alias)  # a base-14 font under its resource name, not embedded
        self.y = TOP
        n = self.doc.page_count
        if self.head:
            self.text(LEFT, 62, self.head, "I", 10)
            self.ops.append(f"q 0 g {LEFT} {H - 66:.2f} {RIGHT - LEFT} 0.4 re f Q")  # the head rule
        self.text((LEFT + RIGHT) / 2 - _adv(str(n), "R", 10) / 2, 800, str(n), "R", 10)
        self.since_fig += 1
        self.since_table += 1

    def flush(self) -> None:
        if self.page is None or not self.ops:
            return
        xref = self.doc.get_new_xref()
        self.doc.update_object(xref, "<<>>")
        self.doc.update_stream(xref, "\n".join(self.ops).encode("latin-1"))
        old = self.page.get_contents()
        refs = " ".join(f"{x} 0 R" for x in [*old, xref])
        self.doc.xref_set_key(self.page.xref, "Contents", f"[{refs}]")
        self.ops = []

    def text(self, x: float, baseline: float, s: str, font: str = "R", size: float = SIZE,
             width: float | None = None) -> None:
        """One line as one text object; ``width``: justified to it (the word gaps stretched by kerns)."""
        words = s.split()
        if not words:
            return
        natural = sum(_adv(w, font, size) for w in words)
        space = _adv(" ", font, size)
        gap = (width - natural) / (len(words) - 1) if width and len(words) > 1 else space
        tj: list[str] = []
        for k, w in enumerate(words):
            if k:
                tj.append(f"{-gap / size * 1000:.0f}")
            tj += _word_ops(w, font, size)
        alias = FONTS[font][0]
        self.ops.append(f"BT /{alias} {size:g} Tf 1 0 0 1 {x:.2f} {H - baseline:.2f} Tm [{' '.join(tj)}] TJ ET")

    def room(self, h: float) -> None:
        if self.y + h > BOTTOM:
            self.new_page()

    def paragraph(self, s: str, font: str = "R", size: float = SIZE, indent: float = 15.0) -> None:
        words = s.split()
        line: list[str] = []
        first = True
        while words:
            avail = RIGHT - LEFT - (indent if first else 0)
            line = [words.pop(0)]
            while words and _adv(" ".join([*line, words[0]]), font, size) <= avail:
                line.append(words.pop(0))
            self.room(LEAD)
            x = LEFT + (indent if first else 0)
            self.text(x, self.y + size, " ".join(line), font, size, width=avail if words else None)
            self.y += LEAD * size / SIZE
            first = False
        self.y += 2

    # -------------------------------------------------------------- content

    def sentence_pool(self) -> str:
        d = self.rng.choice(DISEASES)
        refs, self.pending = self.pending[:2], self.pending[2:]
        s = body_paragraph("en", d, refs, self.rng)
        if self.rng.random() < 0.5:  # citations with accented author names, as in any bibliography-heavy text
            s += f" Similar results were reported by {self.rng.choice(NAMES)} et al. [{self.rng.randint(1, 180)}]."
        if self.rng.random() < 0.15:
            s += " The clasificación clínica of the Asociación Panamericana is used throughout."
        return s

    def chapter_start(self, title: str) -> None:
        self.chapter += 1
        self.figs = self.tables = self.eqs = 0
        self.head = f"Chapter {self.chapter}. {title}"
        saved, self.head = self.head, ""
        self.new_page()  # a chapter's first page has no running head
        self.head = saved
        self.text(LEFT, 190, f"Chapter {self.chapter}", "B", 20)
        self.text(LEFT, 230, title, "B", 24)
        self.y = 270

    def section(self, title: str) -> None:
        self.room(4 * LEAD)
        self.y += 8
        self.text(LEFT, self.y + 13, title, "B", 13)
        self.y += 24

    def equation(self) -> None:
        self.room(3 * LEAD)
        self.eqs += 1
        self.y += 4
        self.text(230, self.y + SIZE, "S = TP / (TP + FN),  F = 2 P R / (P + R)", "I")
        self.text(RIGHT - 30, self.y + SIZE, f"({self.chapter}.{self.eqs})")
        self.y += LEAD + 8

    def footnote(self) -> None:
        if self.y > BOTTOM - 60:
            return
        self.ops.append(f"q 0 g {LEFT} {H - (BOTTOM - 6):.2f} 144 0.4 re f Q")
        self.text(LEFT, BOTTOM + 5, f"{self.rng.randint(1, 9)} Data from the hospital of {self.rng.choice(NAMES)}, "
                                    "collected between 2015 and 2019.", "R", 9)

    def figure(self) -> None:
        self.figs += 1
        label = f"{self.chapter}.{self.figs}"
        kind = self.rng.choice(["photo", "pair", "chart"])
        h = 230.0 if kind != "pair" else 170.0
        self.room(h + 4 * LEAD)
        assert self.page is not None
        top = self.y + 6
        if kind == "chart":
            shape = self.page.new_shape()
            cv = charts.Canvas(shape, "helv")
            (charts.bar_chart if self.rng.random() < 0.5 else charts.line_plot)(
                cv, (170, top, 430, top + h), self.rng, "en")
            shape.commit()
            what = "Visual acuity over the follow-up of the treated and untreated groups"
        else:
            n = 1 if kind == "photo" else 2
            side = h if n == 1 else 170.0
            x0 = (W - n * side - (n - 1) * 12) / 2
            for k in range(n):
                img = draw_cfp(self.nprng, 900, 900, tuple(self.rng.sample(["ma", "dot_haem", "cws", "drusen"], 2)))
                r = pymupdf.Rect(x0 + k * (side + 12), top, x0 + k * (side + 12) + side, top + side)
                self.page.insert_image(r, stream=encode(img, "jpg"))
                if n == 2:
                    self.text(r.x0 + 4, r.y0 + 14, f"({'ab'[k]})", "B", 11)
            what = "Colour fundus photographs of the study eye at baseline" + (" (a) and at month 12 (b)" if n == 2
                                                                                 else "")
        self.y = top + h + 10
        self.paragraph(f"Figure {label}: {what}, showing {self.rng.choice(DISEASES).name['en']}.", size=10, indent=0)
        self.y += 6
        self.pending.append(f"Figure {label}")
        self.since_fig = 0

    def table(self) -> None:
        self.tables += 1
        label = f"{self.chapter}.{self.tables}"
        rows = self.rng.randint(4, 8)
        self.room((rows + 4) * LEAD)
        self.paragraph(f"Table {label}: Characteristics of the {self.rng.randint(40, 400)} included eyes.", size=10,
                       indent=0)
        cols = [LEFT + 30, LEFT + 160, LEFT + 260, LEFT + 340]
        self.ops.append(f"q 0 g {LEFT + 20} {H - self.y:.2f} {RIGHT - LEFT - 40} 0.8 re f Q")
        self.y += 4
        for k, cell in enumerate(["Group", "Eyes (n)", "Age (years)", "BCVA (logMAR)"]):
            self.text(cols[k], self.y + SIZE, cell, "R", 10)
        self.y += LEAD + 2
        self.ops.append(f"q 0 g {LEFT + 20} {H - self.y:.2f} {RIGHT - LEFT - 40} 0.5 re f Q")
        self.y += 4
        for _ in range(rows):
            cells = [self.rng.choice(["Treated", "Control", "Fellow eye", "Mild NPDR", "PDR"]),
                     str(self.rng.randint(10, 200)), f"{self.rng.uniform(40, 80):.1f}", f"{self.rng.uniform(0, 1):.2f}"]
            for k, cell in enumerate(cells):
                self.text(cols[k], self.y + SIZE, cell, "R", 10)
            self.y += LEAD
        self.ops.append(f"q 0 g {LEFT + 20} {H - self.y - 2:.2f} {RIGHT - LEFT - 40} 0.8 re f Q")
        self.y += 14
        self.pending.append(f"Table {label}")
        self.since_table = 0

    def contents(self, chapters: list[str]) -> None:
        self.new_page()
        self.text(LEFT, 150, "Contents", "B", 20)
        self.y = 180
        for c, title in enumerate(chapters, 1):
            for s in range(6):
                self.room(LEAD)
                name = title if s == 0 else f"{c}.{s} Section on {self.rng.choice(DISEASES).name['en']}"
                font = "B" if s == 0 else "R"
                self.text(LEFT + (0 if s == 0 else 15), self.y + SIZE, name, font)
                dots = " ".join("." * 1 for _ in range(int((RIGHT - LEFT - 60 - _adv(name, font, SIZE)) / 5)))
                self.text(RIGHT - 40 - _adv(dots, "R", SIZE), self.y + SIZE, dots)  # pdfTeX leaders: dots
                self.text(RIGHT - 15, self.y + SIZE, str(3 + c * 20 + s * 3))
                self.y += LEAD

    def bibliography(self, pages: int) -> None:
        self.head = "Bibliography"
        self.new_page()
        self.text(LEFT, 150, "Bibliography", "B", 20)
        self.y = 180
        k = 0
        while self.doc.page_count < pages or self.y < BOTTOM - LEAD:
            k += 1
            a, b = self.rng.sample(NAMES, 2)
            entry = (f"[{k}] {a}, J., {b}, M. and Zhang, L. Automated detection of "
                     f"{self.rng.choice(DISEASES).name['en']} in fundus photographs. Invest. Ophthalmol. Vis. Sci. "
                     f"{self.rng.randint(40, 65)}, {self.rng.randint(1, 9000)} ({self.rng.randint(1995, 2024)}).")
            before = self.doc.page_count
            self.paragraph(entry, indent=0)
            if self.doc.page_count > before and self.doc.page_count > pages:
                break


def make_thesis(pages: int, out: Path, seed: int = 0) -> Path:
    """A ``pages``-page thesis-like PDF (a few pages more or less at the end: the bibliography ends a page)."""
    t = Thesis(seed)
    chapters = ["Introduction", "Background", "Retinal imaging", "Methods", "Results", "Discussion", "Conclusions"]
    t.new_page()
    t.text(LEFT + 40, 250, "Automated analysis of retinal images", "B", 22)
    t.text(LEFT + 120, 320, f"A thesis by {t.rng.choice(NAMES)} Rodríguez", "R", 14)
    t.contents(chapters)
    body = max(pages - t.doc.page_count - max(2, pages // 25), len(chapters))
    per = body / len(chapters)
    for c, title in enumerate(chapters):
        t.chapter_start(title)
        end = 3 + per * (c + 1)  # title page and contents first
        s = 0
        while t.doc.page_count < end:
            if t.rng.random() < 0.12:
                s += 1
                t.section(f"{t.chapter}.{s} {t.rng.choice(['Patients', 'Imaging protocol', 'Grading', 'Analysis'])}")
            t.paragraph(t.sentence_pool())
            if t.rng.random() < 0.05:
                t.equation()
            if t.rng.random() < 0.03:
                t.footnote()
            if t.since_fig >= 9 and t.rng.random() < 0.5:
                t.figure()
            elif t.since_table >= 14 and t.rng.random() < 0.5:
                t.table()
    t.bibliography(pages)
    t.flush()
    while t.doc.page_count > pages:
        t.doc.delete_page(-1)
    out.parent.mkdir(parents=True, exist_ok=True)
    t.doc.save(str(out), garbage=3, deflate=True)
    return out


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: python benchmarks/thesis_book.py PAGES OUT.pdf [SEED]")
    p = make_thesis(int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(f"{p}: {pymupdf.open(str(p)).page_count} pages")
