"""Naive FLAIR / CLIP losses that materialise the N x N logits (the reference the tiled loss is checked
against), and the worker of the two-process gloo test (kept here so spawned children can import it)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def naive_flair_loss(
    image_features: Tensor, text_features: Tensor, logit_scale: Tensor, class_ids: Tensor | None = None
) -> dict[str, Tensor]:
    """FLAIR's label-aware loss written out: X = s * I @ T.T, soft targets [c_i == c_j] / n_{c_i}."""
    n = image_features.shape[0]
    logits = logit_scale * image_features @ text_features.t()
    if class_ids is None:
        class_ids = torch.arange(n, device=image_features.device)
    same = (class_ids[:, None] == class_ids[None, :]).to(logits.dtype)
    targets = same / same.sum(dim=1, keepdim=True)  # symmetric: equal classes have equal counts
    loss_img = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss_txt = -(targets * F.log_softmax(logits, dim=0)).sum(dim=0).mean()
    return {"loss": 0.5 * (loss_img + loss_txt), "loss_img": loss_img, "loss_txt": loss_txt}


def naive_clip_loss(image_features: Tensor, text_features: Tensor, logit_scale: Tensor) -> Tensor:
    """Plain CLIP loss with hard targets (what open_clip's ClipLoss computes on one process)."""
    logits = logit_scale * image_features @ text_features.t()
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


# ----------------------------------------------------------------------------------------------------
# Two-process harness. A tiny "model" (two bias-free projections and a log logit scale) makes the
# features, so that gradients can be compared where DDP compares them: on replicated parameters.


class TinyTwoTower(torch.nn.Module):
    """Linear image/text projections + L2 norm, and a learnable log logit scale (fp64 for the tests)."""

    def __init__(self, d_in: int, d_out: int, log_scale: float, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.img = torch.nn.Parameter(torch.randn(d_in, d_out, generator=gen, dtype=torch.float64))
        self.txt = torch.nn.Parameter(torch.randn(d_in, d_out, generator=gen, dtype=torch.float64))
        self.log_scale = torch.nn.Parameter(torch.tensor(log_scale, dtype=torch.float64))

    def forward(self, x_img: Tensor, x_txt: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return (
            F.normalize(x_img @ self.img, dim=1),
            F.normalize(x_txt @ self.txt, dim=1),
            self.log_scale.exp(),
        )


def model_grads(model: torch.nn.Module) -> dict[str, Tensor]:
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


def ddp_parity_worker(rank: int, world: int, init_file: str, out_dir: str, cases: list[dict]) -> None:
    """Run each case's row slice on this rank with distributed=True; save loss values and parameter
    gradients averaged like DDP (manual all_reduce SUM / W, or a real DistributedDataParallel wrapper)."""
    import datetime

    import torch.distributed as dist

    from keepfit.loss import contrastive_loss

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{init_file}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=120),
    )
    try:
        results = []
        for case in cases:
            start, stop = case["bounds"][rank]
            model = TinyTwoTower(case["x_img"].shape[1], case["d_out"], case["log_scale"], case["seed"])
            module = torch.nn.parallel.DistributedDataParallel(model) if case["real_ddp"] else model
            img, txt, scale = module(case["x_img"][start:stop], case["x_txt"][start:stop])
            ids = None if case["class_ids"] is None else case["class_ids"][start:stop]
            out = contrastive_loss(img, txt, scale, ids, chunk_size=case["chunk_size"], distributed=True)
            out["loss"].backward()
            if not case["real_ddp"]:
                for p in model.parameters():
                    dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                    p.grad /= world
            results.append({"values": {k: v.detach() for k, v in out.items()}, "grads": model_grads(model)})
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()
