"""Two gloo processes on the CPU must reproduce the single-process full-batch loss and gradients."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp

# naive_loss holds the reference and the spawn worker; spawned children import it by this name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from naive_loss import TinyTwoTower, ddp_parity_worker, model_grads, naive_flair_loss  # noqa: E402

from keepfit.loss import contrastive_loss  # noqa: E402

WORLD = 2


def _case(
    seed: int,
    n: int,
    split: int,
    class_ids: torch.Tensor | None,
    log_scale: float,
    chunk_size: int,
    real_ddp: bool,
) -> dict:
    gen = torch.Generator().manual_seed(seed)
    d_in = 7
    return {
        "seed": seed,
        "d_out": 5,
        "log_scale": log_scale,
        "chunk_size": chunk_size,
        "real_ddp": real_ddp,
        "x_img": torch.randn(n, d_in, generator=gen, dtype=torch.float64),
        "x_txt": torch.randn(n, d_in, generator=gen, dtype=torch.float64),
        "class_ids": class_ids,
        "bounds": [(0, split), (split, n)],
    }


def _single_process(case: dict) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    model = TinyTwoTower(case["x_img"].shape[1], case["d_out"], case["log_scale"], case["seed"])
    img, txt, scale = model(case["x_img"], case["x_txt"])
    out = contrastive_loss(img, txt, scale, case["class_ids"], chunk_size=case["chunk_size"])
    out["loss"].backward()
    # The single-process tiled loss is itself pinned to the naive reference in test_loss.py; check the
    # value here too so this test stands on its own.
    ref = naive_flair_loss(img.detach(), txt.detach(), scale.detach(), case["class_ids"])
    torch.testing.assert_close(out["loss"].detach(), ref["loss"], rtol=1e-12, atol=0)
    return {k: v.detach() for k, v in out.items()}, model_grads(model)


def test_two_gloo_ranks_match_full_batch(tmp_path: Path) -> None:
    # Classes spanning both ranks (0, 2, 5), singletons, an uneven 6/5 split, ragged chunks, and one case
    # under a real DistributedDataParallel wrapper (its gradient hooks interleave with the loss' collectives).
    ids = torch.tensor([0, 2, 0, 1, 5, 2, 3, 0, 5, 4, 2])
    cases = [
        _case(1, 11, 6, ids, log_scale=2.66, chunk_size=4, real_ddp=False),
        _case(2, 11, 6, None, log_scale=4.6, chunk_size=2, real_ddp=False),
        _case(
            3,
            12,
            6,
            torch.tensor([3, 1, 1, 0, 3, 2, 2, 1, 0, 0, 3, 3]),
            log_scale=0.0,
            chunk_size=5,
            real_ddp=True,
        ),
    ]
    mp.spawn(
        ddp_parity_worker, args=(WORLD, str(tmp_path / "init"), str(tmp_path), cases), nprocs=WORLD, join=True
    )
    per_rank = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for index, case in enumerate(cases):
        values, grads = _single_process(case)
        for rank_results in per_rank:
            got = rank_results[index]
            for name, value in values.items():
                torch.testing.assert_close(
                    got["values"][name], value, rtol=1e-6, atol=1e-9, msg=f"case {index} {name}"
                )
            for name, grad in grads.items():
                torch.testing.assert_close(
                    got["grads"][name], grad, rtol=1e-6, atol=1e-9, msg=f"case {index} grad {name}"
                )


def test_distributed_flag_without_process_group_is_local() -> None:
    gen = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(9, 4, generator=gen, dtype=torch.float64), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(9, 4, generator=gen, dtype=torch.float64), dim=1)
    scale = torch.tensor(10.0, dtype=torch.float64)
    ids = torch.tensor([0, 1, 0, 2, 2, 3, 4, 0, 1])
    local = contrastive_loss(img, txt, scale, ids, chunk_size=4)
    flagged = contrastive_loss(img, txt, scale, ids, chunk_size=4, distributed=True)
    for name in local:
        torch.testing.assert_close(flagged[name], local[name], rtol=0, atol=0)
