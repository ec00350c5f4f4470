"""The stage abstraction: a small class with a name, typed parameters and ``run(items, ctx)``.

A stage receives the records produced by the stage before it (``consumes``; the first stage of a book,
``pages``, receives nothing and reads the book through ``ctx.pdf``) and returns the records it keeps
(``produces``). Every record it does not return must be dropped through ``ctx.drop(item, reason)`` so the
funnel always adds up: ``in == kept + dropped`` (the runner checks). A stage whose records are of another kind
than its input (``pair`` turns pages into figure-caption pairs) says how many items it formed with
``ctx.considered``; the check is then made on those.

``scope = "book"`` stages run once per book, in parallel across books; ``scope = "run"`` stages
(dedup across books, export) run once over all books' records, in sorted book order.
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from .io import ImageStore
from .pdf.limits import Limits
from .schema import Figure

if TYPE_CHECKING:
    from .book import Book

log = logging.getLogger("mmretinal")


class Params(BaseModel):
    """Base for stage parameters: unknown keys are recipe errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Context:
    """What a stage may use and how it reports: counters, drops with reasons, the image store."""

    run_dir: Path
    stage: str
    book: str | None = None  # file name of the book (None for run-scope stages)
    book_path: Path | None = None
    book_meta: dict[str, Any] = field(default_factory=dict)  # this book's licence, language... from the recipe
    books: dict[str, dict[str, Any]] = field(default_factory=dict)  # run-scope: every book's book_meta, by name
    recipe_dir: Path | None = None
    progress: Callable[[int, int], None] | None = None  # (done, total) callback for long loops
    counters: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # id(item) -> (rule, detail)
    limits: Limits = field(default_factory=Limits)  # the recipe's budgets (pages, time, pixels, memory)
    #: processes the stage may use for its own parallelism (OCR); None: the stage's default. Inside a pool
    #: worker the runner sets 1: the book pool and OCR share one budget of processes, never nested pools.
    processes: int | None = None
    #: items of earlier stages of this book, by stage name (``panels`` reads the pages); see :meth:`earlier`
    records: dict[str, list[Any]] | Callable[..., list[Any] | None] = field(default_factory=dict)
    #: items a stage that changes the kind of item formed (``pair``): the funnel check is made on these
    considered: int | None = None
    book_obj: Book | None = None  # the book's one door (the runner's); see :attr:`pdf`
    #: run-scope stages: the recipe snapshot and the funnel of the stages before, as the runner has them (so the
    #: export writes them onto the dataset card without reading run files back)
    recipe: dict[str, Any] | None = None
    funnel: dict[str, Any] | None = None

    @property
    def pdf(self) -> Book:
        """The book (:class:`~mmretinal_builder.book.Book`): the only way a stage reads the PDF. The runner hands
        in the book it opened once; on its own (tests, benchmarks) a stage gets one from ``book_path``."""
        if self.book_obj is None:
            if self.book_path is None:
                raise ValueError(f"stage {self.stage!r} needs a book, and this context has none")
            from .book import Book

            self.book_obj = Book.from_meta(self.book_path, self.book, self.book_meta, limits=self.limits)
        return self.book_obj

    @property
    def book_sha256(self) -> str | None:
        """The book's hash (computed once by the runner), None when the context has no book."""
        return self.pdf.sha256 if self.book_obj is not None or self.book_path is not None else None

    def earlier(self, stage: str, keep: Callable[[Any], bool] | None = None) -> list[Any] | None:
        """The items the earlier stage ``stage`` kept for this book (None when the recipe has no such stage);
        ``keep``: only those it accepts (read from the shard one by one, so a 5000-page book's pages need not all
        be in memory when a stage wants a few)."""
        if callable(self.records):
            return self.records(stage, keep)  # type: ignore[call-arg]
        items = self.records.get(stage)
        return items if items is None or keep is None else [x for x in items if keep(x)]

    @property
    def images(self) -> ImageStore:
        return ImageStore(self.run_dir)

    def count(self, key: str, n: int = 1) -> None:
        """Count something the stage saw (pages, captions found, ...); shows up in the stats."""
        self.counters[key] += n

    def drop(self, item: Any, reason: str, detail: str | None = None) -> None:
        """Drop ``item`` (a record or any JSON-able dict) with a short machine-readable ``reason``."""
        self.dropped[reason] += 1
        payload = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
        self.rejects.append({"reason": reason, "detail": detail, "stage": self.stage, "item": payload})

    def report(self, item: Any, reason: str, detail: str | None = None) -> None:
        """Record something left out that was never an item (e.g. a caption with no figure)."""
        self.counters[f"unpaired:{reason}"] += 1
        payload = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
        self.rejects.append({"reason": reason, "detail": detail, "stage": self.stage, "item": payload,
                             "kind": "report"})

    def note(self, item: Any, rule: str, **detail: Any) -> None:
        """Say which rule decided ``item`` at this stage (and what it saw); the runner stamps it onto the
        item's lineage when the stage keeps it. The last note about an item wins."""
        self.notes[id(item)] = (rule, detail)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s%s: %s", f"{self.book}: " if self.book else "", self.stage, message)

    def resolve(self, path: str | Path) -> Path:
        """Resolve a path from the recipe: relative paths are relative to the recipe's folder."""
        p = Path(path)
        if p.is_absolute() or self.recipe_dir is None:
            return p
        return (self.recipe_dir / p).resolve()


