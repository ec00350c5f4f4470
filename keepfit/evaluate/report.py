"""Evaluation reports: a JSON file, confusion-matrix PNGs (matplotlib, Agg backend) and a rich table."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmretinal_builder.io import atomic_write_bytes, atomic_write_text

#: Metrics shown in tables, in order.
TABLE_METRICS: tuple[str, ...] = ("accuracy", "aca", "auc", "f1", "kappa")


def to_jsonable(obj: Any) -> Any:
    """Numpy/torch values, tuples and paths -> plain JSON types; NaN/inf -> None (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "detach"):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    """Write ``result`` as indented, key-sorted strict JSON."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(p, json.dumps(to_jsonable(result), indent=2, sort_keys=True, allow_nan=False) + "\n")
    return p


def save_confusion_matrix(cm: Any, class_names: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Counts with row-normalised colours (rows = true class) as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    m = np.asarray(cm, dtype=np.float64)
    rows = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    k = len(class_names)
    size = max(3.5, 0.6 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    try:
        ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(k), class_names, rotation=45, ha="right")
        ax.set_yticks(range(k), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if title:
            ax.set_title(title)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center",
                        color="white" if frac[i, j] > 0.5 else "black")
        fig.tight_layout()
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        atomic_write_bytes(p, buf.getvalue())
    finally:
        plt.close(fig)
    return p


def total_confusion(runs: Sequence[dict[str, Any]]) -> np.ndarray | None:
    """Sum of the runs' confusion matrices (folds or reshuffles of one task)."""
    cms = [np.asarray(r["confusion_matrix"]) for r in runs if "confusion_matrix" in r]
    return np.sum(cms, axis=0) if cms else None


def write_report(result: dict[str, Any], out_dir: str | Path, name: str = "report") -> dict[str, Path]:
    """``OUT/name.json`` plus ``OUT/name_confusion.png`` when the result has a confusion matrix."""
    out = Path(out_dir)
    files = {"json": write_json(result, out / f"{name}.json")}
    cm = result.get("confusion_matrix")
    if cm is None and result.get("runs") and result.get("task") != "few-shot":  # its runs mix methods
        cm = total_confusion(result["runs"])
    names = result.get("class_names")
    if cm is not None and names:
        title = f"{result.get('task', '')} ({'summed over runs' if 'runs' in result else 'test'})"
        files["confusion"] = save_confusion_matrix(cm, names, out / f"{name}_confusion.png", title)
    return files


def _fmt(v: Any, column: str = "") -> str:
    if v is None:
        return "-"
    if column in ("n", "MedR") and isinstance(v, int | float):
        return f"{v:g}"
    if isinstance(v, dict):  # a summary entry {mean, std, n}: the table shows the mean, the JSON has the rest
        return f"{v['mean']:.3f}"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def result_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten one task result into table rows: classification rows carry :data:`TABLE_METRICS`, retrieval
    rows R@k and the median rank; few-shot gives one row per (method, shots), averaged over its seeds."""
    task = result.get("task", "?")
    if task == "few-shot":  # one row per (method, shots): mean over the seeds (std in the JSON)
        return [{"task": f"{r['method']} {r['shots']}-shot", "n": r.get("n"), **{m: r.get(m) for m in TABLE_METRICS}}
                for r in result["summary"]]
    if task == "retrieval":
        return [
            {"task": f"retrieval {'image→text' if d == 'i2t' else 'text→image'}", "n": result.get("n"),
             **{k.removeprefix(f"{d}_"): result[k] for k in sorted(
                 (k for k in result if k.startswith(f"{d}_R@")), key=lambda k: int(k.rsplit("@", 1)[1]))},
             "MedR": result.get(f"{d}_median_rank")}
            for d in ("i2t", "t2i")
        ]
    if "summary" in result:
        n = sum(len(r.get("test_indices", [])) for r in result.get("runs", [])) or None
        return [{"task": task, "n": n, **{m: result["summary"].get(m) for m in TABLE_METRICS}}]
    return [{"task": task, "n": result.get("n"), **{m: result.get(m) for m in TABLE_METRICS}}]


def _table(rows: Sequence[dict[str, Any]], title: str) -> Any:
    from rich.table import Table

    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c, justify="left" if c == "task" else "right")
    for r in rows:
        table.add_row(*[_fmt(r.get(c), c) for c in columns])
    return table


def rich_table(rows: Sequence[dict[str, Any]], title: str = "KeepFIT evaluation") -> Any:
    """Classification rows and retrieval rows as two narrow tables (a rich ``Group``; print with a Console).

    Linear-probe cells show the mean over folds; standard deviations are in the JSON report.
    """
    from rich.console import Group

    cls = [r for r in rows if not str(r.get("task", "")).startswith("retrieval")]
    ret = [r for r in rows if str(r.get("task", "")).startswith("retrieval")]
    parts = []
    if cls:
        parts.append(_table(cls, f"{title}: classification"))
    if ret:
        parts.append(_table(ret, f"{title}: retrieval" if not cls else "retrieval"))
    return Group(*parts)
