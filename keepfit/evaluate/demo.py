"""The README demo's closing table: zero-shot modality classification, retrieval R@k and a modality linear
probe on the test split of an exported dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import KeepfitError
from .datasets import from_exported
from .report import result_rows, rich_table, write_json
from .tasks import image_features, probe_config_for, run_linear_probe, run_retrieval, run_zero_shot
from .zero_shot import MODALITY_DESCRIPTIONS


def evaluate_demo(
    checkpoint: str | Path | Any,
    dataset_dir: str | Path,
    *,
    split: str = "test",
    out_dir: str | Path | None = None,
    device: str = "cpu",
    batch_size: int = 32,
    seed: int = 42,
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` (path or loaded model) on ``dataset_dir``'s ``split``.

    Returns ``{"results": {task: result}, "rows": [...], "table": rich.Table, "skipped": {task: reason}}``;
    with ``out_dir`` the results are also written to ``out_dir/demo_eval.json``.
    """
    from ..hub import load_model

    model = load_model(checkpoint, device) if isinstance(checkpoint, str | Path) else checkpoint
    data = from_exported(dataset_dir, split, "modality")
    if len(data) == 0:
        raise KeepfitError(f"{data.name}: the split is empty")
    x = image_features(model, data, batch_size)  # one extraction shared by all three tasks
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    results["zero-shot"] = run_zero_shot(model, data, descriptions=MODALITY_DESCRIPTIONS, template="{}",
                                         include_class_name=False, seed=seed, batch_size=batch_size, image_emb=x)
    results["zero-shot"]["task"] = "zero-shot modality"
    try:
        results["retrieval"] = run_retrieval(model, data, batch_size=batch_size, image_emb=x)
    except KeepfitError as e:
        skipped["retrieval"] = str(e)
    cfg = probe_config_for(data, seed)
    if cfg is None:
        skipped["linear-probe"] = f"needs two modalities with >= 2 images (counts: {data.counts()})"
    else:
        results["linear-probe"] = run_linear_probe(model, data, cfg, image_emb=x)
        results["linear-probe"]["task"] = f"linear probe ({cfg.folds}-fold)"
    rows = [row for r in results.values() for row in result_rows(r)]
    out = {"results": results, "rows": rows, "skipped": skipped,
           "table": rich_table(rows, title=f"KeepFIT on {Path(str(dataset_dir)).name}[{split}]")}
    if out_dir is not None:
        write_json({"results": results, "rows": rows, "skipped": skipped}, Path(out_dir) / "demo_eval.json")
    return out
