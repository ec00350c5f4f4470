"""The pipeline runner: shards of one book x one stage, resumable, books in parallel.

Run-directory layout (documented in ARCHITECTURE.md)::

    RUN_DIR/
      run.json                 recipe snapshot and inputs (name, sha256) - no timestamps
      shards/<book>/<NN>-<stage>/items.jsonl     records kept by that stage
                                  rejects.jsonl   records dropped, with reasons
                                  stats.json      written LAST: marks the shard done
      shards/_run/<NN>-<stage>/...               run-scope stages (dedup, export)
      images/ab/<sha256>.<ext>  every image once, by content hash
      figures.jsonl            the final records (one figure per line)
      rejects.jsonl            every drop of every stage, with reasons
      errors.jsonl             the run's report: books that failed (level "error", with the stage and the
                               problem) and warnings of books that finished (level "warning")
      stats.json               the funnel: per stage, in / kept / dropped by reason
      logs/build.log           timestamps and tracebacks (the only non-deterministic file)

A shard is done when its ``stats.json`` exists and carries the fingerprint of its inputs (book hash,
stage name, version and parameters, and the previous shard's fingerprint). A killed run started again
skips finished shards and recomputes the rest; every file is written atomically, so the result is
identical to an uninterrupted run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import multiprocessing as mp
import queue
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import BookError, BuilderError
from .io import dumps, iter_jsonl, read_records, remove_temp_files, sha256_file, write_json, write_jsonl
from .recipe import Recipe
from .schema import ITEM, Figure, Pair, figures_of, pairs_of
from .stage import Context, load_stage_class, stage_class, stage_target

Item = Figure | Pair  # a stage's items: figures up to the panels stage, pairs after it

log = logging.getLogger("mmretinal")

RUN_SHARD = "_run"
#: errno values that mean the run directory cannot take more data (reliability: a clean error, resumable)
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def write_failure(e: OSError) -> str:
    """A user-facing message for a failed write into the run directory."""
    return (f"cannot write to the run directory: {e.strerror or e} (errno {e.errno}); free some space and run "
            "the same command again: finished shards are kept")


# ----------------------------------------------------------------------------- inputs


def discover_pdfs(inputs: Iterable[Path]) -> list[Path]:
    """PDF files named directly, plus ``*.pdf`` found recursively in named folders (sorted)."""
    found: list[Path] = []
    for p in inputs:
        p = Path(p)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() == ".pdf"))
        elif p.exists():
            found.append(p)
        else:
            raise BuilderError(f"{p}: input not found")
    seen: dict[str, Path] = {}
    unique = []
    for p in found:
        if p.name in seen:
            if seen[p.name].resolve() == p.resolve():
                continue
            raise BuilderError(f"two inputs share the file name {p.name!r}: {seen[p.name]} and {p}; "
                               "book names must be unique within a run")
        seen[p.name] = p
        unique.append(p)
    return sorted(unique, key=lambda q: q.name)


def book_key(name: str) -> str:
    """Folder name of a book's shards (file names may hold characters folders should not)."""
    return re.sub(r"[^\w.\-]+", "_", name)


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(dumps(list(parts)).encode("utf-8")).hexdigest()


def _stage_identity(target: str, params: dict[str, Any], recipe_dir: Path | None) -> list[str]:
    """The parts of a shard fingerprint that come from the stage itself: code version, external inputs."""
    cls = load_stage_class(target)
    stage = cls(cls.Params.model_validate(params))
    return [target, cls.version, stage.external_fingerprint(recipe_dir)]


# ----------------------------------------------------------------------------- shard execution


@dataclass
class StageRun:
    """What one executed (or resumed) shard reports."""

    stage: str
    fingerprint: str
    stats: dict[str, Any]
    resumed: bool


def _shard_dir(run_dir: Path, shard: str, index: int, stage: str) -> Path:
    return run_dir / "shards" / shard / f"{index:02d}-{stage}"


def _load_done(shard_dir: Path, fingerprint: str) -> dict[str, Any] | None:
    stats_path = shard_dir / "stats.json"
    if not stats_path.exists():
        return None
    try:
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # unreadable marker: recompute the shard
    return stats if stats.get("fingerprint") == fingerprint else None


