"""``keepfit eval``: zero-shot, linear-probe, few-shot and retrieval evaluation of a checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer

TASKS = ("zero-shot", "linear-probe", "few-shot", "retrieval")


def _int_list(text: str, option: str, minimum: int = 1) -> list[int]:
    from keepfit.errors import ConfigError

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as e:
        raise ConfigError(f"{option}: expected comma-separated integers, got {text!r}") from e
    if not values or min(values) < minimum:
        raise ConfigError(f"{option}: expected integers >= {minimum}, got {text!r}")
    return values


def _descriptions_for(classes_file: Path | None, class_names: list[str]) -> dict[str, list[str]] | None:
    """Descriptions for the dataset's classes from the file (matched exactly or up to spelling)."""
    from keepfit.errors import ConfigError
    from keepfit.prompts import category_key, read_descriptions

    if classes_file is None:
        return None
    given = read_descriptions(classes_file)
    by_key = {category_key(k): v for k, v in given.items()}
    out, missing = {}, []
    for c in class_names:
        found = given.get(c) or by_key.get(category_key(c))
        if found is None:
            missing.append(c)
        else:
            out[c] = found
    if missing:
        raise ConfigError(f"{classes_file}: no descriptions for dataset class(es) {missing} "
                          f"(file has {sorted(given)})")
    return out


