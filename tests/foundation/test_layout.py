"""The builder's structure: no import cycles, one place that opens a PDF, no module grown past its job."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("mmretinal_builder", "keepfit")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def import_graph(packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports, anywhere in its code (a lazy import inside a function is
    still a dependency: a cycle through one is a cycle)."""
    files = {_module_name(p): p for pkg in packages for p in (REPO / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_package, node.level, node.module)
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for t in targets:
                # the longest known module the name starts with (``from .x import y``: y may be a module or not)
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != mod and not mod.startswith(t + ".") and not (is_package and t.startswith(mod + ".")):
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_finds_a_cycle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "mmretinal_builder.jobs" in graph["mmretinal_builder.executors.local"]  # relative imports resolved
    assert "mmretinal_builder.book" in graph["mmretinal_builder.pdf.scan.ocr"]


def test_no_import_cycles():
    # the builder and the trainer (keepfit's layers: model -> weights -> checkpoint; hub above them all)
    found = cycles(import_graph(("mmretinal_builder", "keepfit")))
    assert not found, "import cycles (a package's __init__ importing its own modules is not one):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_one_place_opens_a_pdf():
    """Only :class:`mmretinal_builder.book.Book` opens PDF files (sample generators build PDFs, they are not
    readers of books)."""
    opener = re.compile(r"\b(?:pymupdf|fitz)\.(?:open|Document)\(|\bpdfplumber\.open\(|\bPdfReader\(")
    sites = []
    for path in sorted((REPO / "mmretinal_builder").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("mmretinal_builder/samples/"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if opener.search(line):
                sites.append(f"{rel}:{n}")
    assert sites == [next(s for s in sites if s.startswith("mmretinal_builder/book.py:"))], sites


@pytest.mark.parametrize("pkg", ["mmretinal_builder"])
def test_runner_modules_stay_small(pkg):
    """The runner's parts each do one job (issue 17): none of them past ~400 lines."""
    for name in ("runner.py", "shards.py", "jobs.py", "funnel.py", "progress.py", "book.py", "stage.py", "recipe.py",
                 "executors/local.py", "executors/ray.py", "stages/pages.py", "stages/pair.py", "stages/crop.py"):
        n = len((REPO / pkg / name).read_text(encoding="utf-8").splitlines())
        assert n <= 400, f"{pkg}/{name} has {n} lines"


#: distribution name -> the module it is imported as, where the two differ (None: a tool or plugin, not imported;
#: tensorboard is reached through torch.utils.tensorboard)
IMPORT_NAMES: dict[str, str | None] = {
    "opencv-python-headless": "cv2", "pillow": "PIL", "pyyaml": "yaml", "scikit-image": "skimage",
    "scikit-learn": "sklearn", "tensorboard": "torch", "ruff": None, "pytest-xdist": None}


def _imported_modules(folders: list[str]) -> set[str]:
    found: set[str] = set()
    for folder in folders:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found


def test_declared_dependencies_are_used():
    """Every dependency pyproject.toml declares is imported by the code it is declared for (issue 17: pdfplumber was
    declared and never imported)."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    where = {"": ["mmretinal_builder"], "train": ["keepfit"], "review": ["mmretinal_builder"],
             "ray": ["mmretinal_builder"], "dev": ["tests", "benchmarks"]}
    unused = []
    for extra, deps in [("", project["dependencies"]), *project["optional-dependencies"].items()]:
        used = _imported_modules(where[extra])
        for dep in deps:
            name = re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower()
            module = IMPORT_NAMES.get(name, name.replace("-", "_"))
            if module is not None and module not in used:
                unused.append(f"{extra or 'dependencies'}: {dep}")
    assert not unused, f"declared but never imported: {unused}"
