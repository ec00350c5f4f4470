"""Trainer end to end on CPU: CLI + demo config, outputs (metrics, TensorBoard, curve, final export),
LR schedule, NaN guard, knowledge-bank modes, config errors."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import tiny_config, tiny_overrides  # noqa: E402

import keepfit.train.objective as objective_mod  # noqa: E402
from keepfit.cli import app  # noqa: E402
from keepfit.errors import KeepfitError  # noqa: E402
from keepfit.hub import load_model  # noqa: E402
from keepfit.train import train  # noqa: E402
from keepfit.train.monitor import chance_recall  # noqa: E402
from keepfit.train.optim import param_groups, warmup_cosine  # noqa: E402
from keepfit.train.synthetic import write_mm_dataset  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "keepfit_demo_cpu.yaml"


@pytest.fixture(scope="module")
def mm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mm_dataset(tmp_path_factory.mktemp("mm"), n_train=16, n_test=8, seed=21, size=64)


def _output(result) -> str:
    return result.output + (getattr(result, "stderr", "") or "")


def test_cli_runs_the_demo_config_and_writes_every_output(mm_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = tiny_overrides(
        mm_dir,
        out,
        **{
            "data.synthetic_public": 12,
            "train.max_steps": 3,
            "train.mm_batch_size": 4,
            "train.tensorboard": True,
            "train.plot": True,
            "train.device": "cpu",
            "model.max_length": 32,
        },
    )
    args = ["train", "--config", str(DEMO)] + [a for kv in overrides for a in ("--set", kv)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, _output(result)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("retrieval_before", "retrieval_after"):
        assert 0 <= summary[key]["i2t_R@5"] <= 1 and "i2t_chance_R@5" in summary[key]
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    leaves = {"loss_public_img", "loss_public_txt", "loss_mm_img", "loss_mm_txt", "loss_revision"}
    assert leaves | {"loss", "lr", "samples_per_s", "grad_norm", "logit_scale"} <= rows[0].keys()
    assert all(math.isfinite(r["loss"]) for r in rows)
    # the logged total is the objective's weighted sum of the logged leaves
    for r in rows:
        want = 0.5 * sum(r[k] for k in leaves - {"loss_revision"}) + r["loss_revision"]
        assert r["loss"] == pytest.approx(want, rel=1e-5)
    assert any((out / "tensorboard").iterdir())
    assert (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "synthetic-public" / "README.txt").read_text().startswith("SYNTHETIC")
    meta = json.loads((out / "checkpoints" / "step-0000003" / "meta.json").read_text())
    assert meta["step"] == 3 and meta["dataset_fingerprint"].startswith("public:")
    assert meta["config"]["train"]["max_steps"] == 3 and len(meta["vocabulary"]) == 8
    assert summary["data"]["public"] == {"kept": 12, "dropped": {}}
    model = load_model(out / "final")
    with torch.no_grad():
        emb = model.encode_text(**model.tokenize(["drusen"]))
    assert emb.shape == (1, 32)
    # the final export holds the weights of the last checkpoint
    torch.testing.assert_close(load_model(out).state_dict(), model.state_dict())


def test_cli_rejects_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--config", str(DEMO), "--set", "train.lrr=1"])
    assert result.exit_code == 2 and "unknown config key 'train.lrr'" in _output(result)
    assert "keepfit_demo_cpu.yaml" in _output(result)  # the error names the file
    result = CliRunner().invoke(app, ["train", "--config", str(DEMO), "--set", "train.epochs=many"])
    assert result.exit_code == 2 and "train.epochs: Input should be a valid number" in _output(result)
    result = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "config file not found" in _output(result)


def test_warmup_then_cosine_over_the_real_horizon() -> None:
    f = warmup_cosine(total_steps=100, warmup_steps=10, min_ratio=0.1)
    assert f(0) == pytest.approx(1 / 11) and f(9) == pytest.approx(10 / 11)
    assert f(10) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.1 + 0.9 * 0.5)
    assert f(100) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(10, 100))
    # the reference's fixed 100-epoch horizon (train.cosine_epochs): a short run barely decays
    g = warmup_cosine(total_steps=100, warmup_steps=10, min_ratio=0.0, horizon=1000)
    assert g(100) == pytest.approx(0.5 * (1 + math.cos(math.pi * 90 / 990)))


def test_chance_recall_counts_shared_captions() -> None:
    assert chance_recall(["a", "b", "c", "d"], ks=(1, 2)) == {"i2t_chance_R@1": 0.25, "i2t_chance_R@2": 0.5}
    # two of four share a caption: those two queries have two correct texts
    assert chance_recall(["a", "a", "c", "d"], ks=(1,))["i2t_chance_R@1"] == pytest.approx(
        (0.5 + 0.5 + 0.25 + 0.25) / 4
    )


def test_nan_guard_names_step_and_term(mm_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = objective_mod.contrastive_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        out = real(*args, **kwargs)
        if calls["n"] == 3:
            out["loss_img"] = out["loss_img"] * float("nan")
        return out

    monkeypatch.setattr(objective_mod, "contrastive_loss", poisoned)
    cfg = tiny_config(
        mm_dir, tmp_path, **{"train.max_steps": 5, "train.checkpoint_every": 1, "train.eval_retrieval": False}
    )
    with pytest.raises(
        KeepfitError, match=r"non-finite loss, loss_mm_img, grad_norm at step 3 .*weights were not updated"
    ):
        train(cfg)
    assert (tmp_path / "checkpoints" / "step-0000002").is_dir()
    assert not (tmp_path / "checkpoints" / "step-0000003").exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"knowledge.bank": "refresh", "knowledge.refresh_every": 2, "train.loss_mode": "joint"},
        {
            "knowledge.bank": "batch",
            "knowledge.mode": "retrieval",
            "knowledge.topk": None,
            "train.accum_steps": 2,
        },
        {"knowledge.bank": "momentum", "train.accum_steps": 2},
        {"knowledge.mode": "off", "train.mm_batch_size": 2, "augment.mm": False},
    ],
)
def test_knowledge_and_loss_variants_train(
    mm_dir: Path, tmp_path: Path, extra: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each variant trains, logs its own terms, and really drives its knowledge bank: the loop refreshes
    (start + every refresh_every steps) or momentum-updates (once per micro-batch) exactly as configured."""
    import keepfit.train.loop as loop_mod
    from keepfit.knowledge import KnowledgeBank

    calls = {"refresh": 0, "update": 0}
    real_refresh, real_update = loop_mod.refresh_bank, KnowledgeBank.update

    def refresh(*args, **kwargs):
        calls["refresh"] += 1
        return real_refresh(*args, **kwargs)

    def update(self, *args, **kwargs):
        calls["update"] += 1
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(loop_mod, "refresh_bank", refresh)
    monkeypatch.setattr(KnowledgeBank, "update", update)
    cfg = tiny_config(
        mm_dir,
        tmp_path,
        **{
            "data.synthetic_public": 12,
            "train.max_steps": 3,
            "train.checkpoint_every": 10,
            "train.eval_retrieval": False,
            **extra,
        },
    )
    summary = train(cfg)
    assert summary["end_step"] == 3 and math.isfinite(summary["final"]["loss"])
    assert ("loss_revision" in summary["final"]) == (extra.get("knowledge.mode") != "off")
    joint = extra.get("train.loss_mode") == "joint"
    assert ("loss_joint_img" in summary["final"]) == joint and ("loss_public_img" in summary["final"]) != joint
    bank = extra.get("knowledge.bank") if extra.get("knowledge.mode") != "off" else None
    assert calls["refresh"] == {"refresh": 2, "momentum": 1}.get(bank, 0)  # start (+ step 2)
    assert calls["update"] == (3 * extra.get("train.accum_steps", 1) if bank == "momentum" else 0)
    assert (tmp_path / "checkpoints" / "step-0000003" / "knowledge.safetensors").is_file() == (
        bank in ("refresh", "momentum"))


