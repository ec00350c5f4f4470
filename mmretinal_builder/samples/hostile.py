"""A corpus of hostile PDF files, generated on demand, to check that one bad book never stops a build.

Every file is small (the largest, 10,000 pages sharing one content stream, is about 1.6 MB) and the bytes are the
same for the same seed. Each entry says what a build must report for it: ``error`` (the book fails with a
reason that contains ``expect``) or ``warning`` (the book finishes; a warning containing ``expect`` is in the
run's report). None of the files contains a figure a build could export, so adding them to a folder of good
books must not change that folder's dataset.

``python -m mmretinal_builder.samples.hostile OUT_DIR`` writes the corpus (see docs/reliability.md).
"""

from __future__ import annotations

import argparse
import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pymupdf

from ..io import atomic_write_bytes, atomic_write_text

#: The password of the encrypted samples (the wrong one is given to ``encrypted_wrong_password.pdf``).
PASSWORD = "open-sesame"
WRONG_PASSWORD = "not-the-password"


@dataclass(frozen=True)
class Hostile:
    """One hostile file: its name, its bytes and what a build must say about it."""

    name: str
    data: bytes
    level: str  # "error": the book fails; "warning": it finishes with a warning
    expect: str  # a substring of the reason the build gives
    note: str  # what is hostile about it


# ----------------------------------------------------------------------------- a raw PDF writer


def raw_pdf(objects: list[bytes], *, root: int = 1, trailer: bytes = b"", header: bytes = b"%PDF-1.7") -> bytes:
    """A PDF from object bodies (object ``i + 1`` is ``objects[i]``) with a correct xref table."""
    out = bytearray(header + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, trailer,
                                                                                  xref)
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _text_page_content(lines: list[str], y0: float = 700) -> bytes:
    ops = [b"BT /F1 11 Tf 72 %d Td 14 TL" % int(y0)]
    for line in lines:
        safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(b"(" + safe.encode("latin-1") + b") '")
    ops.append(b"ET")
    return b"\n".join(ops)


def text_pdf(pages: list[list[str]], *, catalog_extra: bytes = b"", extra_objects: list[bytes] | None = None,
             page_extra: bytes = b"") -> bytes:
    """Pages of plain Helvetica text; ``extra_objects`` are numbered after the pages' objects."""
    n = len(pages)
    # 1 catalog, 2 pages, 3 font, then (page, content) pairs, then the extras
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n), FONT]
    for i, lines in enumerate(pages):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                    b"/Contents %d 0 R %s>>" % (5 + 2 * i, page_extra))
        objs.append(stream(b"", _text_page_content(lines)))
    objs.extend(extra_objects or [])
    return raw_pdf(objs)


PROSE = [
    "This page holds running text only: there is no figure on it.",
    "A hostile file must be reported and must never stop the other books of a build.",
]


def first_extra_object(n_pages: int) -> int:
    """Number of the first object ``text_pdf`` appends after its pages."""
    return 4 + 2 * n_pages


# ----------------------------------------------------------------------------- the files


def empty() -> bytes:
    return b""


def not_a_pdf() -> bytes:
    return b"<!DOCTYPE html>\n<html><body><h1>404 Not Found</h1><p>The atlas you asked for moved.</p></body></html>\n"