def run_shard(
    *,
    run_dir: Path,
    shard: str,
    index: int,
    stage_name: str,
    target: str,
    params: dict[str, Any],
    fingerprint: str,
    items: Callable[[], list[Item]],
    ctx_kwargs: dict[str, Any],
) -> tuple[StageRun, list[Item] | None]:
    """Run one shard unless it is already done; returns its stats and (when run) its output."""
    sdir = _shard_dir(run_dir, shard, index, stage_name)
    cls = load_stage_class(target)
    stage = cls(cls.Params.model_validate(params))
    done = _load_done(sdir, fingerprint)
    if done is not None and stage.outputs_present(run_dir):
        return StageRun(stage_name, fingerprint, done, resumed=True), None
    ctx = Context(run_dir=run_dir, stage=stage_name, **ctx_kwargs)
    inputs = items()
    out = stage.run(list(inputs), ctx)
    n_in, n_out, n_drop = len(inputs), len(out), sum(ctx.dropped.values())
    n_kept = n_out - ctx.expanded  # a figure kept as its pairs counts once (ctx.expand)
    if n_in and n_in != n_kept + n_drop:
        # The funnel must add up; a stage that loses items silently is a bug, not a data problem. (A first
        # stage gets no items and creates them; a stage may merge items only by dropping the merged ones.)
        raise BuilderError(f"stage {stage_name!r} got {n_in} items, kept {n_kept} and dropped {n_drop}")
    _stamp_lineage(out, stage_name, cls.version, ctx)
    write_jsonl(sdir / "items.jsonl", out)
    write_jsonl(sdir / "rejects.jsonl", ctx.rejects)
    stats = {
        "stage": stage_name,
        "shard": shard,
        "fingerprint": fingerprint,
        "in": n_in,
        "kept": n_kept if n_in else n_out,
        **({"out": n_out} if ctx.expanded else {}),
        "dropped": dict(sorted(ctx.dropped.items())),
        "counters": dict(sorted(ctx.counters.items())),
        "warnings": ctx.warnings,
    }
    write_json(sdir / "stats.json", stats)  # last: marks the shard done
    return StageRun(stage_name, fingerprint, stats, resumed=False), out


def _stamp_lineage(items: list[Any], stage: str, version: str, ctx: Context) -> None:
    """Append this stage's step to every kept item that carries a lineage (rule and detail from ctx.note)."""
    from .schema import LineageStep

    for item in items:
        lineage = getattr(item, "lineage", None)
        if lineage is None:
            continue
        rule, detail = ctx.notes.get(id(item), (None, {}))
        lineage.append(LineageStep(stage=stage, version=version, rule=rule, detail=detail))


def load_shard_items(run_dir: Path, shard: str, index: int, stage: str) -> list[Item]:
    return read_records(_shard_dir(run_dir, shard, index, stage) / "items.jsonl", ITEM)


@dataclass
class BookJob:
    """Everything a worker needs to run a book's stages (picklable)."""

    run_dir: Path
    path: Path
    name: str
    stages: list[tuple[int, str, str, dict[str, Any]]]  # (recipe index, name, "module:Class", params)
    prev_fingerprint: str
    prev_index: int | None  # index of the book stage before this segment, to load its items
    book_meta: dict[str, Any]
    recipe_dir: Path | None
    book_sha256: str
    stage_names: list[str]  # all stage names of the recipe, by index (to find earlier shards)


@dataclass
class BookResult:
    name: str
    ok: bool
    fingerprint: str
    last_index: int | None
    runs: list[StageRun] = field(default_factory=list)
    error: dict[str, Any] | None = None


ProgressFn = Callable[[str, str, int, int], None]  # (book, stage, done, total)