class Stage:
    """Base class of all stages. Subclasses set ``name``, ``Params`` and implement :meth:`run`."""

    name: ClassVar[str] = ""
    scope: ClassVar[Literal["book", "run"]] = "book"
    Params: ClassVar[type[Params]] = Params
    #: bump when the stage's code changes its output, so old finished shards are recomputed
    version: ClassVar[str] = "1"
    #: the record types it takes and gives (the recipe checks that neighbours fit); None: takes nothing
    consumes: ClassVar[type[BaseModel] | None] = Figure
    produces: ClassVar[type[BaseModel]] = Figure

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:  # pragma: no cover - interface
        raise NotImplementedError(f"stage {self.name!r} does not implement run()")

    def external_fingerprint(self, recipe_dir: Path | None) -> str:
        """A hash of files the stage reads besides its items (e.g. review decisions); part of the shard's
        fingerprint, so a change there reruns the shard. Most stages read nothing else."""
        return ""

    def outputs_present(self, run_dir: Path) -> bool:
        """Whether files the stage writes outside its shard still exist (a finished shard whose outputs were
        deleted is run again). Most stages write nothing else."""
        return True


#: Stage name -> "module:Class". Imported lazily so a recipe only loads what it uses.
STAGES: dict[str, str] = {
    "pages": "mmretinal_builder.stages.pages:PagesStage",
    "pair": "mmretinal_builder.stages.pair:PairStage",
    "crop": "mmretinal_builder.stages.crop:CropStage",
    "panels": "mmretinal_builder.stages.pairs:PanelPairStage",  # PanelStage, then its figures become pairs
    "clean": "mmretinal_builder.stages.clean:CleanTextStage",
    "classify": "mmretinal_builder.stages.classify:ClassifyStage",
    "quality": "mmretinal_builder.stages.quality:QualityStage",
    "dedup": "mmretinal_builder.stages.dedup:DedupStage",
    "review": "mmretinal_builder.stages.review:ReviewStage",
    "export": "mmretinal_builder.stages.export:ExportStage",
}


def stage_target(name: str) -> str:
    """The "module:Class" registered under ``name``; a clear error for unknown names."""
    try:
        return STAGES[name]
    except KeyError:
        if name in RENAMED:
            raise KeyError(f"stage {name!r} no longer exists: {RENAMED[name]}") from None
        raise KeyError(f"unknown stage {name!r} (known: {', '.join(sorted(STAGES))})") from None


#: Stages that no longer exist -> what a recipe writes instead (a clear error rather than "unknown stage").
RENAMED: dict[str, str] = {
    "extract": "the extract stage was split into three stages: write `- pages`, `- pair` and `- crop` in its place "
               "(its OCR settings go to pages, the caption cues and pairing settings to pair, the render settings "
               "to crop, and max_pages / page_timeout_s / max_image_pixels / max_memory_mb to the recipe's "
               "top-level `limits:`)",
}


def load_stage_class(target: str) -> type[Stage]:
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def stage_class(name: str) -> type[Stage]:
    """The class registered under ``name``."""
    return load_stage_class(stage_target(name))