def image_as_pdf(seed: int) -> bytes:
    """A PNG picture saved with a .pdf name (MuPDF would happily open it as a one-page image document)."""
    rng = random.Random(f"hostile-png:{seed}")
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 32, 32), 0)
    pix.set_rect(pix.irect, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    return pix.tobytes("png")


def page_count_lie() -> bytes:
    """A page tree that claims five pages and holds none."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 5 >>"])


def garbage(seed: int) -> bytes:
    rng = random.Random(f"hostile-garbage:{seed}")
    return b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(8192))


def zero_pages() -> bytes:
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def page_tree_cycle() -> bytes:
    """The page tree's only kid is the tree itself (a reader that follows it never stops)."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])


def no_catalog() -> bytes:
    """A cross-reference table whose /Root points at an object that is not there."""
    return raw_pdf([b"<< /Type /Pages /Kids [] /Count 0 >>"], root=7)


def good_figure_pdf(seed: int) -> bytes:
    """A valid two-page book with a captioned photograph (the base of the truncated sample)."""
    rng = random.Random(f"hostile-figure:{seed}")
    doc = pymupdf.open()
    for k in range(2):
        page = doc.new_page(width=595, height=842)
        pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 64, 64), 0)
        pix.set_rect(pix.irect, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        page.insert_image(pymupdf.Rect(100, 100, 400, 400), pixmap=pix)
        page.insert_text((100, 420), f"Fig. {k + 1}. A fundus photograph of case {rng.randrange(100)}.", fontsize=9)
        page.insert_text((72, 600), " ".join(PROSE), fontsize=10)
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data


def truncated(seed: int) -> bytes:
    data = good_figure_pdf(seed)
    return data[: len(data) * 2 // 5]


def encrypt(data: bytes, password: str = PASSWORD) -> bytes:
    """``data`` (a PDF) encrypted with AES-256: opening it needs ``password`` (the owner's is another)."""
    doc = pymupdf.open("pdf", data)
    out = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password + "-owner",
                      no_new_id=True)
    doc.close()
    return out


def encrypted(seed: int, password: str = PASSWORD) -> bytes:
    return encrypt(text_pdf([PROSE]), password)


def broken_pages() -> bytes:
    """Three page-tree kids that are not pages (a number, a string, a missing object)."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [3 0 R 4 0 R 9 0 R] /Count 3 >>", b"42", b"(not a page)"])


def javascript() -> bytes:
    """JavaScript run on open and on a link; readers that execute it are a risk, the builder ignores it."""
    js = first_extra_object(1)
    return text_pdf([PROSE], catalog_extra=b"/OpenAction %d 0 R /Names << /JavaScript << /Names [(init) %d 0 R] >> >> "
                    % (js, js), extra_objects=[b"<< /S /JavaScript /JS (app.alert\\('pwned'\\); this.exportDataObject"
                                               b"\\({cName: 'x', nLaunch: 2}\\);) >>"])


def embedded_file() -> bytes:
    """An embedded executable-looking attachment: never extracted, only reported."""
    first = first_extra_object(1)
    payload = b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode."
    return text_pdf([PROSE], catalog_extra=b"/Names << /EmbeddedFiles << /Names [(setup.exe) %d 0 R] >> >> "
                    % (first + 1), extra_objects=[
                        stream(b"/Type /EmbeddedFile", payload),
                        b"<< /Type /Filespec /F (setup.exe) /UF (setup.exe) /EF << /F %d 0 R >> >>" % first])


def broken_font() -> bytes:
    """A TrueType font program that is garbage: MuPDF falls back to a substitute and warns."""
    first = first_extra_object(1)
    rng = random.Random("hostile-font")
    junk = b"\x00\x01\x00\x00\x00\x0c" + bytes(rng.randrange(256) for _ in range(2048))
    content = _text_page_content(PROSE).replace(b"/F1", b"/F2")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F2 %d 0 R >> >> "
            b"/Contents 5 0 R >>" % first, stream(b"", content),
            b"<< /Type /Font /Subtype /TrueType /BaseFont /BrokenSans /FirstChar 32 /LastChar 126 "
            b"/Widths [%s] /FontDescriptor %d 0 R >>" % (b" ".join([b"500"] * 95), first + 1),
            b"<< /Type /FontDescriptor /FontName /BrokenSans /Flags 32 /FontBBox [0 -200 1000 900] /ItalicAngle 0 "
            b"/Ascent 900 /Descent -200 /CapHeight 700 /StemV 80 /FontFile2 %d 0 R >>" % (first + 2),
            stream(b"/Length1 %d" % len(junk), junk)]
    return raw_pdf(objs)


def decompression_bomb(width: int = 26_000, height: int = 26_000) -> bytes:
    """A page whose image declares ``width`` x ``height`` RGB pixels (2.0 GB decoded at the default, just under
    the size MuPDF itself refuses) while its stream is a few dozen bytes, next to a caption so that a naive
    extractor would decode it."""
    first = first_extra_object(1)
    data = zlib.compress(b"\x00" * 4096, 9)  # the decoder pads the rest of the image
    content = (b"q 400 0 0 400 97 300 cm /Im0 Do Q\n"
               + _text_page_content(["Fig. 1. A fundus photograph of a decompression bomb."], y0=280))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> "
            b"/XObject << /Im0 %d 0 R >> >> /Contents 5 0 R >>" % first, stream(b"", content),
            stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 "
                   b"/Filter /FlateDecode" % (width, height), data)]
    return raw_pdf(objs)


def many_pages(n: int = 10_000) -> bytes:
    """``n`` pages that all share one small content stream (about 100 bytes per page in the file)."""
    n_fixed = 4  # catalog, pages, font, content
    kids = b" ".join(b"%d 0 R" % (n_fixed + 1 + i) for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n), FONT,
            stream(b"", _text_page_content(["One of very many pages, all alike, with no figure."]))]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> " \
           b"/Contents 4 0 R >>"
    objs.extend([page] * n)
    return raw_pdf(objs)


def slow_page(paths: int = 20_000) -> bytes:
    """A page of text, then a page of ``paths`` tiny strokes piled on one spot: each is a vector path the
    extractor must cluster (minutes of work without a time limit)."""
    strokes = b"\n".join(b"300 %d.%03d m 301 %d.%03d l S" % (400, i % 1000, 401, i % 1000) for i in range(paths))
    data = zlib.compress(b"0 0 0 RG 0.2 w\n" + strokes, 9)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>", FONT,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents 5 0 R >>", stream(b"", _text_page_content(PROSE)),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 7 0 R >>",
            stream(b"/Filter /FlateDecode", data)]
    return raw_pdf(objs)


def one_line_pages(n: int = 3000) -> bytes:
    """``n`` pages, each with one short line of its own (a page number, now and then a word): no image, no figure.

    Their text layers are too short to count as text (``none``), so a reader that sends every such page to OCR
    spends an hour on a file with nothing in it (issue 18: this file stalled a build); a text-only page is never
    OCR'd."""
    n_fixed = 3  # catalog, pages, font
    kids = b" ".join(b"%d 0 R" % (n_fixed + 1 + 2 * i) for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n), FONT]
    words = ("Notes", "Index", "Errata", "Blank")
    for i in range(n):
        line = f"- {i + 1} -" if i % 7 else f"{words[i // 7 % len(words)]} {i + 1}"
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                    b"/Contents %d 0 R >>" % (n_fixed + 2 + 2 * i))
        objs.append(stream(b"", _text_page_content([line], y0=60)))
    return raw_pdf(objs)