def register(app: typer.Typer) -> None:
    from keepfit.cli import friendly_errors

    @app.command("eval")
    @friendly_errors
    def eval_cmd(
        checkpoint: str = typer.Option(..., "--checkpoint", "-m",
                                       help="export dir, training run/checkpoint dir, or reference .pth"),
        tasks: list[str] = typer.Option(..., "--task", "-t", help=f"one of {', '.join(TASKS)} (repeatable)"),
        data: Path = typer.Option(..., "--data", "-d",
                                  help="exported dataset dir, FLAIR-style CSV, or ImageFolder dir"),
        split: str = typer.Option("test", help="split of an exported dataset"),
        label_column: str = typer.Option("modality", help="label column of an exported dataset"),
        csv_root: Path | None = typer.Option(None, help="folder the CSV's image paths are relative to"),
        classes: Path | None = typer.Option(
            None, help="class -> description(s) for the prompts: YAML/JSON, or FLAIR's dictionary.py"),
        descriptions_on: bool = typer.Option(
            True, "--descriptions/--no-descriptions",
            help="zero-shot/few-shot prompts: the class name and its dictionary descriptions, or the name only"),
        template: str | None = typer.Option(
            None, help="prompt template with {} (default 'A fundus photograph of {}'; '{}' for modality)"),
        protocol: str = typer.Option(
            "tuned", help="paper: the paper's linear probe (backbone features, C=0.316, 20/20 x reshuffles) and "
                          "few-shot (fixed hyper-parameters, 20% test); tuned: ours (k-fold, selection inside "
                          "the training data)"),
        features: str | None = typer.Option(
            None, help="linear probe features: embedding or backbone (default: backbone for paper, else embedding)"),
        folds: int = typer.Option(5, help="linear probe, tuned protocol: number of folds"),
        reshuffles: int = typer.Option(5, help="linear probe, paper protocol: number of reshuffles"),
        shots: str = typer.Option("1,5,10", help="few-shot: labelled images per class (in total), comma-separated"),
        seeds: str = typer.Option("0,1,2,3,4", help="few-shot: one test split + shot draw per seed (mean, std)"),
        methods: str = typer.Option("clip-adapter,tip-adapter,tip-adapter-f", help="few-shot methods"),
        val_fraction: float = typer.Option(
            0.0, help="zero-shot, binary: fraction per class held out to choose the threshold (not scored)"),
        seed: int = typer.Option(42, help="seed of the linear-probe splits and the zero-shot threshold split"),
        batch_size: int = typer.Option(32, help="feature-extraction batch size"),
        device: str = typer.Option("cpu", help="torch device, e.g. cuda"),
        out: Path | None = typer.Option(None, help="write OUT/<task>.json and OUT/<task>_confusion.png"),
        text_model: str | None = typer.Option(
            None, help="reference .pth only: the text tower it was trained with (default Bio_ClinicalBERT)"),
    ) -> None:
        """Evaluate a checkpoint; prints a table and (with --out) writes JSON reports and confusion matrices."""
        from rich.console import Console

        from keepfit.errors import ConfigError
        from keepfit.evaluate import tasks as T
        from keepfit.evaluate.adapters import METHODS, FewShotConfig
        from keepfit.evaluate.datasets import load_labeled
        from keepfit.evaluate.linear_probe import ProbeConfig
        from keepfit.evaluate.report import result_rows, rich_table, write_report
        from keepfit.evaluate.zero_shot import DEFAULT_TEMPLATE, MODALITY_DESCRIPTIONS
        from keepfit.hub import load_model

        bad = [t for t in tasks if t not in TASKS]
        if bad:
            raise ConfigError(f"--task: unknown {bad}; choose from {', '.join(TASKS)}")
        method_list = [m.strip() for m in methods.split(",") if m.strip()]
        bad = [m for m in method_list if m not in METHODS]
        if bad:
            raise ConfigError(f"--methods: unknown {bad}; choose from {', '.join(METHODS)}")
        if protocol not in ("tuned", "paper"):
            raise ConfigError(f"--protocol: must be tuned or paper, got {protocol!r}")
        if features not in (None, "embedding", "backbone"):
            raise ConfigError(f"--features: must be embedding or backbone, got {features!r}")
        shot_list = _int_list(shots, "--shots")
        seed_list = _int_list(seeds, "--seeds", minimum=0)
        probe_cfg = ProbeConfig.paper(seed, reshuffles) if protocol == "paper" else \
            ProbeConfig(protocol="kfold", folds=folds, seed=seed)
        if features:
            probe_cfg = probe_cfg.model_copy(update={"features": features})
        few_cfg = FewShotConfig(protocol=protocol, seeds=seed_list)  # type: ignore[arg-type]

        dataset = load_labeled(data, split=split, label_column=label_column, csv_root=csv_root)
        import_options = {"text_model": text_model} if text_model else {}
        model = load_model(checkpoint, device, **import_options)
        descriptions = _descriptions_for(classes, dataset.class_names)
        modality_defaults = descriptions is None and dataset.class_names == list(MODALITY_DESCRIPTIONS)
        if modality_defaults:
            descriptions = MODALITY_DESCRIPTIONS
        elif not descriptions_on:
            descriptions = {c: [] for c in dataset.class_names}
        tmpl = template or ("{}" if modality_defaults else DEFAULT_TEMPLATE)

        console = Console()
        console.print(f"{dataset.name}: {len(dataset)} images, classes {dataset.counts()}")
        x = T.image_features(model, dataset, batch_size)
        results = {}
        for task in dict.fromkeys(tasks):
            if task == "zero-shot":
                results[task] = T.run_zero_shot(model, dataset, descriptions=descriptions, template=tmpl,
                                                include_class_name=not modality_defaults, val_fraction=val_fraction,
                                                seed=seed, batch_size=batch_size, image_emb=x)
            elif task == "linear-probe":
                emb = x if probe_cfg.features == "embedding" else None  # backbone features: extracted there
                results[task] = T.run_linear_probe(model, dataset, probe_cfg, batch_size=batch_size, image_emb=emb)
            elif task == "few-shot":
                results[task] = T.run_few_shot(model, dataset, shots=shot_list, methods=method_list,
                                               cfg=few_cfg, descriptions=descriptions, template=tmpl,
                                               batch_size=batch_size, image_emb=x)
            else:
                results[task] = T.run_retrieval(model, dataset, batch_size=batch_size, image_emb=x)
            for key, value in (("checkpoint", str(checkpoint)), ("seed", seed)):
                results[task].setdefault(key, value)
            if out is not None:
                files = write_report(results[task], out, task)
                console.print("wrote " + ", ".join(str(f) for f in files.values()))
        rows = [row for r in results.values() for row in result_rows(r)]
        console.print(rich_table(rows, title=f"KeepFIT on {dataset.name}"))