def run_book(job: BookJob, progress: ProgressFn | None = None) -> BookResult:
    """Run a book's consecutive book-scope stages; a failure is caught and reported, not raised."""
    key = book_key(job.name)
    fp, last = job.prev_fingerprint, job.prev_index
    cached: list[Item] | None = None
    result = BookResult(job.name, True, fp, last)
    for index, name, target, params in job.stages:
        fp_new = _fingerprint(job.book_sha256, name, params, fp, _stage_identity(target, params, job.recipe_dir))
        prev_last, prev_cached = last, cached

        def items(prev_last: int | None = prev_last, prev_cached: list[Item] | None = prev_cached) -> list[Item]:
            if prev_cached is not None:
                return prev_cached
            if prev_last is None:
                return []
            return load_shard_items(job.run_dir, key, prev_last, job.stage_names[prev_last])

        def report(done: int, total: int, name: str = name) -> None:
            if progress:
                progress(job.name, name, done, total)

        try:
            run, out = run_shard(
                run_dir=job.run_dir, shard=key, index=index, stage_name=name, target=target, params=params,
                fingerprint=fp_new,
                items=items,
                ctx_kwargs={"book": job.name, "book_path": job.path, "book_meta": job.book_meta,
                            "recipe_dir": job.recipe_dir, "progress": report},
            )
        except BookError as e:
            result.ok, result.error = False, {"book": job.name, "stage": name, "error": e.problem}
            return result
        except BuilderError as e:
            result.ok, result.error = False, {"book": job.name, "stage": name, "error": str(e)}
            return result
        except MemoryError:
            result.ok, result.error = False, {"book": job.name, "stage": name, "error": "out of memory"}
            return result
        except OSError as e:  # a full disk is the run's problem, not the book's: said plainly, no shard marked done
            if e.errno in WRITE_ERRNOS:
                message = write_failure(e)
            else:
                log.error("%s: stage %s failed:\n%s", job.name, name, traceback.format_exc())
                message = f"internal error: {type(e).__name__}: {e}"
            result.ok, result.error = False, {"book": job.name, "stage": name, "error": message}
            return result
        except Exception as e:  # a bug or a library crash on hostile input: report it, keep the run going
            log.error("%s: stage %s failed:\n%s", job.name, name, traceback.format_exc())
            result.ok = False
            result.error = {"book": job.name, "stage": name, "error": f"internal error: {type(e).__name__}: {e}"}
            return result
        result.runs.append(run)
        fp, last, cached = fp_new, index, out
        result.fingerprint, result.last_index = fp, last
        if progress:
            progress(job.name, name, -1, -1)  # shard finished
    return result


# ----------------------------------------------------------------------------- executors


class Executor(Protocol):
    """Runs book jobs; the local process pool is the default, Ray is an optional extra."""

    def map(self, jobs: list[BookJob], progress: ProgressFn | None) -> Iterator[BookResult]: ...


def _run_book_queued(job: BookJob, q: Any) -> BookResult:
    def progress(book: str, stage: str, done: int, total: int) -> None:
        q.put((book, stage, done, total))

    return run_book(job, progress)


class LocalExecutor:
    """In-process for one worker; a spawn-based process pool for several."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def map(self, jobs: list[BookJob], progress: ProgressFn | None) -> Iterator[BookResult]:
        if self.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                yield run_book(job, progress)
            return
        ctx = mp.get_context("spawn")  # fork with live threads (progress bar) can deadlock
        with ctx.Manager() as manager:
            q = manager.Queue()
            crashed: list[BookJob] = []
            with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx) as pool:
                futures = {pool.submit(_run_book_queued, job, q): job for job in jobs}
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    _drain(q, progress)
                    for fut in done:
                        try:
                            result = fut.result()
                        except BrokenProcessPool:
                            crashed.append(futures[fut])
                            continue
                        yield result
                _drain(q, progress)
            # A worker died (a crash inside a C library, the OOM killer) and took the pool down with every book
            # it had not finished: each is run again in a process of its own, so the book that kills its
            # process is found and reported, and the others finish (their finished shards are resumed).
            for job in sorted(crashed, key=lambda j: j.name):
                yield _run_isolated(job, ctx, q)
                _drain(q, progress)


def _run_isolated(job: BookJob, ctx: Any, q: Any) -> BookResult:
    """Run one book in a fresh worker process; a process that dies is that book's error."""
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as solo:
        try:
            return solo.submit(_run_book_queued, job, q).result()
        except BrokenProcessPool:
            log.error("%s: the worker process died", job.name)
            return BookResult(job.name, False, job.prev_fingerprint, job.prev_index, error={
                "book": job.name, "stage": "worker",
                "error": "the worker process died while processing this book (a crash inside a library, "
                         "or killed for using too much memory)"})


