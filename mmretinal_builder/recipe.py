"""Recipes: YAML files under ``pipelines/`` that say which inputs and which stages with which parameters.

```yaml
name: atlas-books
inputs: [../books]              # PDFs or folders; relative paths are relative to this file
workers: 2
license: "CC BY 4.0"            # default licence of the books
books:                          # optional per-book metadata, by file name
  palm_scidata2024.pdf: {license: "CC BY 4.0", lang: en}
stages:
  - extract: {render_dpi: 300}
  - panels
  - export: {out: dataset}
```

Every problem is reported as ``FILE: WHERE: WHAT`` (unknown key, wrong type, missing file), never as a
traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import RecipeError
from .stage import STAGES, Params, stage_class

#: Stages of a build when no recipe names them.
DEFAULT_STAGES: list[str] = ["extract", "panels", "clean", "classify", "quality", "dedup", "review", "export"]


class BookMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    license: str | None = None
    lang: str | list[str] | None = Field(default=None, description="the book's language(s): ISO codes (en, fa) or "
                                                                 "Tesseract codes (fas, chi_tra); also its OCR languages")
    title: str | None = None
    password: str | None = Field(default=None, description="for encrypted PDFs; prefer an env var")


class StageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    name: str
    params: Params


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    name: str = "default"
    description: str = ""
    inputs: list[Path] = Field(default_factory=list)
    workers: int = Field(default=1, ge=1)
    license: str = "unknown"
    books: dict[str, BookMeta] = Field(default_factory=dict)
    stages: list[StageSpec]
    source: Path | None = None  # the YAML file, when loaded from one

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source else Path.cwd()

    def snapshot(self) -> dict[str, Any]:
        """JSON-able form written into the run directory (inputs are not part of it)."""
        return {
            "name": self.name,
            "license": self.license,
            "books": {k: v.model_dump(exclude_none=True, exclude={"password"}) for k, v in sorted(self.books.items())},
            "stages": [{"name": s.name, "params": s.params.model_dump(mode="json")} for s in self.stages],
        }


_TOP_KEYS = {"name", "description", "inputs", "workers", "license", "books", "stages"}


def _fmt_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _validation_message(where: str, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = _fmt_loc(e["loc"])
        if e["type"] == "extra_forbidden":
            parts.append(f"{where}: unknown key '{loc}'")
        else:
            parts.append(f"{where}.{loc}: {e['msg']} (got {e.get('input')!r})")
    return "; ".join(parts)


def _stage_spec(raw: Any, index: int, label: str) -> StageSpec:
    """Accept ``- name``, ``- name: {params}`` and ``- {name: x, params: {...}}``."""
    where = f"{label}: stages[{index}]"
    if isinstance(raw, str):
        name, params = raw, {}
    elif isinstance(raw, dict) and set(raw) <= {"name", "params"} and "name" in raw:
        name, params = raw["name"], raw.get("params") or {}
    elif isinstance(raw, dict) and len(raw) == 1:
        ((name, params),) = raw.items()
        params = params or {}
    else:
        raise RecipeError(f"{where}: expected a stage name or 'name: {{params}}', got {raw!r}")
    if name not in STAGES:
        raise RecipeError(f"{where}: unknown stage '{name}' (known: {', '.join(sorted(STAGES))})")
    if not isinstance(params, dict):
        raise RecipeError(f"{where} ({name}): parameters must be a mapping, got {params!r}")
    cls = stage_class(name)
    try:
        p = cls.Params.model_validate(params)
    except ValidationError as e:
        raise RecipeError(_validation_message(f"{where} ({name})", e)) from None
    return StageSpec(name=name, params=p)


def recipe_from_dict(data: Any, label: str = "recipe", source: Path | None = None, check_inputs: bool = True
                     ) -> Recipe:
    if not isinstance(data, dict):
        raise RecipeError(f"{label}: a recipe is a mapping of keys, got {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise RecipeError(f"{label}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(_TOP_KEYS))})")
    raw_stages = data.get("stages", DEFAULT_STAGES)
    if not isinstance(raw_stages, list) or not raw_stages:
        raise RecipeError(f"{label}: 'stages' must be a non-empty list")
    stages = [_stage_spec(s, i, label) for i, s in enumerate(raw_stages)]
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise RecipeError(f"{label}: a stage appears twice in 'stages': {names}")
    scopes = [stage_class(n).scope for n in names]
    if "run" in scopes and "book" in scopes[scopes.index("run"):]:
        late = names[scopes.index("book", scopes.index("run"))]
        raise RecipeError(f"{label}: stage '{late}' works per book but comes after a stage over the whole run "
                          f"('{names[scopes.index('run')]}'); put per-book stages first")
    base = source.parent if source else Path.cwd()
    rest = {k: v for k, v in data.items() if k != "stages"}
    if "inputs" in rest:
        if not isinstance(rest["inputs"], list):
            raise RecipeError(f"{label}: 'inputs' must be a list of paths")
        rest["inputs"] = [(base / str(p)).resolve() for p in rest["inputs"]]
        for p in rest["inputs"] if check_inputs else []:
            if not p.exists():
                raise RecipeError(f"{label}: inputs: file not found: {p}")
    try:
        return Recipe.model_validate({**rest, "stages": stages, "source": source})
    except ValidationError as e:
        raise RecipeError(_validation_message(label, e)) from None


def load_recipe(path: Path | None, check_inputs: bool = True) -> Recipe:
    """Load and validate a recipe file; ``None`` gives the default recipe. ``check_inputs=False`` when the caller
    replaces the recipe's inputs (books named on the command line)."""
    if path is None:
        return recipe_from_dict({}, label="default recipe")
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        raise RecipeError(f"{path}: invalid YAML at {where}: {getattr(e, 'problem', e)}") from None
    return recipe_from_dict(data or {}, label=str(path), source=path.resolve(), check_inputs=check_inputs)