#: name -> (make(seed), level, expected reason, note). Errors first, then books that finish with a warning.
_CORPUS: list[tuple[str, Callable[[int], bytes], str, str, str]] = [
    ("empty.pdf", lambda s: empty(), "error", "empty file", "zero bytes"),
    ("not_a_pdf.pdf", lambda s: not_a_pdf(), "error", "not a PDF", "an HTML error page saved as .pdf"),
    ("image_as_pdf.pdf", image_as_pdf, "error", "not a PDF", "a PNG picture saved as .pdf"),
    ("garbage.pdf", garbage, "error", "not a PDF", "a PDF header followed by random bytes"),
    ("truncated.pdf", truncated, "error", "truncated", "a valid book cut at 40% of its bytes"),
    ("encrypted.pdf", encrypted, "error", "needs a password", "AES-256, no password given"),
    ("encrypted_wrong_password.pdf", encrypted, "error", "password", "AES-256, the recipe's password is wrong"),
    ("zero_pages.pdf", lambda s: zero_pages(), "error", "no pages", "a valid file with an empty page tree"),
    ("page_count_lie.pdf", lambda s: page_count_lie(), "error", "corrupt", "claims five pages, holds none"),
    ("page_tree_cycle.pdf", lambda s: page_tree_cycle(), "error", "damaged", "the page tree contains itself"),
    ("no_catalog.pdf", lambda s: no_catalog(), "error", "no pages", "the trailer's /Root points nowhere"),
    ("decompression_bomb.pdf", lambda s: decompression_bomb(), "warning", "pixel budget",
     "a 26000 x 26000 px RGB image (2 GB decoded) in a few dozen bytes, captioned"),
    ("many_pages.pdf", lambda s: many_pages(), "warning", "max_pages", "10,000 pages"),
    ("javascript.pdf", lambda s: javascript(), "warning", "JavaScript", "JavaScript run on open"),
    ("embedded_file.pdf", lambda s: embedded_file(), "warning", "embedded file", "an attached .exe"),
    ("broken_font.pdf", lambda s: broken_font(), "warning", "MuPDF", "a TrueType font program of random bytes"),
    ("broken_pages.pdf", lambda s: broken_pages(), "warning", "MuPDF", "page-tree kids that are not pages"),
    ("slow_page.pdf", lambda s: slow_page(), "warning", "time limit", "20,000 vector paths piled on one spot"),
    ("one_line_pages.pdf", lambda s: one_line_pages(), "warning", "text-only or blank pages are not",
     "3,000 pages of one short line each: no page for OCR"),
]