def _drain(q: Any, progress: ProgressFn | None) -> None:
    while True:
        try:
            event = q.get_nowait()
        except queue.Empty:
            return
        if progress:
            progress(*event)


def make_executor(kind: str, workers: int) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        from .executors.ray_executor import RayExecutor

        return RayExecutor(workers)
    raise BuilderError(f"unknown executor {kind!r} (use 'local' or 'ray')")


# ----------------------------------------------------------------------------- the build


@dataclass
class BuildResult:
    run_dir: Path
    books: list[str]
    failed: list[dict[str, Any]]
    figures: int
    stats: dict[str, Any]


class Runner:
    """Executes a recipe over a set of books into a run directory."""

    def __init__(self, recipe: Recipe, run_dir: Path, *, workers: int | None = None, executor: str = "local",
                 show_progress: bool = True) -> None:
        self.recipe = recipe
        self.run_dir = Path(run_dir).resolve()
        self.workers = workers or recipe.workers
        self.executor = make_executor(executor, self.workers)
        self.show_progress = show_progress

    def _segments(self) -> list[tuple[str, list[tuple[int, str, str, dict[str, Any]]]]]:
        """Consecutive stages of one scope: book segments run per book, run segments once."""
        segs: list[tuple[str, list[tuple[int, str, str, dict[str, Any]]]]] = []
        for i, spec in enumerate(self.recipe.stages):
            target = stage_target(spec.name)
            scope = load_stage_class(target).scope
            entry = (i, spec.name, target, spec.params.model_dump(mode="json"))
            if segs and segs[-1][0] == scope:
                segs[-1][1].append(entry)
            else:
                segs.append((scope, [entry]))
        return segs

    def build(self, inputs: Iterable[Path]) -> BuildResult:
        try:
            return self._build(inputs)
        except OSError as e:
            if e.errno in WRITE_ERRNOS:  # e.g. the disk filled up while writing a run-scope shard or the summary
                raise BuilderError(f"{self.run_dir}: {write_failure(e)}") from None
            raise

    def _build(self, inputs: Iterable[Path]) -> BuildResult:
        pdfs = discover_pdfs([*self.recipe.inputs, *inputs])
        if not pdfs:
            raise BuilderError("no PDF inputs: name PDF files or folders holding PDFs")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _setup_file_log(self.run_dir / "logs" / "build.log")
        log.info("build of %d books into %s", len(pdfs), self.run_dir)
        stale = remove_temp_files(self.run_dir)  # left by a killed run; never a finished file
        if stale:
            log.info("removed %d temp files left by an interrupted run", stale)
        names = [s.name for s in self.recipe.stages]
        hashes: dict[str, str] = {}
        errors: list[dict[str, Any]] = []
        for p in pdfs:
            try:
                hashes[p.name] = sha256_file(p)
            except OSError as e:
                errors.append({"book": p.name, "stage": "open", "error": f"cannot read file: {e.strerror or e}"})
        write_json(self.run_dir / "run.json", {
            "recipe": self.recipe.snapshot(),
            # the path lets `mmretinal inspect` find the PDFs again
            "books": [{"name": p.name, "path": str(p.resolve()), "sha256": hashes.get(p.name)} for p in pdfs],
        })
        alive = [p for p in pdfs if p.name in hashes]
        state: dict[str, tuple[str, int | None]] = {p.name: ("", None) for p in alive}
        shard_stats: list[dict[str, Any]] = []
        run_fp, run_last = "", None
        run_items: list[Item] | None = None
        with _Progress(self.show_progress) as bar:
            for scope, seg in self._segments():
                if scope == "book":
                    jobs = [BookJob(self.run_dir, p, p.name, seg, state[p.name][0], state[p.name][1],
                                    self._book_meta(p.name), self.recipe.base_dir, hashes[p.name], names)
                            for p in alive]
                    bar.add(len(jobs) * len(seg), f"stages {seg[0][1]}..{seg[-1][1]}")
                    failed = set()
                    for res in self.executor.map(jobs, bar.event):
                        shard_stats.extend(r.stats for r in res.runs)
                        if res.ok:
                            state[res.name] = (res.fingerprint, res.last_index)
                        else:
                            errors.append(res.error or {"book": res.name, "error": "failed"})
                            failed.add(res.name)
                    alive = [p for p in alive if p.name not in failed]
                    run_items = None
                else:
                    for index, name, target, params in seg:
                        book_fps = [(p.name, state[p.name][0]) for p in alive]
                        fp = _fingerprint(name, params, book_fps, run_fp,
                                          _stage_identity(target, params, self.recipe.base_dir))

                        def gather(run_last: int | None = run_last, run_items: list[Item] | None = run_items,
                                   alive: list[Path] = alive) -> list[Item]:
                            if run_items is not None:
                                return run_items
                            if run_last is not None:
                                return load_shard_items(self.run_dir, RUN_SHARD, run_last, names[run_last])
                            out: list[Item] = []
                            for p in alive:
                                last = state[p.name][1]
                                if last is not None:
                                    out.extend(load_shard_items(self.run_dir, book_key(p.name), last, names[last]))
                            return out

                        bar.add(1, name)
                        run, out = run_shard(
                            run_dir=self.run_dir, shard=RUN_SHARD, index=index, stage_name=name, target=target,
                            params=params, fingerprint=fp, items=gather,
                            ctx_kwargs={"recipe_dir": self.recipe.base_dir,
                                        "books": {p.name: self._book_meta(p.name, secrets=False) for p in pdfs},
                                        "progress": lambda d, t, n=name: bar.event("run", n, d, t)},
                        )
                        bar.event("run", name, -1, -1)
                        shard_stats.append(run.stats)
                        run_fp, run_last, run_items = fp, index, out
            final = self._final_items(alive, state, names, run_last, run_items)
        return self._finish(pdfs, alive, final, shard_stats, errors)

    def _book_meta(self, name: str, secrets: bool = True) -> dict[str, Any]:
        """A book's settings from the recipe (one shape everywhere): its licence (else the recipe's), language,
        title, and, for the book's own stages only, its password."""
        meta = {"license": self.recipe.license}
        if name in self.recipe.books:
            meta.update(self.recipe.books[name].model_dump(exclude_none=True, exclude=None if secrets else {"password"}))
        return meta

    def _final_items(self, alive: list[Path], state: dict[str, tuple[str, int | None]], names: list[str],
                     run_last: int | None, run_items: list[Item] | None) -> list[Item]:
        if stage_class(names[-1]).scope == "run":
            if run_items is not None:
                return run_items
            assert run_last is not None
            return load_shard_items(self.run_dir, RUN_SHARD, run_last, names[run_last])
        out: list[Item] = []
        for p in alive:
            last = state[p.name][1]
            if last is not None:
                out.extend(load_shard_items(self.run_dir, book_key(p.name), last, names[last]))
        return out

    def _finish(self, pdfs: list[Path], alive: list[Path], final: list[Item], shard_stats: list[dict[str, Any]],
                errors: list[dict[str, Any]]) -> BuildResult:
        # the final pairs (a run without a panels stage ends with figures: each is its own pair), and their figures
        pairs = [q for item in final for q in ([item] if isinstance(item, Pair) else pairs_of(item))]
        figures = figures_of(pairs)
        write_jsonl(self.run_dir / "pairs.jsonl", pairs)
        write_jsonl(self.run_dir / "figures.jsonl", figures)
        errors = sorted(errors, key=lambda e: (e.get("book", ""), e.get("stage", "")))
        shard_stats = [s for s in shard_stats if s.get("shard") in {book_key(p.name) for p in alive} | {RUN_SHARD}]
        problems = _problems(errors, shard_stats, {book_key(p.name): p.name for p in alive},
                             [sp.name for sp in self.recipe.stages])
        write_jsonl(self.run_dir / "errors.jsonl", problems)
        rejects = []
        for s in sorted(shard_stats, key=lambda s: (s["shard"] == RUN_SHARD, s["shard"], s["stage"])):
            idx = [sp.name for sp in self.recipe.stages].index(s["stage"])
            path = _shard_dir(self.run_dir, s["shard"], idx, s["stage"]) / "rejects.jsonl"
            for r in iter_jsonl(path):
                rejects.append({"shard": s["shard"], **r})
        write_jsonl(self.run_dir / "rejects.jsonl", rejects)
        stats = funnel(shard_stats, [sp.name for sp in self.recipe.stages])
        stats["books"] = {"total": len(pdfs), "ok": len(alive), "failed": len(errors),
                          "warned": len({p["book"] for p in problems if p["level"] == "warning"})}
        stats["problems"] = problems
        stats["figures"] = len(figures)
        stats["pairs"] = len(pairs)
        write_json(self.run_dir / "stats.json", stats)
        return BuildResult(self.run_dir, [p.name for p in alive], errors, len(figures), stats)


