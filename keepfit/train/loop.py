"""The KeepFIT training loop, to be read top to bottom: set-up, data, model, optimizer, resume, then one
optimizer step per iteration (micro-batches -> objective -> backward -> clip -> step -> log -> checkpoint).

What each step computes is :class:`keepfit.train.objective.Objective` (every loss term); the helpers hold
no decisions of their own: batches (:mod:`.batches`), datasets (:mod:`.datasets`), optimizer and schedule
(:mod:`.optim`), logs and held-out retrieval (:mod:`.monitor`), checkpoints (:mod:`keepfit.checkpoint`).

Design points (each fixes a defect of the reference code):

* DDP wraps the objective, so the loss is computed inside the wrapped ``forward`` and gradients really
  synchronise; the objective runs with ``distributed=True`` on several ranks, so negatives cross GPUs and
  DDP's averaging gives exactly the single-process full-batch gradient (tested with two gloo processes
  against one process on the concatenated batch, through this loop).
* The LR horizon is the real number of optimizer steps; a checkpoint holds optimizer, scheduler, RNG
  states, step, config and a dataset fingerprint; ``--resume latest`` continues bit-for-bit in
  deterministic mode (batches are a pure function of seed and step).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml
from torch import nn

from mmretinal_builder.io import atomic_write_text

from .. import checkpoint as ckpt_io
from ..errors import ConfigError, KeepfitError
from ..knowledge import KnowledgeBank, gather_for_bank
from ..model import KeepFIT
from .batches import assemble, stream
from .config import Config
from .datasets import load_data
from .monitor import MetricsLog, plot_curve, refresh_bank, retrieval
from .objective import Objective
from .optim import build_optimizer
from .runtime import autocast, seed_everything, setup_runtime


def train(cfg: Config, resume: str | None = None, stop_at_step: int | None = None) -> dict[str, Any]:
    """Run (or resume) training; returns a summary (steps, final losses, held-out retrieval before/after)."""
    tc, kc = cfg.train, cfg.knowledge
    rt = setup_runtime(tc.device)
    out_dir = Path(tc.out_dir)
    try:
        # ---- set-up: output folder, seeds
        if rt.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        rt.barrier()
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the tokenizer also runs in forked workers
        seed_everything(tc.seed, tc.deterministic)

        # ---- data and step budget (an epoch = one pass over the public data, or the MM data without it)
        data = load_data(cfg, rt, out_dir)
        pub_bs = tc.batch_size if data.public is not None else 0
        mm_bs = (tc.batch_size if tc.mm_batch_size is None else tc.mm_batch_size) if data.mm is not None else 0
        if pub_bs + mm_bs == 0:
            raise ConfigError("train.mm_batch_size=0 but there is no public data to train on")
        driver, driver_bs = (data.public, pub_bs) if data.public is not None else (data.mm, mm_bs)
        steps_per_epoch = max(1, (len(driver) // rt.world) // driver_bs // tc.accum_steps)
        total_steps = tc.max_steps or max(1, math.ceil(tc.epochs * steps_per_epoch))
        warmup = tc.warmup_steps if tc.warmup_steps is not None else round(tc.warmup_epochs * steps_per_epoch)
        warmup = min(warmup, max(0, total_steps - 1))

        # ---- model, objective, knowledge bank, optimizer
        model = KeepFIT.from_config(cfg.model).to(rt.device)  # + model.init_from weights, when set
        if tc.channels_last:
            model.vision.to(memory_format=torch.channels_last)
        if tc.sync_batchnorm and rt.world > 1:
            model.vision = nn.SyncBatchNorm.convert_sync_batchnorm(model.vision)
        use_revision = kc.mode != "off" and data.public is not None and mm_bs > 0
        if model.revision is not None and not (use_revision and kc.mode == "attention"):
            model.revision.requires_grad_(False)  # unused this run: DDP must not wait for its gradients
        if tc.text_lr_scale == 0:
            model.text.requires_grad_(False)  # frozen encoder: no gradients to compute, sync or store
        if tc.compile:  # in place: the state-dict keys stay those of the plain modules
            model.vision.compile()
            model.text.compile()
        bank = KnowledgeBank(len(data.mm), cfg.model.embed_dim).to(rt.device) \
            if use_revision and kc.bank != "batch" else None
        objective = Objective(model, cfg, distributed=rt.world > 1, revision=use_revision)
        runner: nn.Module = objective
        if rt.world > 1:
            runner = nn.parallel.DistributedDataParallel(
                objective, device_ids=[rt.local_rank] if rt.device.type == "cuda" else None)
        optimizer, scheduler = build_optimizer(model, tc, rt.device, total_steps, warmup, steps_per_epoch)
        aug_gen = torch.Generator(device=rt.device).manual_seed(tc.seed * 7919 + rt.rank)
        # Same initial weights everywhere (seeded above); from here on each rank draws its own dropout masks.
        torch.manual_seed(tc.seed + 1000 * rt.rank + 1)

        # ---- resume: weights, bank, optimizer, scheduler, step, this rank's RNG states
        start_step, rng_to_restore = 0, None
        ckpt_root = out_dir / "checkpoints"
        if resume:
            ckpt_dir = ckpt_io.resolve(resume, out_dir)
            meta = ckpt_io.read_meta(ckpt_dir)
            if meta.get("dataset_fingerprint") != data.fingerprint and not tc.allow_data_change:
                raise KeepfitError(f"{ckpt_dir}: trained on dataset {meta.get('dataset_fingerprint')}, this run "
                                   f"has {data.fingerprint}; set train.allow_data_change=true to resume anyway")
            ckpt_io.load_into(model, ckpt_dir / ckpt_io.MODEL_FILE)
            if bank is not None:
                ckpt_io.load_into(bank, ckpt_dir / ckpt_io.BANK_FILE)
            state = ckpt_io.load_state(ckpt_dir)
            try:
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
            except (KeyError, ValueError) as e:
                raise ckpt_io.CheckpointError(f"{ckpt_dir}: optimizer/scheduler state does not fit ({e})") from e
            start_step = int(state["step"])
            rng_to_restore = state["rng"][rt.rank % len(state["rng"])]
        if rt.is_main:
            ckpt_io.remove_stale(ckpt_root)  # half-written checkpoints of a killed run

        # ---- batch streams (created before the RNG restore; their own generators never touch it)
        loader = {"rank": rt.rank, "world": rt.world, "num_workers": cfg.data.num_workers,
                  "pin_memory": rt.device.type == "cuda", "prefetch_factor": cfg.data.prefetch_factor,
                  "start": start_step * tc.accum_steps}
        pub_iter = stream(data.public, pub_bs, tc.seed, **loader) if pub_bs else None
        mm_iter = stream(data.mm, mm_bs, tc.seed + 1, **loader) if mm_bs else None
        if rng_to_restore is not None:
            ckpt_io.set_rng_state(rng_to_restore, aug_gen)

        log = MetricsLog(out_dir, rt.is_main, tc.tensorboard, start_step if resume else None)
        summary: dict[str, Any] = {
            "out_dir": str(out_dir), "world_size": rt.world, "total_steps": total_steps,
            "steps_per_epoch": steps_per_epoch, "warmup_steps": warmup, "start_step": start_step,
            "dataset_fingerprint": data.fingerprint, "data": data.counts(), "heldout": data.heldout_name,
        }
        if start_step == 0:
            if bank is not None:
                refresh_bank(bank, model, data.mm, rt, cfg)
            if data.mm_heldout is not None and tc.eval_before and rt.is_main:
                summary["retrieval_before"] = retrieval(model, data.mm_heldout, rt, tc.eval_batch_size,
                                                        tc.precision)
            rt.barrier()
        meta_base = {
            "config": cfg.to_dict(), "model_config": cfg.model.to_dict(), "dataset_fingerprint": data.fingerprint,
            "vocabulary": data.vocabulary, "world_size": rt.world, "total_steps": total_steps,
            "torch_version": torch.__version__,
        }

        def save(step: int) -> None:
            states: list[Any] = [ckpt_io.rng_state(aug_gen)]
            if rt.world > 1:
                gathered: list[Any] = [None] * rt.world
                dist.all_gather_object(gathered, states[0])
                states = gathered
            if rt.is_main:
                ckpt_io.save_checkpoint(ckpt_root, step, model=model, bank=bank, optimizer=optimizer,
                                        scheduler=scheduler, rng_states=states, meta=meta_base,
                                        keep=tc.keep_checkpoints)
            rt.barrier()

        # ---- the loop: one optimizer step per iteration
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, initial=start_step, disable=not (rt.is_main and tc.progress), unit="step",
                   dynamic_ncols=True)
        params = [p for p in model.parameters() if p.requires_grad]
        samples_per_step = (pub_bs + mm_bs) * tc.accum_steps * rt.world
        model.train()
        step, last = start_step, {}
        t_window, n_window, data_time = time.perf_counter(), 0, 0.0
        while step < total_steps:
            totals: dict[str, torch.Tensor] = {}
            mm_seen = []
            for micro in range(tc.accum_steps):
                t0 = time.perf_counter()
                pub = next(pub_iter) if pub_iter is not None else None
                mm = next(mm_iter) if mm_iter is not None else None
                data_time += time.perf_counter() - t0
                batch = assemble(pub, mm, model, cfg, rt.device, aug_gen)
                if bank is not None:
                    batch["bank_image"], batch["bank_text"] = bank.image, bank.text
                last_micro = micro == tc.accum_steps - 1
                sync = contextlib.nullcontext() if last_micro or rt.world == 1 else runner.no_sync()
                with sync:
                    with autocast(rt.device, tc.precision):
                        losses, report = runner(batch)
                    (losses["loss"] / tc.accum_steps).backward()
                for k, v in losses.items():
                    totals[k] = totals.get(k, 0.0) + v.detach() / tc.accum_steps
                if bank is not None and mm is not None:
                    n = batch["n_public"]
                    mm_seen.append((batch["mm_index"], report["image"][n:], report["text"][n:]))
            if tc.grad_clip:
                grad_norm = torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
            else:
                grad_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params
                                                                  if p.grad is not None]))
            names = list(totals)
            stats = torch.stack([totals[k] for k in names] + [grad_norm.float(), model.scale().detach().float()])
            if rt.world > 1:  # the revision term is per rank; contrastive ones are already global
                dist.all_reduce(stats)
                stats /= rt.world
            values = dict(zip([*names, "grad_norm", "logit_scale"], stats.tolist(), strict=True))
            bad = [k for k in [*names, "grad_norm"] if not math.isfinite(values[k])]
            if bad:
                done = sorted(ckpt_root.glob("step-*"))
                shown = ", ".join(f"{k}={values[k]:.4g}" for k in names)
                raise KeepfitError(
                    f"non-finite {', '.join(bad)} at step {step + 1} ({shown}); weights were not updated. "
                    f"Last checkpoint: {done[-1] if done else 'none'}. Try a lower train.lr, "
                    "train.precision=fp32, or check the data.")
            lr_used = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            model.clamp_logit_scale()
            if bank is not None and kc.bank == "momentum":
                for index, img, txt in mm_seen:
                    bank.update(*gather_for_bank(index, img, txt), momentum=kc.momentum)
            step += 1
            if bank is not None and kc.bank == "refresh" and step % kc.refresh_every == 0:
                refresh_bank(bank, model, data.mm, rt, cfg)

            n_window, last = n_window + 1, values
            if step % tc.log_every == 0 or step in (total_steps, stop_at_step):
                elapsed = time.perf_counter() - t_window
                log.write({"step": step, "epoch": step / steps_per_epoch, "lr": lr_used, **last,
                           "samples_per_s": samples_per_step * n_window / max(elapsed, 1e-9),
                           "data_wait_s": data_time / n_window})
                bar.set_postfix(loss=f"{last['loss']:.4f}")
                t_window, n_window, data_time = time.perf_counter(), 0, 0.0
            bar.update(1)
            if step % tc.checkpoint_every == 0 or step in (total_steps, stop_at_step):
                save(step)
            if stop_at_step is not None and step >= stop_at_step:
                break
        bar.close()
        log.close()
        del pub_iter, mm_iter  # stop the loader workers now, not at garbage collection
        summary.update({"end_step": step, "final": last})

        # ---- the end: final weights, held-out retrieval, loss curve, summary.json
        if step == total_steps and rt.is_main:
            ckpt_io.export_final(out_dir / "final", model, meta_base, step)
            if data.mm_heldout is not None:
                summary["retrieval_after"] = retrieval(model, data.mm_heldout, rt, tc.eval_batch_size,
                                                       tc.precision)
            if tc.plot:
                png = plot_curve(log.path, out_dir / "loss_curve.png")
                summary["loss_curve"] = str(png) if png else None
        rt.barrier()
        if rt.is_main:
            path = out_dir / "summary.json"
            prev = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            # keep the 'before' numbers of the first segment of a resumed run
            summary = {**{k: v for k, v in prev.items() if k == "retrieval_before"}, **summary}
            atomic_write_text(path, json.dumps(summary, indent=1, sort_keys=True))
        return summary
    finally:
        rt.close()
        if tc.deterministic:
            torch.use_deterministic_algorithms(False)
