"""DDP: two gloo processes on the CPU train exactly like one process on the concatenated batch.

1. The objective under DistributedDataParallel (float64, cross-rank label-aware losses, knowledge revision)
   gives each rank the full-batch loss values and, after DDP's averaging, the full-batch gradients.
2. The training loop itself: a two-rank ``train()`` (batch b per rank) logs the same loss terms, gradient
   norm and logit scale, step for step, as a one-process ``train()`` with batch 2b on the same data. This
   goes through the loop's own construction of the objective, so a loop that built its losses without the
   cross-rank path (``distributed=False``: each rank's negatives and loss values its own) fails here.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import ddp_worker, metrics, parity_case, run_parity_step, tiny_config  # noqa: E402

from keepfit.train import train  # noqa: E402
from keepfit.train.synthetic import write_mm_dataset  # noqa: E402

WORLD = 2
PER_RANK = 4
LOOP = {  # deterministic apart from summation order: no augmentation, no dropout, GroupNorm towers
    "data.synthetic_public": 16,
    "train.max_steps": 3,
    "train.checkpoint_every": 1,
    "train.eval_retrieval": False,
    "augment.enabled": False,
    "knowledge.bank": "momentum",
    "knowledge.topk": 4,
}


def test_two_gloo_ranks_match_one_process(tmp_path: Path) -> None:
    cases = [
        # paper setup: separate public/MM losses, momentum bank, top-k multi-head revision
        parity_case(1, n_public=6, n_mm=4, loss_mode="separate",
                    knowledge={"mode": "attention", "bank": "momentum", "topk": 4}),
        # one joint loss, the reference's in-batch bank (gathered across ranks), parameter-free retrieval
        parity_case(2, n_public=4, n_mm=6, loss_mode="joint",
                    knowledge={"mode": "retrieval", "bank": "batch", "topk": None}),
    ]
    mm_dir = write_mm_dataset(tmp_path / "mm", n_train=24, n_test=4, seed=5, size=64)
    train_args = {"mm_dir": mm_dir, "out_dir": tmp_path / "ranks",
                  "extra": {**LOOP, "train.batch_size": PER_RANK}}
    mp.spawn(ddp_worker, args=(WORLD, str(tmp_path / "init"), str(tmp_path), cases, train_args),
             nprocs=WORLD, join=True)

    # 1. the objective: full-batch loss values on every rank, full-batch gradients after DDP averaging
    for index, case in enumerate(cases):
        n = case["n_public"] + case["n_mm"]
        want_losses, want_grads = run_parity_step(case, list(range(n)), distributed=False, wrap_ddp=False)
        assert "loss_revision" in want_losses
        assert len(want_grads) > 10
        for rank in range(WORLD):
            got_losses, got_grads = torch.load(tmp_path / f"rank{rank}.pt")[index]
            # contrastive terms are global on every rank; the revision term is this rank's mean
            contrastive = [k for k in want_losses if k.endswith(("_img", "_txt"))]
            assert len(contrastive) == (2 if case["loss_mode"] == "joint" else 4)
            for key in contrastive:
                assert abs(got_losses[key] - want_losses[key]) < 1e-10, (index, rank, key)
            assert got_grads.keys() == want_grads.keys()
            for name, want in want_grads.items():
                torch.testing.assert_close(got_grads[name], want, rtol=1e-8, atol=1e-10,
                                           msg=lambda m, where=(index, rank, name): f"case/rank/param {where}: {m}")

    # 2. the loop: two ranks x batch b == one process x batch 2b, every logged term at every step
    one = tiny_config(mm_dir, tmp_path / "one", **{**LOOP, "train.batch_size": WORLD * PER_RANK})
    assert train(one)["world_size"] == 1
    want, got = metrics(tmp_path / "one"), metrics(tmp_path / "ranks")
    assert [r["step"] for r in got] == [r["step"] for r in want] == [1, 2, 3]
    terms = ["loss_public_img", "loss_public_txt", "loss_mm_img", "loss_mm_txt", "loss_revision", "loss",
             "grad_norm", "logit_scale", "lr"]
    for w, g in zip(want, got, strict=True):
        assert set(terms) <= w.keys() and set(terms) <= g.keys()
        for key in terms:
            assert math.isclose(g[key], w[key], rel_tol=2e-4, abs_tol=1e-6), (
                f"step {w['step']} {key}: two ranks {g[key]!r} != one process {w[key]!r}")

    summaries = [json.loads((tmp_path / f"train{r}.json").read_text()) for r in range(WORLD)]
    assert [s["world_size"] for s in summaries] == [2, 2]
    assert summaries[0]["end_step"] == 3 and summaries[0]["final"] == summaries[1]["final"]
    meta = json.loads((tmp_path / "ranks" / "checkpoints" / "step-0000003" / "meta.json").read_text())
    assert meta["world_size"] == 2
    rng = torch.load(tmp_path / "ranks" / "checkpoints" / "step-0000003" / "state.pt", weights_only=True)["rng"]
    assert len(rng) == 2 and not torch.equal(rng[0]["augment"], rng[1]["augment"])