def _problems(errors: list[dict[str, Any]], shard_stats: list[dict[str, Any]], names: dict[str, str],
              order: list[str]) -> list[dict[str, Any]]:
    """The run's report (``errors.jsonl``): failed books (``level: error``) and the warnings of the books that
    finished (``level: warning``, e.g. a page skipped or active content ignored), by book and stage order."""
    out = [{**e, "level": "error"} for e in errors]
    for s in shard_stats:
        book = names.get(s["shard"], s["shard"]) if s["shard"] != RUN_SHARD else RUN_SHARD
        out.extend({"book": book, "stage": s["stage"], "level": "warning", "warning": w} for w in s.get("warnings", []))

    def key(p: dict[str, Any]) -> tuple[Any, ...]:
        stage = order.index(p["stage"]) if p.get("stage") in order else -1
        return (p.get("book", ""), p["level"] != "error", stage)

    return sorted(out, key=key)  # stable: a shard's warnings keep their order


def funnel(shard_stats: list[dict[str, Any]], order: list[str]) -> dict[str, Any]:
    """Sum shard stats per stage (in recipe order) and keep the per-book rows."""
    per_stage: dict[str, dict[str, Any]] = {}
    for s in shard_stats:
        agg = per_stage.setdefault(s["stage"], {"in": 0, "kept": 0, "out": 0, "expands": False, "dropped": Counter(),
                                                "counters": Counter()})
        agg["in"] += s["in"]
        agg["kept"] += s["kept"]
        agg["out"] += s.get("out", s["kept"])
        agg["expands"] |= "out" in s  # a stage that turns items into several (figures into pairs)
        agg["dropped"].update(s["dropped"])
        agg["counters"].update(s["counters"])
    stages = []
    for name in order:
        if name in per_stage:
            a = per_stage[name]
            stages.append({"stage": name, "in": a["in"], "kept": a["kept"], **({"out": a["out"]} if a["expands"] else {}),
                           "dropped": dict(sorted(a["dropped"].items())),
                           "counters": dict(sorted(a["counters"].items()))})
    per_book = sorted(
        ({"book": s["shard"], "stage": s["stage"], "in": s["in"], "kept": s["kept"],
          **({"out": s["out"]} if "out" in s else {}), "dropped": s["dropped"]}
         for s in shard_stats if s["shard"] != RUN_SHARD),
        key=lambda r: (r["book"], order.index(r["stage"])),
    )
    return {"stages": stages, "per_book": per_book}


