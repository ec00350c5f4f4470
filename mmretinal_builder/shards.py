"""Shards: the unit of work and of resumption, one book x one stage (or the whole run x one run-scope stage).

A shard's folder is ``RUN_DIR/shards/<book>/<NN>-<stage>/`` (``_run`` for run-scope stages) and holds

* ``items.jsonl``   the records the stage kept (each stamped with a lineage step: stage, version, rule),
* ``rejects.jsonl`` the records it dropped, with reasons,
* ``stats.json``    written LAST: in / kept / dropped by reason, counters, warnings and the shard's
  **fingerprint** (book hash, the recipe's limits, stage name, version, parameters, the stage's external inputs and
  the previous shard's fingerprint). Its presence with the right fingerprint marks the shard done.

A killed run started again skips the finished shards and recomputes the rest; every file is written atomically,
so the result is identical to an uninterrupted run. :func:`run_shard` also checks the funnel: every item a stage
received is kept or dropped with a reason (``in == kept + dropped``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import BuilderError
from .gc_pause import cyclic_gc_paused
from .io import dumps, iter_records, read_records, write_json, write_jsonl
from .stage import Context, Stage, load_stage_class

RUN_SHARD = "_run"


def book_key(name: str) -> str:
    """Folder name of a book's shards (file names may hold characters folders should not)."""
    return re.sub(r"[^\w.\-]+", "_", name)


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(dumps(list(parts)).encode("utf-8")).hexdigest()


_INSTANCES: dict[tuple[str, str], Stage] = {}


def stage_instance(target: str, params: dict[str, Any]) -> Stage:
    """The stage ``target`` with ``params``: made once per process and reused for every book (stages keep no state
    between runs). Made from ``params`` as given: the order of a mapping parameter can matter (split names)."""
    key = (target, dumps(params))
    if key not in _INSTANCES:
        cls = load_stage_class(target)
        _INSTANCES[key] = cls(cls.Params.model_validate(params))
    return _INSTANCES[key]


def stage_identity(target: str, params: dict[str, Any], recipe_dir: Path | None) -> list[str]:
    """The parts of a shard fingerprint that come from the stage itself: code version, external inputs."""
    stage = stage_instance(target, params)
    return [target, type(stage).version, stage.external_fingerprint(recipe_dir)]


def shard_dir(run_dir: Path, shard: str, index: int, stage: str) -> Path:
    return Path(run_dir) / "shards" / shard / f"{index:02d}-{stage}"


def load_done(sdir: Path, fp: str) -> dict[str, Any] | None:
    """The shard's stats when it is finished with fingerprint ``fp``, else None."""
    stats_path = sdir / "stats.json"
    if not stats_path.exists():
        return None
    try:
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # unreadable marker: recompute the shard
    return stats if stats.get("fingerprint") == fp else None


def load_items(run_dir: Path, shard: str, index: int, stage: str, target: str,
               keep: Callable[[Any], bool] | None = None) -> list[Any]:
    """The items a finished shard kept, as the records its stage produces (only those ``keep`` accepts)."""
    model: type[BaseModel] = load_stage_class(target).produces
    path = shard_dir(run_dir, shard, index, stage) / "items.jsonl"
    if keep is None:
        return read_records(path, model)
    return [r for r in iter_records(path, model) if keep(r)]


@dataclass
class StageRun:
    """What one executed (or resumed) shard reports."""

    stage: str
    fingerprint: str
    stats: dict[str, Any]
    resumed: bool


def run_shard(*, run_dir: Path, shard: str, index: int, stage_name: str, stage: Stage, fp: str,
              items: Any, ctx: Context) -> tuple[StageRun, list[Any] | None]:
    """Run one shard unless it is already done; returns its stats and (when run) its output.

    ``items`` is a callable giving the stage's input (read only when the shard must run)."""
    sdir = shard_dir(run_dir, shard, index, stage_name)
    done = load_done(sdir, fp)
    if done is not None and stage.outputs_present(run_dir):
        return StageRun(stage_name, fp, done, resumed=True), None
    with cyclic_gc_paused():  # the stage's records hold no cycles: see gc_pause
        inputs = list(items())
        out = stage.run(inputs, ctx)
        n_in = check_funnel(stage_name, len(inputs), out, ctx)
        n_out = len(out)
        stamp_lineage(out, stage_name, type(stage).version, ctx)
        write_jsonl(sdir / "items.jsonl", out)
        write_jsonl(sdir / "rejects.jsonl", ctx.rejects)
    stats = {
        "stage": stage_name,
        "shard": shard,
        "fingerprint": fp,
        "in": n_in,
        "kept": n_out,
        "dropped": dict(sorted(ctx.dropped.items())),
        "counters": dict(sorted(ctx.counters.items())),
        "warnings": ctx.warnings,
    }
    if ctx.considered is not None:
        stats["items_in"] = len(inputs)  # the records it read (e.g. pages), besides the items it formed
    write_json(sdir / "stats.json", stats)  # last: marks the shard done
    return StageRun(stage_name, fp, stats, resumed=False), out


def check_funnel(stage_name: str, n_inputs: int, out: list[Any], ctx: Context) -> int:
    """The stage's ``in`` (its inputs, or the items it formed when it changes their kind: ``ctx.considered``),
    checked against ``kept + dropped``."""
    n_in, n_out, n_drop = n_inputs, len(out), sum(ctx.dropped.values())
    if ctx.considered is not None:
        n_in = ctx.considered  # a stage that forms items of another kind (pages -> pairs) counts what it formed
    if n_in and n_in != n_out + n_drop:
        # The funnel must add up; a stage that loses items silently is a bug, not a data problem. (A first
        # stage gets no items and creates them; a stage may merge items only by dropping the merged ones.)
        raise BuilderError(f"stage {stage_name!r} got {n_in} items, kept {n_out} and dropped {n_drop}")
    return n_in


def stamp_lineage(items: list[Any], stage: str, version: str, ctx: Context) -> None:
    """Append this stage's step to every kept item that carries a lineage (rule and detail from ctx.note)."""
    from .schema import LineageStep

    for item in items:
        lineage = getattr(item, "lineage", None)
        if lineage is None:
            continue
        rule, detail = ctx.notes.get(id(item), (None, {}))
        lineage.append(LineageStep(stage=stage, version=version, rule=rule, detail=detail))
