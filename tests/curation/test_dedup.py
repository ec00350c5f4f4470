"""Near-duplicates: hashes, the multi-index search, planted copies across books, the dedup stage."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest

from mmretinal_builder.curation.dedup import caption_hash
from mmretinal_builder.curation.imagefeatures import read_image
from mmretinal_builder.curation.phash import fingerprint, hamming, near_pairs, phash, popcount64
from mmretinal_builder.schema import Pair
from mmretinal_builder.stages.dedup import DedupStage

from .conftest import MODALITY_DIR, FakeRun


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def _planted(img: np.ndarray, kind: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``img``: re-encoded JPEG, resized, or cropped by 3% (then re-encoded)."""
    h, w = img.shape[:2]
    if kind == 0:
        return _jpeg(img, int(rng.integers(30, 80)))
    if kind == 1:
        s = rng.uniform(0.5, 1.5)
        return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    dy, dx = round(0.03 * h), round(0.03 * w)
    a, b = rng.uniform(0, 1, 2)
    top, left = round(dy * a), round(dx * b)
    return _jpeg(img[top:h - (dy - top), left:w - (dx - left)], 90)


@pytest.fixture(scope="module")
def originals() -> list[np.ndarray]:
    """Distinct retinal pictures: generated CFP/FFA/OCT plus the real ones of the labelled set."""
    from mmretinal_builder.samples import fundus as F

    rng = np.random.default_rng(2024)
    imgs = [F.draw_cfp(rng, int(rng.integers(320, 560)), int(rng.integers(300, 480)),
                       lesions=tuple(rng.choice(sorted(F.CFP_LESIONS), 2, replace=False))) for _ in range(22)]
    imgs += [F.draw_ffa(rng, 420, 420, phase=int(rng.integers(0, 4))) for _ in range(16)]
    imgs += [F.draw_oct(rng, int(rng.integers(420, 600)), int(rng.integers(160, 300))) for _ in range(16)]
    real = sorted(p for p in MODALITY_DIR.iterdir() if p.name.startswith(("real_palm_fig", "real_oct", "real_cfp")))
    imgs += [read_image(p) for p in real]
    assert len(imgs) >= 70
    return imgs


def test_hash_is_stable_under_reencoding_and_resizing(originals: list[np.ndarray]) -> None:
    g = cv2.cvtColor(originals[0], cv2.COLOR_BGR2GRAY)
    h = phash(g)
    assert hamming(h, phash(cv2.cvtColor(_jpeg(originals[0], 40), cv2.COLOR_BGR2GRAY))) <= 6
    assert hamming(h, phash(cv2.resize(g, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))) <= 4
    # white page margins do not change the hash
    framed = cv2.copyMakeBorder(originals[0], 40, 40, 60, 60, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    assert hamming(fingerprint(framed).phash, fingerprint(originals[0]).phash) <= 4


def test_multi_index_search_equals_brute_force() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 2**63, 3000, dtype=np.int64).astype(np.uint64) << np.uint64(1)
    for i in range(0, 600, 2):  # plant neighbours at distances 0..12
        flips = rng.choice(64, int(rng.integers(0, 13)), replace=False)
        v = int(codes[i])
        for f in flips:
            v ^= 1 << int(f)
        codes[i + 1] = np.uint64(v)
    got = near_pairs(codes, codes, np.arange(len(codes)), 10)
    d = popcount64(codes[:, None] ^ codes[None, :])
    i, j = np.nonzero(np.triu(d <= 10, k=1))
    assert sorted(map(tuple, got.tolist())) == sorted(zip(i.tolist(), j.tolist(), strict=True))
    assert len(got) > 200


def test_multi_index_search_scales() -> None:
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 2**63, 20000, dtype=np.int64).astype(np.uint64) << np.uint64(1)
    start = time.perf_counter()
    pairs = near_pairs(codes, codes, np.arange(len(codes)), 10)
    assert time.perf_counter() - start < 10  # ~1 s here; an all-pairs Python loop would take minutes
    assert len(pairs) < 20  # random codes are ~32 bits apart: a handful of chance neighbours at most
    assert (popcount64(codes[pairs[:, 0]] ^ codes[pairs[:, 1]]) <= 10).all()