# ----------------------------------------------------------------------------- mutants (fuzzing)

MUTATIONS = ("flip", "truncate", "duplicate", "delete", "insert", "zero")


def mutate(data: bytes, rng: random.Random, kind: str) -> bytes:
    """One mutant of ``data``: flipped bytes, a truncation, a duplicated / deleted / inserted chunk, or a
    chunk overwritten with zeros."""
    n = len(data)
    buf = bytearray(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 24)):
            buf[rng.randrange(n)] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del buf[rng.randrange(n // 10, n):]
    elif kind == "duplicate":
        a = rng.randrange(n)
        chunk = bytes(buf[a:a + rng.randint(16, 4096)])
        at = rng.randrange(n)
        buf[at:at] = chunk
    elif kind == "delete":
        a = rng.randrange(n)
        del buf[a:a + rng.randint(1, 2048)]
    elif kind == "insert":
        at = rng.randrange(n)
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == "zero":
        a = rng.randrange(n)
        k = min(n - a, rng.randint(8, 1024))
        buf[a:a + k] = bytes(k)
    else:
        raise ValueError(f"unknown mutation {kind!r} (known: {', '.join(MUTATIONS)})")
    return bytes(buf)


def mutants(sources: dict[str, bytes], count: int, seed: int = 0) -> dict[str, bytes]:
    """``count`` mutants of the source PDFs (named ``<source>__<i>_<mutation>.pdf``), sources and mutations
    taken in turn."""
    rng = random.Random(f"hostile-mutants:{seed}")
    names = sorted(sources)
    out = {}
    for i in range(count):
        src = names[i % len(names)]
        kind = MUTATIONS[(i // len(names)) % len(MUTATIONS)]
        out[f"{Path(src).stem}__{i:03d}_{kind}.pdf"] = mutate(sources[src], rng, kind)
    return out


# ----------------------------------------------------------------------------- the corpus


def corpus(seed: int = 0, names: list[str] | None = None) -> list[Hostile]:
    """The hostile files (all, or those named), in a fixed order."""
    known = [c[0] for c in _CORPUS]
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        raise ValueError(f"unknown hostile files {unknown} (known: {', '.join(known)})")
    return [Hostile(name, make(seed), level, expect, note) for name, make, level, expect, note in _CORPUS
            if names is None or name in names]


def write_corpus(out_dir: Path, seed: int = 0, names: list[str] | None = None) -> list[Hostile]:
    """Write the corpus into ``out_dir`` plus ``hostile.json`` (name, level, expected reason, note)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = corpus(seed, names)
    for h in files:
        atomic_write_bytes(out_dir / h.name, h.data)
    manifest = [{"name": h.name, "level": h.level, "expect": h.expect, "note": h.note, "bytes": len(h.data)}
                for h in files]
    atomic_write_text(out_dir / "hostile.json", json.dumps(manifest, indent=1) + "\n")
    return files


def recipe_books() -> dict[str, dict[str, str]]:
    """The recipe ``books:`` entries the corpus expects (the wrong password for one encrypted file)."""
    return {"encrypted_wrong_password.pdf": {"password": WRONG_PASSWORD}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write the hostile PDF corpus (or mutants of PDFs) into a folder.")
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mutants", type=int, default=0, help="write this many mutants of --source PDFs instead")
    ap.add_argument("--source", type=Path, action="append", default=[],
                    help="a PDF to mutate (repeatable; default: two small generated books)")
    args = ap.parse_args(argv)
    if args.mutants:
        sources = {p.name: p.read_bytes() for p in args.source} or {
            "figs_a.pdf": good_figure_pdf(args.seed), "figs_b.pdf": good_figure_pdf(args.seed + 1)}
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in mutants(sources, args.mutants, args.seed).items():
            atomic_write_bytes(args.out / name, data)
        print(f"{args.mutants} mutants of {', '.join(sorted(sources))} in {args.out}")
        return
    for h in write_corpus(args.out, args.seed):
        print(f"{h.name:32s} {len(h.data):>9d} B  {h.level:7s}  {h.note}")


if __name__ == "__main__":  # pragma: no cover
    main()
