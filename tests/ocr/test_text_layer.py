"""Text-layer verdicts: usable, none, broken (with the reason), on text samples and on sample-book pages."""

from __future__ import annotations

import random
from pathlib import Path

import pymupdf
import pytest

from mmretinal_builder.pdf.born_digital import build_page_model
from mmretinal_builder.pdf.page_model import PageModel, Span, TextLine
from mmretinal_builder.pdf.text_layer import assess_text, assess_text_layer, classify_text_layer, common_hanzi
from mmretinal_builder.samples.corrupt import break_text

SAMPLES = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"

ENGLISH = (
    "FIG. 6. Colour fundus photograph of the right eye showing preretinal haemorrhage inferior to the optic "
    "disc. There is also neovascularisation of the disc with a fine fibrovascular frond. On fluorescein "
    "angiography the typical finding is numerous hyperfluorescent microaneurysms around the macula."
)
CHINESE = (
    "图 3-1 患者男，64岁，左眼原发性开角型青光眼。（A）彩色眼底照相示视杯边缘血管屈膝；（B）OCT示颞下方"
    "视网膜神经纤维层变薄。随访间隔应根据初诊时病变的严重程度确定。"
)
SPANISH = ("Figura 2.5. Retinografía del ojo derecho que muestra hemorragias en llama alrededor del disco "
           "óptico y exudados duros en la mácula; la angiografía con fluoresceína confirma la isquemia.")
INDEX = ("Retinal detachment, 23, 45-47, 112\nRetinitis pigmentosa, 88, 90\nRoth spots, 14\n"
         "Sclera, 3, 7-9\nStargardt disease, 101-104\nVitreous haemorrhage, 52, 60")
NUMBERS = "Table 2\n12.5 13.1 14.0 15.2\n0.81 0.79 0.77 0.80\n120 134 151 166\n2019 2020 2021 2022"
# The shapes of real manuals and theses that were read as broken layers (and sent to OCR): dot leaders of a table of
# contents (FOP writes "....", TeX's \dotfill ". . ."), a program listing with its prose, an index of identifiers.
CONTENTS = "Table of Contents\n" + "".join(
    f"{n}. {t} {'.' * (96 - len(t))} {p}\n" for n, t, p in [
        (1, "Introduction", 1), (2, "Anatomy of the Retina", 7), (3, "Diabetic Retinopathy", 19),
        (4, "Retinal Vein Occlusion", 41), (5, "Age-related Macular Degeneration", 58)])
CONTENTS_TEX = "Contents\n" + "".join(
    f"{n}.{k} {t} {'. ' * 30}{p}\n" for n, k, t, p in [
        (1, 1, "Fundus photography", 3), (1, 2, "Fluorescein angiography", 9), (2, 1, "Optical coherence", 14)])
LISTING = ("Install the NDK somewhere. Doesn't matter where. Then set the paths; none of the commands below read it as "
           "part of their operation, it is only there to reduce the typing that is required:\n"
           "export NDKROOT=/path/to/android-ndk-r6\nCPPFLAGS=\"--sysroot=$NDKROOT/platforms/android-3/arch-arm\" \\\n"
           "  CFLAGS=\"--sysroot=$NDKROOT/platforms/android-3/arch-arm\" ./configure --prefix=/data/local/Inst \\\n"
           "  --host=armv7-unknown-linux --target=armv7-unknown-linux --with-tmpdir=/sdcard\n"
           "==8119== by 0x28097EAE: vgPlain_scheduler (scheduler.c:1425)\n"
           "==8119== by 0x280A7237: thread_wrapper (syswrap-linux.c:103)\n"
           "See https://github.com/IBM/s390x-abi/releases for the ABI and the reference summary.")
IDENTIFIERS = "Function Index\n" + "".join(f"{n} {'. ' * 20}{p}\n" for n, p in [
    ("asn1_array2tree", 9), ("asn1_bit_der", 17), ("ccm_aes128_encrypt_message", 56), ("dsa_sha256_sign", 82),
    ("gosthash94cp_update", 19), ("rsa_private_key_clear", 73), ("yarrow256_fast_reseed", 94)])


