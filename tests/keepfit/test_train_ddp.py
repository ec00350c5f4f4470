"""DDP: two gloo processes on the CPU give the same loss and parameter gradients as one process on the
concatenated batch (real TrainStep under DistributedDataParallel, label-aware losses with cross-rank
negatives, knowledge revision), and a real two-rank ``train()`` run completes with a checkpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import ddp_worker, parity_case, run_parity_step  # noqa: E402

from keepfit.synthetic import write_mm_dataset  # noqa: E402

WORLD = 2


def test_two_gloo_ranks_match_one_process(tmp_path: Path) -> None:
    cases = [
        # paper setup: separate public/MM losses, momentum bank, top-k multi-head revision
        parity_case(
            1,
            n_public=6,
            n_mm=4,
            loss_mode="separate",
            knowledge={"mode": "attention", "bank": "momentum", "topk": 4},
        ),
        # one joint loss, the reference's in-batch bank (gathered across ranks), parameter-free retrieval
        parity_case(
            2,
            n_public=4,
            n_mm=6,
            loss_mode="joint",
            knowledge={"mode": "retrieval", "bank": "batch", "topk": None},
        ),
    ]
    mm_dir = write_mm_dataset(tmp_path / "mm", n_train=24, n_test=4, seed=5, size=64)
    train_args = {
        "mm_dir": mm_dir,
        "out_dir": tmp_path / "run",
        "data.synthetic_public": 16,
        "train.max_steps": 2,
        "train.checkpoint_every": 1,
        "train.eval_retrieval": False,
    }
    mp.spawn(
        ddp_worker,
        args=(WORLD, str(tmp_path / "init"), str(tmp_path), cases, train_args),
        nprocs=WORLD,
        join=True,
    )

    for index, case in enumerate(cases):
        n = case["n_public"] + case["n_mm"]
        want_losses, want_grads = run_parity_step(case, list(range(n)), distributed=False, wrap_ddp=False)
        assert "loss_revision" in want_losses
        assert len(want_grads) > 10
        for rank in range(WORLD):
            got_losses, got_grads = torch.load(tmp_path / f"rank{rank}.pt")[index]
            # contrastive terms are global on every rank; the revision term is this rank's mean
            for key in ("loss_public", "loss_mm", "loss_contrastive"):
                if key in want_losses:
                    assert abs(got_losses[key] - want_losses[key]) < 1e-10, (index, rank, key)
            assert got_grads.keys() == want_grads.keys()
            for name, want in want_grads.items():
                torch.testing.assert_close(
                    got_grads[name],
                    want,
                    rtol=1e-8,
                    atol=1e-10,
                    msg=lambda m, where=(index, rank, name): f"case/rank/param {where}: {m}",
                )

    summaries = [json.loads((tmp_path / f"train{r}.json").read_text()) for r in range(WORLD)]
    assert [s["world_size"] for s in summaries] == [2, 2]
    assert summaries[0]["end_step"] == 2 and summaries[0]["final"] == summaries[1]["final"]
    assert (tmp_path / "run" / "checkpoints" / "step-0000002" / "meta.json").is_file()
    meta = json.loads((tmp_path / "run" / "checkpoints" / "step-0000002" / "meta.json").read_text())
    assert meta["world_size"] == 2
    rng = torch.load(tmp_path / "run" / "checkpoints" / "step-0000002" / "state.pt", weights_only=True)["rng"]
    assert len(rng) == 2 and not torch.equal(rng[0]["augment"], rng[1]["augment"])
