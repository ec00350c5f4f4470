"""Shared helpers of the reliability tests: the pipeline's stages, recipes, run-directory snapshots."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from mmretinal_builder.recipe import DEFAULT_STAGES, Recipe, recipe_from_dict
from mmretinal_builder.stage import STAGES

#: Limits every reliability build uses (tests add the ones they check): the recipe's ``limits:``.
LIMITS: dict[str, Any] = {}


def pipeline_stages() -> list[str]:
    """The default recipe's stages whose modules are in this checkout (stages still being written are left out;
    a module that exists but fails to import is an error, not skipped)."""
    return [s for s in DEFAULT_STAGES if importlib.util.find_spec(STAGES[s].partition(":")[0]) is not None]


def stage_list() -> list[Any]:
    return list(pipeline_stages())


def recipe(limits: dict[str, Any] | None = None, books: dict[str, Any] | None = None,
           base: Path | None = None) -> Recipe:
    data: dict[str, Any] = {"name": "reliability", "stages": stage_list(), "books": books or {},
                            "limits": {**LIMITS, **(limits or {})}}
    src = None
    if base is not None:  # review decisions etc. are looked up next to the recipe: keep them inside the test dir
        src = base / "recipe.yaml"
    return recipe_from_dict(data, label="reliability recipe", source=src)


def write_recipe(path: Path, limits: dict[str, Any] | None = None, books: dict[str, Any] | None = None,
                 workers: int = 1) -> Path:
    """The same recipe as a YAML file, for builds run through the CLI."""
    path.write_text(yaml.safe_dump({"name": "reliability", "workers": workers, "books": books or {},
                                    "limits": {**LIMITS, **(limits or {})}, "stages": stage_list()},
                                   sort_keys=False), encoding="utf-8")
    return path


def build_cmd(inputs: list[Path], out: Path, recipe_file: Path, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "mmretinal_builder.cli", "build", *map(str, inputs), "--out", str(out),
            "--recipe", str(recipe_file), "--workers", str(workers), "--no-progress"]


def snapshot(run_dir: Path, exclude: tuple[str, ...] = ("logs",)) -> dict[str, bytes]:
    """Every file of a run directory (relative path -> bytes), ``logs/`` left out."""
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(Path(run_dir).rglob("*"))
            if p.is_file() and not set(p.relative_to(run_dir).parts) & set(exclude)}


def dataset_bytes(run_dir: Path) -> dict[str, bytes]:
    """The exported parquet files and figures.jsonl: what must not change when bad books join a build."""
    out = {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(Path(run_dir).glob("dataset/data/*"))}
    out["figures.jsonl"] = (Path(run_dir) / "figures.jsonl").read_bytes()
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def problems_by_book(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in read_jsonl(Path(run_dir) / "errors.jsonl"):
        out.setdefault(p["book"], []).append(p)
    return out


class FullDisk:
    """Stands in for ``os`` inside ``mmretinal_builder.io``: counts the files written and, from the
    ``fail_at``-th on, fails them with ENOSPC as a full disk does (at the flush, after data went to the temp file)."""

    def __init__(self, fail_at: int | None) -> None:
        self.fail_at = fail_at
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fsync(self, fd: int) -> None:
        self.writes += 1
        if self.fail_at is not None and self.writes >= self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.fsync(fd)
