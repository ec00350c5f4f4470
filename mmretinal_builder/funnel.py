"""The run's report: the funnel (per stage, in / kept / dropped by reason), the problems of the books, and the
summary files a finished build writes (``pairs.jsonl``, ``figures.jsonl``, ``rejects.jsonl``, ``errors.jsonl``,
``stats.json``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .io import iter_jsonl, write_json, write_jsonl
from .schema import Figure, Pair, figures_of, pairs_of
from .shards import RUN_SHARD, shard_dir


def funnel(shard_stats: list[dict[str, Any]], order: list[str]) -> dict[str, Any]:
    """Sum shard stats per stage (in recipe order) and keep the per-book rows."""
    per_stage: dict[str, dict[str, Any]] = {}
    for s in shard_stats:
        agg = per_stage.setdefault(s["stage"], {"in": 0, "kept": 0, "items_in": 0, "forms": False,
                                                "dropped": Counter(), "counters": Counter()})
        agg["in"] += s["in"]
        agg["kept"] += s["kept"]
        agg["items_in"] += s.get("items_in", s["in"])
        agg["forms"] |= "items_in" in s  # a stage that forms items of another kind (pages -> figures -> pairs)
        agg["dropped"].update(s["dropped"])
        agg["counters"].update(s["counters"])
    stages = []
    for name in order:
        if name in per_stage:
            a = per_stage[name]
            stages.append({"stage": name, "in": a["in"], "kept": a["kept"],
                           **({"items_in": a["items_in"]} if a["forms"] else {}),
                           "dropped": dict(sorted(a["dropped"].items())),
                           "counters": dict(sorted(a["counters"].items()))})
    per_book = sorted(
        ({"book": s["shard"], "stage": s["stage"], "in": s["in"], "kept": s["kept"], "dropped": s["dropped"]}
         for s in shard_stats if s["shard"] != RUN_SHARD),
        key=lambda r: (r["book"], order.index(r["stage"])),
    )
    return {"stages": stages, "per_book": per_book}


def problems(errors: list[dict[str, Any]], shard_stats: list[dict[str, Any]], names: dict[str, str],
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


def collect_shard_stats(run_dir: Path) -> list[dict[str, Any]]:
    """Read every finished shard's stats (for ``mmretinal stats`` on a run still going or killed)."""
    out = []
    for p in sorted(Path(run_dir).glob("shards/*/*/stats.json")):
        out.append(json.loads(p.read_text(encoding="utf-8")))
    return out


def write_report(run_dir: Path, order: list[str], books_total: int, alive: dict[str, str], final: list[Any],
                 shard_stats: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the summary files of a finished build and return its stats.

    ``alive``: shard key -> file name of the books that went through; ``final``: the last stage's items."""
    # the final pairs (a run without the panels stage ends with figures: each is written as its pairs), and the
    # figures they belong to
    pairs = [q for item in final for q in ([item] if isinstance(item, Pair) else pairs_of(item))
             ] if all(isinstance(i, Pair | Figure) for i in final) else []
    figures = figures_of(pairs) if pairs or not final else final
    write_jsonl(run_dir / "pairs.jsonl", pairs)
    write_jsonl(run_dir / "figures.jsonl", figures)
    errors = sorted(errors, key=lambda e: (e.get("book", ""), e.get("stage", "")))
    shard_stats = [s for s in shard_stats if s.get("shard") in set(alive) | {RUN_SHARD}]
    report = problems(errors, shard_stats, alive, order)
    write_jsonl(run_dir / "errors.jsonl", report)
    rejects = []
    for s in sorted(shard_stats, key=lambda s: (s["shard"] == RUN_SHARD, s["shard"], s["stage"])):
        path = shard_dir(run_dir, s["shard"], order.index(s["stage"]), s["stage"]) / "rejects.jsonl"
        for r in iter_jsonl(path):
            rejects.append({"shard": s["shard"], **r})
    write_jsonl(run_dir / "rejects.jsonl", rejects)
    stats = funnel(shard_stats, order)
    stats["books"] = {"total": books_total, "ok": len(alive), "failed": len(errors),
                      "warned": len({p["book"] for p in report if p["level"] == "warning"})}
    stats["problems"] = report
    stats["figures"] = len(figures)
    stats["pairs"] = len(pairs)
    write_json(run_dir / "stats.json", stats)
    return stats