@pytest.mark.slow
def test_planted_duplicates_found_and_distinct_images_kept(fake_run: FakeRun, originals: list[np.ndarray]) -> None:
    rng = np.random.default_rng(7)
    figs = [fake_run.figure(img, f"Fig. {k} original", book="a.pdf", ext=".jpg") for k, img in enumerate(originals)]
    planted: dict[str, str] = {}  # copy figure id -> original figure id
    sources = [int(i) for i in rng.choice(len(originals), 102, replace=True)]
    for k, src in enumerate(sources):
        copy = fake_run.figure(_planted(originals[src], k % 3, rng), f"Copy {k}", book="b.pdf", ext=".jpg")
        figs.append(copy)
        planted[copy.id] = figs[src].id
    pairs = fake_run.pairs(*figs)
    ctx = fake_run.ctx("dedup", book=None)
    out = DedupStage().run(pairs, ctx)

    kept = {p.id: p for p in out}
    dropped = {r["item"]["id"]: json.loads(r["detail"])["of"] for r in ctx.rejects if r["reason"] == "duplicate"}

    def group(fid: str) -> str:
        return planted.get(fid, fid)

    # every planted copy ends in its original's group
    merged = 0
    for copy_id, orig_id in planted.items():
        survivor_copy = dropped.get(copy_id, copy_id)
        survivor_orig = dropped.get(orig_id, orig_id)
        merged += survivor_copy == survivor_orig
    assert merged / len(planted) >= 0.99, merged
    # nothing distinct was merged
    wrong = [(d, k) for d, k in dropped.items() if group(d) != group(k)]
    assert wrong == []
    # the largest copy is kept, and lists what was merged into it
    size = {f.id: f.image_size[0] * f.image_size[1] for f in figs}
    for p in out:
        for dup in p.duplicates:
            assert group(dup) == group(p.id) and size[dup] <= size[p.id]
        assert ctx.notes[id(p)][0] == ("kept-best-copy" if p.duplicates else "unique")
    assert all(p.phash and len(p.phash) == 16 for p in out)
    assert ctx.counters["duplicates"] == len(dropped) == sum(len(p.duplicates) for p in out)
    assert len(kept) + len(dropped) == len(pairs)


def test_dedup_stage_on_panels_and_same_figure_rule(fake_run: FakeRun,
                                                    fundus_images: dict[str, list[np.ndarray]]) -> None:
    cfp, other_cfp, ffa = fundus_images["CFP"][0], fundus_images["CFP"][1], fundus_images["FFA"][0]
    # one figure shows a photograph twice (e.g. original and annotated): its panels are never merged together
    twice = fake_run.figure(None, "Fig. 1", book="a.pdf", panels=[(cfp, "A"), (cfp, "B")])
    # another book reuses panel A's photograph, larger, as a single figure; and one panel of a compound
    big = fake_run.figure(cv2.resize(cfp, None, fx=1.5, fy=1.5), "Fig. 9 Reused", book="b.pdf")
    compound = fake_run.figure(None, "Fig. 2", book="b.pdf", panels=[(_jpeg(ffa, 50), "A"), (other_cfp, "B")])
    single = fake_run.figure(cv2.resize(ffa, None, fx=1.2, fy=1.2), "Fig. 3 FFA", book="c.pdf")
    ctx = fake_run.ctx("dedup", book=None)
    out = DedupStage().run(fake_run.pairs(twice, big, compound, single), ctx)
    ids = [p.id for p in out]
    # both panels of `twice` are copies of the larger single figure; the whole of `twice` is a different picture
    assert f"{twice.id}-p0" not in ids and f"{twice.id}-p1" not in ids and twice.id in ids
    assert ctx.dropped == {"duplicate": 3}
    by_id = {p.id: p for p in out}
    assert by_id[big.id].duplicates == [f"{twice.id}-p0", f"{twice.id}-p1"]
    # the compound keeps panel B; its panel A (re-encoded FFA) merged into the larger single FFA
    assert f"{compound.id}-p1" in ids and f"{compound.id}-p0" not in ids
    assert by_id[single.id].duplicates == [f"{compound.id}-p0"]


def test_caption_hash_ignores_case_space_and_punctuation() -> None:
    assert caption_hash("Fig. 3 Drusen, macula.") == caption_hash("fig 3  drusen macula")
    assert caption_hash("") is None and caption_hash(None) is None
    assert caption_hash("Drusen") != caption_hash("Exudates")


def test_dedup_is_deterministic(fake_run: FakeRun, fundus_images: dict[str, list[np.ndarray]]) -> None:
    def run() -> list[str]:
        figs = [fake_run.figure(img, f"Fig. {k}") for k, img in enumerate(fundus_images["OCT"])]
        figs.append(fake_run.figure(_jpeg(fundus_images["OCT"][0], 60), "Fig. copy", book="z.pdf"))
        out: list[Pair] = DedupStage().run(fake_run.pairs(*figs), fake_run.ctx("dedup", book=None))
        return [p.to_json() for p in out]

    fake_run.n = 0
    first = run()
    fake_run.n = 0
    assert run() == first


def test_a_born_digital_copy_wins_over_a_larger_scanned_one(fake_run: FakeRun,
                                                            fundus_images: dict[str, list[np.ndarray]]) -> None:
    """The same paper as a PDF and as a scan: the scan's picture is larger (rendered at 300 dpi) but it is a
    photograph of paper with an OCR'd caption; the born-digital copy is the one kept, whichever comes first."""
    img = fundus_images["CFP"][0]
    scan = cv2.resize(img, None, fx=1.6, fy=1.6, interpolation=cv2.INTER_CUBIC)
    for first_scanned in (True, False):
        born = fake_run.figure(img, "Fig. 1 Fundus photograph.", book="paper.pdf")
        scanned = fake_run.figure(scan, "Fig. 1 Fundus photograph.", book="paper_scanned.pdf")
        scanned.provenance.text_layer = "none"
        figs = (scanned, born) if first_scanned else (born, scanned)
        ctx = fake_run.ctx("dedup", book=None)
        out = DedupStage().run(fake_run.pairs(*figs), ctx)
        assert [p.figure.book for p in out] == ["paper.pdf"], first_scanned
        assert [json.loads(r["detail"])["of"] for r in ctx.rejects] == [out[0].id]