def _shuffle(text: str, seed: int = 1) -> str:
    """What a wrong one-byte ToUnicode map does: every printable character becomes another one."""
    printable = [chr(c) for c in range(33, 127)] + [chr(c) for c in range(161, 256)]
    shuffled = printable[:]
    random.Random(seed).shuffle(shuffled)
    table = dict(zip(printable, shuffled, strict=True))
    return "".join(table.get(c, c) for c in text)


def _caesar(text: str) -> str:
    """Letters replaced by other letters: every token still looks like a word."""
    def shift(c: str) -> str:
        if "a" <= c <= "z":
            return chr((ord(c) - 97 + 1) % 26 + 97)
        if "A" <= c <= "Z":
            return chr((ord(c) - 65 + 1) % 26 + 65)
        return c
    return "".join(shift(c) for c in text)


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, SPANISH, INDEX, NUMBERS, CONTENTS, CONTENTS_TEX, LISTING,
                                  IDENTIFIERS])
def test_real_text_is_ok(text: str) -> None:
    report = assess_text(text)
    assert report.layer == "ok", report


def test_no_text_is_none() -> None:
    assert assess_text("").layer == "none"
    assert assess_text("  12 \n").layer == "none"


@pytest.mark.parametrize(("text", "reason"), [
    ("\ufffd" * 30 + " retina " * 3, "unmapped"),
    ("".join(chr(0xE000 + i) for i in range(40)), "unmapped"),
    (_shuffle(ENGLISH), None),  # rare-symbols or malformed-words, whichever speaks first
    (_caesar(ENGLISH), "no-words"),
    (_shuffle(CONTENTS), None),  # leaders stay leaders under a wrong map, the words around them do not
    (_shuffle(LISTING), None),
    (_shuffle(IDENTIFIERS, seed=2), None),
])
def test_garbage_is_broken(text: str, reason: str | None) -> None:
    report = assess_text(text)
    assert report.layer == "broken", report
    if reason is not None:
        assert report.reason == reason


def test_random_ideographs_are_broken() -> None:
    rng = random.Random(0)
    text = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(120))
    report = assess_text(text)
    assert report.layer == "broken" and report.reason == "rare-hanzi", report
    # real Chinese uses the common characters almost exclusively
    assert sum(c in common_hanzi() for c in CHINESE if "\u4e00" <= c <= "\u9fff") >= 0.95 * sum(
        "\u4e00" <= c <= "\u9fff" for c in CHINESE)


def test_script_mismatch_needs_the_book_language() -> None:
    latin_mojibake = "ÊÓÍøÄ¤ÖÐÑë¾²Âö×èÈû " * 3  # GBK bytes decoded as Latin-1
    assert assess_text(latin_mojibake).layer == "broken"
    assert assess_text(CHINESE, lang="en").reason == "script-mismatch"
    assert assess_text(CHINESE, lang="zh").layer == "ok"


def test_ocr_lines_are_not_the_layer() -> None:
    line = TextLine(text=ENGLISH, bbox=(0, 0, 100, 10), spans=[Span(ENGLISH, (0, 0, 100, 10))], block_id=0,
                    source="ocr")
    model = PageModel(number=1, size=(200, 200), lines=[line])
    assert classify_text_layer(model) == "none"


def test_sample_pages(tmp_path: Path) -> None:
    """Born-digital pages are ok, scanned pages none, pages with a broken ToUnicode map broken."""
    with pymupdf.open(SAMPLES / "sample_zh.pdf") as doc:
        assert {classify_text_layer(build_page_model(p)) for p in doc} == {"ok"}
        doc.select([0, 1])
        break_text(doc, random.Random(3))
        broken = tmp_path / "broken.pdf"
        doc.save(broken)
    with pymupdf.open(broken) as doc:
        reports = [assess_text_layer(build_page_model(p)) for p in doc]
    assert [r.layer for r in reports] == ["broken", "broken"], reports
    with pymupdf.open(SAMPLES / "sample_en_scanned.pdf") as doc:
        assert classify_text_layer(build_page_model(doc[0])) == "none"