def test_validation_books_are_held_out_of_training(mm_dir: Path, tmp_path: Path) -> None:
    """data.mm_val_books: those books' pairs are never trained on and the held-out retrieval uses them."""
    import pyarrow.parquet as pq

    books = pq.read_table(next((mm_dir / "data").glob("train-*.parquet"))).column("book").to_pylist()
    held = sorted(set(books))[0]
    cfg = tiny_config(mm_dir, tmp_path, **{"train.max_steps": 1, "data.mm_val_books": f"[{held}]",
                                           "train.mm_batch_size": 2, "train.batch_size": 2})
    summary = train(cfg)
    assert summary["heldout"] == "validation" and summary["data"]["validation"] == books.count(held)
    assert summary["data"]["mm"]["kept"] == len(books) - books.count(held)
    assert summary["retrieval_after"]["n"] == books.count(held)
    with pytest.raises(KeepfitError, match=r"data.mm_val_books: \['nope.pdf'\] not in"):
        train(tiny_config(mm_dir, tmp_path / "x", **{"data.mm_val_books": "[nope.pdf]"}))


def test_no_data_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tmp_path / "run", **{"data.mm_dir": None})
    with pytest.raises(KeepfitError, match="no training data"):
        train(cfg)


def test_param_groups_scale_the_text_encoder_lr() -> None:
    model = torch.nn.Module()
    model.text = torch.nn.Linear(3, 3)
    model.text_projection = torch.nn.Linear(3, 2, bias=False)
    model.logit_scale = torch.nn.Parameter(torch.tensor(1.0))
    groups = param_groups(model, 0.1, lr=1e-3, text_lr_scale=0.25)
    by_param = {id(p): (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    assert by_param[id(model.text.weight)] == (2.5e-4, 0.1)
    assert by_param[id(model.text.bias)] == (2.5e-4, 0.0)
    assert by_param[id(model.text_projection.weight)] == (1e-3, 0.1)  # the projection learns at full LR
    assert by_param[id(model.logit_scale)] == (1e-3, 0.0)
    assert sum(len(g["params"]) for g in groups) == 4
    # the reference decays every parameter (AdamW over model.parameters())
    groups = param_groups(model, 0.1, lr=1e-3, decay_on="all")
    assert all(g["weight_decay"] == 0.1 for g in groups) and sum(len(g["params"]) for g in groups) == 4


def test_text_lr_scale_zero_freezes_the_text_encoder(mm_dir: Path, tmp_path: Path) -> None:
    finals = {}
    for steps in (1, 3):
        cfg = tiny_config(mm_dir, tmp_path / f"s{steps}", **{
            "train.max_steps": steps, "train.text_lr_scale": 0, "train.eval_retrieval": False,
            "train.checkpoint_every": 10, "knowledge.mode": "off"})
        train(cfg)
        finals[steps] = load_model(tmp_path / f"s{steps}" / "final").state_dict()
    text = [k for k in finals[1] if k.startswith("text.")]
    assert text and all(torch.equal(finals[1][k], finals[3][k]) for k in text)
    assert not torch.equal(finals[1]["image_projection.weight"], finals[3]["image_projection.weight"])
    with pytest.raises(KeepfitError, match="text_lr_scale"):
        tiny_config(mm_dir, tmp_path, **{"train.text_lr_scale": -1})


PAPER = Path(__file__).resolve().parents[2] / "pipelines" / "keepfit_paper.yaml"


def test_paper_config_trains_on_cfp_only_from_a_flair_checkpoint(mm_dir: Path, tmp_path: Path) -> None:
    """The paper config, shrunk to CPU size but otherwise as written: CFP pairs only, starting from a
    FLAIR-layout .pth (no revision attention in it), every parameter decayed, raw pixels."""
    import pyarrow.parquet as pq

    from keepfit.model import KeepFIT, ModelConfig
    from keepfit.train.config import load_config
    from keepfit.train.synthetic import write_public_csv
    from keepfit.weights import _REFERENCE_PREFIXES

    cfg = load_config(PAPER)
    assert cfg.data.modalities == ["CFP"] and cfg.model.init_from and cfg.model.pixel_norm == "none"
    assert cfg.train.weight_decay_on == "all" and cfg.data.banned_categories[:2] == ["myopia", "cataract"]
    torch.manual_seed(9)
    flair = KeepFIT.from_config(ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=32,
                                            image_size=48, revision_heads=0))
    state = {}
    for key, value in flair.state_dict().items():
        ref, ours = next((r, o) for r, o in _REFERENCE_PREFIXES if key.startswith(o)) if key != "logit_scale" \
            else ("logit_scale", "logit_scale")
        state[ref + key[len(ours):]] = value
    torch.save({"state_dict": state}, tmp_path / "flair_resnet.pth")
    public = write_public_csv(tmp_path / "public", 12, seed=2, size=48)
    overrides = tiny_overrides(mm_dir, tmp_path / "run", **{
        "model.init_from": str(tmp_path / "flair_resnet.pth"), "model.pooling": "mean-1-2-last",
        "data.public": f"[{{kind: csv, path: {public}}}]", "train.max_steps": 1, "train.mm_batch_size": 4, "train.compile": False,
        "train.lr": 1e-9, "train.device": "cpu", "train.eval_retrieval": False, "data.num_workers": 0})
    args = ["train", "--config", str(PAPER)] + [a for kv in overrides for a in ("--set", kv)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, _output(result)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    train_split = pq.read_table(next((mm_dir / "data").glob("train-*.parquet")))
    cfp = sum(1 for m in train_split.column("modality").to_pylist() if m == 0)
    assert 0 < cfp < train_split.num_rows and summary["data"]["mm"] == {
        "kept": cfp, "dropped": {"modality not in data.modalities": train_split.num_rows - cfp}}
    # the public data lost its banned categories (the synthetic set has cataract and nothing else banned)
    assert list(summary["data"]["public"]["dropped"]) == ["banned category 'cataract'"]
    # one step at lr 1e-9 from the FLAIR weights: every tensor the file had is (almost) unchanged
    trained = load_model(tmp_path / "run" / "final").state_dict()
    for key, value in flair.state_dict().items():
        torch.testing.assert_close(trained[key], value, rtol=0, atol=1e-6, msg=key)
