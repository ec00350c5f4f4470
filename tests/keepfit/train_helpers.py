"""Shared pieces of the trainer tests: tiny configs on synthetic data and the two-process DDP worker
(kept in a plain module so spawned children can import it by name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from keepfit.knowledge import KnowledgeBank, KnowledgeConfig
from keepfit.model import KeepFIT, ModelConfig
from keepfit.train.config import Config, load_config
from keepfit.train.objective import Objective


def tiny_overrides(mm_dir: Path | str, out_dir: Path | str, **extra: Any) -> list[str]:
    """--set assignments for a seconds-long CPU run: tiny CNN + tiny BERT at 48 px, fp32, no workers."""
    base = {
        "model.vision": "tiny-cnn",
        "model.text_model": "tiny-bert",
        "model.image_size": 48,
        "model.embed_dim": 32,
        "data.mm_dir": str(mm_dir),
        "data.num_workers": 0,
        "train.out_dir": str(out_dir),
        "train.batch_size": 4,
        "train.precision": "fp32",
        "train.channels_last": False,
        "train.log_every": 1,
        "train.progress": False,
        "train.tensorboard": False,
        "train.plot": False,
        "train.lr": 1e-3,
        "train.warmup_steps": 2,
        "knowledge.topk": 4,
    }
    base.update(extra)
    return [f"{k}={'null' if v is None else v}" for k, v in base.items()]


def tiny_config(mm_dir: Path | str, out_dir: Path | str, **extra: Any) -> Config:
    return load_config(None, tiny_overrides(mm_dir, out_dir, **extra))


def metrics(out_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's metrics.jsonl."""
    return [json.loads(ln) for ln in (out_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]


def losses_by_step(out_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in metrics(out_dir)}


# ------------------------------------------------------------------------------------- DDP parity

TEXTS = [
    "A fundus photograph of drusen",
    "A fundus photograph of glaucoma",
    "optic disc cup",
    "normal retina",
    "many haemorrhages in the superior retina",
    "a few hard exudates",
    "cotton wool spots",
    "macular edema",
]


def parity_case(
    seed: int, n_public: int, n_mm: int, loss_mode: str, knowledge: dict[str, Any]
) -> dict[str, Any]:
    """A global batch (public rows first, then MM rows) and the settings of one parity case."""
    g = torch.Generator().manual_seed(seed)
    n = n_public + n_mm
    return {
        "seed": seed,
        "n_public": n_public,
        "n_mm": n_mm,
        "loss_mode": loss_mode,
        "knowledge": knowledge,
        "pixels": torch.rand(n, 3, 32, 32, generator=g, dtype=torch.float64),
        "texts": [TEXTS[int(i)] for i in torch.randint(0, len(TEXTS), (n,), generator=g)],
        # public classes repeat across the two ranks' halves; MM ids past the vocabulary, one shared pair
        "class_ids": torch.cat(
            [
                torch.randint(0, 3, (n_public,), generator=g),
                100 + torch.tensor([0, 1, 2, 0, 3, 4, 5, 6][:n_mm]),
            ]
        ),
        "bank": torch.nn.functional.normalize(
            torch.randn(2, 10, 16, generator=g, dtype=torch.float64), dim=-1
        ),
    }


def build_objective(
    case: dict[str, Any], distributed: bool
) -> tuple[KeepFIT, Objective, Config, KnowledgeBank | None]:
    cfg = load_config(
        None,
        [
            "model.vision=tiny-cnn",
            "model.text_model=tiny-bert",
            "model.embed_dim=16",
            "model.image_size=32",
            f"train.loss_mode={case['loss_mode']}",
        ],
    )
    cfg.knowledge = KnowledgeConfig.from_dict(case["knowledge"])
    torch.manual_seed(case["seed"])
    model = KeepFIT.from_config(ModelConfig.from_dict(cfg.model.to_dict())).double()
    if cfg.knowledge.mode != "attention":
        model.revision.requires_grad_(False)
    bank = None
    if cfg.knowledge.bank != "batch":
        bank = KnowledgeBank(10, 16).double()
        bank.replace(case["bank"][0], case["bank"][1])
    objective = Objective(model, cfg, distributed=distributed, revision=cfg.knowledge.mode != "off")
    return model, objective, cfg, bank


def run_parity_step(
    case: dict[str, Any], rows: list[int], distributed: bool, wrap_ddp: bool
) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """One forward/backward of the real Objective on ``rows`` of the case's batch."""
    model, objective, cfg, bank = build_objective(case, distributed)
    runner = torch.nn.parallel.DistributedDataParallel(objective) if wrap_ddp else objective
    rows_t = torch.tensor(rows)
    tok = model.tokenize([case["texts"][r] for r in rows])
    batch = {
        "pixels": case["pixels"][rows_t],
        "input_ids": tok["input_ids"],
        "attention_mask": tok["attention_mask"],
        "class_ids": case["class_ids"][rows_t],
        "n_public": sum(1 for r in rows if r < case["n_public"]),
    }
    if bank is not None:
        batch["bank_image"], batch["bank_text"] = bank.image, bank.text
    losses, _ = runner(batch)
    losses["loss"].backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: float(v.detach()) for k, v in losses.items()}, grads


def rank_rows(case: dict[str, Any], rank: int, world: int) -> list[int]:
    """This rank's rows: its share of the public rows, then its share of the MM rows."""
    pub = list(range(case["n_public"]))
    mm = list(range(case["n_public"], case["n_public"] + case["n_mm"]))
    per_p, per_m = len(pub) // world, len(mm) // world
    return pub[rank * per_p : (rank + 1) * per_p] + mm[rank * per_m : (rank + 1) * per_m]


def ddp_worker(
    rank: int,
    world: int,
    init_file: str,
    out_dir: str,
    cases: list[dict[str, Any]],
    train_args: dict[str, Any],
) -> None:
    """Child process: parity cases under real DDP, then a short real ``train()`` run in the same group
    (``train_args`` are tiny_config keyword arguments)."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        results = [
            run_parity_step(c, rank_rows(c, rank, world), distributed=True, wrap_ddp=True) for c in cases
        ]
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
        from keepfit.train import train

        summary = train(tiny_config(train_args["mm_dir"], train_args["out_dir"], **train_args["extra"]))
        (Path(out_dir) / f"train{rank}.json").write_text(json.dumps(summary, default=str))
    finally:
        dist.destroy_process_group()
