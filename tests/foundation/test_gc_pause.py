"""Stages run with Python's cyclic collector paused (``gc_pause``): that is only safe while the records they build hold
no reference cycles, which would then wait for the collector. This runs a born-digital and a scanned book through
every per-book stage with the collector off and counts what it finds afterwards."""

from __future__ import annotations

import gc
from pathlib import Path

from mmretinal_builder.gc_pause import cyclic_gc_paused
from mmretinal_builder.jobs import run_stages
from mmretinal_builder.stages.classify import ClassifyStage
from mmretinal_builder.stages.clean import CleanTextStage
from mmretinal_builder.stages.crop import CropStage
from mmretinal_builder.stages.pages import PagesStage
from mmretinal_builder.stages.pair import PairStage
from mmretinal_builder.stages.pairs import PanelPairStage
from mmretinal_builder.stages.quality import QualityStage

SAMPLES = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"


def test_the_pause_restores_the_collector() -> None:
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an inner pause does not end the outer one
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a collector switched off before stays off
    finally:
        gc.enable()


def test_book_stages_leave_no_cycles(tmp_path: Path) -> None:
    stages = [PagesStage(), PairStage(), CropStage(), PanelPairStage(), CleanTextStage(), ClassifyStage(), QualityStage()]
    books = ("sample_en_2col.pdf", "sample_zh.pdf")
    for book in books:
        # a first run imports modules and builds what is built once per process (a language's text pipeline: its
        # configuration is read with configparser, which leaves a thousand-odd objects in cycles once)
        run_stages(stages, run_dir=tmp_path / f"warm-{book}", book_path=SAMPLES / book)
    for book in books:
        gc.collect()
        gc.disable()
        try:
            items, _ = run_stages(stages, run_dir=tmp_path / book, book_path=SAMPLES / book)
            assert items
            del items
            found = gc.collect()
        finally:
            gc.enable()
        # a few stray cycles (a caught exception's traceback) cost nothing; one per page or per item would add up
        assert found <= 50, f"{book}: {found} objects in reference cycles after the book stages"