def collect_shard_stats(run_dir: Path) -> list[dict[str, Any]]:
    """Read every finished shard's stats (for ``mmretinal stats``)."""
    out = []
    for p in sorted(Path(run_dir).glob("shards/*/*/stats.json")):
        out.append(json.loads(p.read_text(encoding="utf-8")))
    return out


# ----------------------------------------------------------------------------- progress and logs


class _Progress:
    """A rich progress bar over shards plus one line per book that is working through its pages."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._main: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), transient=False)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def add(self, total: int, label: str) -> None:
        if self._progress is None:
            return
        if self._main is None:
            self._main = self._progress.add_task("shards", total=0)
        self._progress.update(self._main, total=self._progress.tasks[self._main].total + total)

    def event(self, book: str, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        key = f"{book}/{stage}"
        if done == -1:  # shard finished
            if self._main is not None:
                self._progress.advance(self._main)
            if key in self._tasks:
                self._progress.remove_task(self._tasks.pop(key))
            return
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(f"  {book[:40]} {stage}", total=total)
        self._progress.update(self._tasks[key], completed=done, total=total)


def _setup_file_log(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for h in list(log.handlers):
        if getattr(h, "_mmretinal_file", False):
            log.removeHandler(h)
            h.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler._mmretinal_file = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.info("log opened at %s", time.strftime("%Y-%m-%d %H:%M:%S"))
