"""Model interchange: export/load round trip, Hub push (monkeypatched), reference .pth import."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertModel
from typer.testing import CliRunner

from keepfit import hub, weights
from keepfit.errors import CheckpointError
from keepfit.model import TINY_BERT, KeepFIT, ModelConfig, tiny_vocab
from keepfit.resnet import ResNet

TEXTS = ["A fundus photograph of glaucoma", "drusen at the macula", "haemorrhages in the superior retina"]


def _tiny_model(**changes) -> KeepFIT:
    torch.manual_seed(0)
    cfg = ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=16, image_size=32, **changes)
    return KeepFIT.from_config(cfg).eval()


def _embed(model: KeepFIT, pixels: torch.Tensor, texts=TEXTS) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        img = model.encode_image(pixels)
        txt = torch.cat([model.encode_text(**model.tokenize([t])) for t in texts])
    return img, txt


# -------------------------------------------------------------------------------------------- export


def test_save_and_load_pretrained_round_trip(tmp_path):
    model = _tiny_model()
    with torch.no_grad():
        model.logit_scale.fill_(2.5)
    out = hub.save_pretrained(model, tmp_path / "export", source={"step": 7})
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "text_encoder"} <= names
    assert (out / "text_encoder" / "tokenizer.json").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == hub.FORMAT and config["source"]["step"] == 7
    assert config["source"]["text_model"] == "tiny-bert"
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: keepfit") and "from_pretrained" in card

    loaded = hub.from_pretrained(out)
    pixels = torch.rand(2, 3, 32, 32)
    a, b = _embed(model, pixels), _embed(loaded, pixels)
    torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
    torch.testing.assert_close(a[1], b[1], rtol=0, atol=0)
    assert loaded.logit_scale.item() == pytest.approx(2.5)
    assert loaded.tokenize(TEXTS)["input_ids"].tolist() == model.tokenize(TEXTS)["input_ids"].tolist()


def test_load_model_dispatches_to_training_checkpoints(tmp_path):
    from keepfit.checkpoint import rng_state, save_checkpoint

    model = _tiny_model()
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    ckpt = save_checkpoint(tmp_path / "run" / "checkpoints", 3, model=model, bank=None, optimizer=opt,
                           scheduler=sched, rng_states=[rng_state()],
                           meta={"model_config": model.config.to_dict(), "dataset_fingerprint": "abc"})
    pixels = torch.rand(1, 3, 32, 32)
    for path in (ckpt, tmp_path / "run"):
        torch.testing.assert_close(_embed(hub.load_model(path), pixels)[0], _embed(model, pixels)[0])

    from keepfit.cli import app

    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "export")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "export" / "config.json").read_text())
    assert config["source"]["step"] == 3 and config["source"]["dataset_fingerprint"] == "abc"
    torch.testing.assert_close(_embed(hub.from_pretrained(tmp_path / "export"), pixels)[1], _embed(model, pixels)[1])


def test_push_to_hub_uses_huggingface_hub(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            calls.append(("create", repo_id, repo_type, private, exist_ok))

        def upload_folder(self, folder_path, repo_id, repo_type, commit_message):
            calls.append(("upload", sorted(p.name for p in __import__("pathlib").Path(folder_path).iterdir()), repo_id))

            class Info:
                commit_url = f"https://huggingface.co/{repo_id}/commit/123"

            return Info()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    out = hub.save_pretrained(_tiny_model(), tmp_path / "export")
    url = hub.push_to_hub(out, "me/keepfit-tiny", token="t0k")
    assert url.endswith("me/keepfit-tiny/commit/123")
    assert calls[0] == ("init", "t0k")
    assert calls[1] == ("create", "me/keepfit-tiny", "model", False, True)
    assert calls[2][0] == "upload" and "model.safetensors" in calls[2][1] and calls[2][2] == "me/keepfit-tiny"

    from keepfit.cli import app

    result = CliRunner().invoke(app, ["export", str(out), "--out", str(tmp_path / "again"),
                                      "--push-to-hub", "me/other"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["pushed"].endswith("me/other/commit/123")


# ------------------------------------------------------------------------------- reference layout


class _Projection(nn.Module):
    """FLAIR's ProjectionLayer: L2-normalise, bias-free linear, L2-normalise."""

    def __init__(self, layer: nn.Linear) -> None:
        super().__init__()
        self.projection = layer

    def forward(self, x):
        x = x / x.norm(dim=-1, keepdim=True)
        x = self.projection(x)
        return x / x.norm(dim=-1, keepdim=True)


class _RefVision(nn.Module):
    def __init__(self, proj_dim: int) -> None:
        super().__init__()
        self.model = ResNet("resnet18")  # torchvision's layout (tests/keepfit/test_resnet.py), fc = Identity
        self.projection_head_vision = _Projection(nn.Linear(512, proj_dim, bias=False))

    def forward(self, pixels):  # the reference feeds raw [0, 1] pixels
        return self.projection_head_vision(self.model(pixels))


class _RefText(nn.Module):
    def __init__(self, proj_dim: int) -> None:
        super().__init__()
        cfg = BertConfig(**{**TINY_BERT, "vocab_size": len(tiny_vocab())})
        self.model = BertModel(cfg)  # AutoModel keeps the pooler: its keys are in the reference files
        self.projection_head_text = _Projection(nn.Linear(cfg.hidden_size, proj_dim, bias=False))

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        hs = torch.stack([out["hidden_states"][1], out["hidden_states"][2], out["hidden_states"][-1]])
        return self.projection_head_text(hs.permute(1, 0, 2, 3).mean(2).mean(1))


class _RefAttention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.W_q, self.W_k, self.W_v, self.W_o = (nn.Linear(dim, dim, bias=False) for _ in range(4))


class ReferenceKeepFIT(nn.Module):
    """The module tree of the reference ``KeepFITModel`` (FLAIR's, plus ``attention``) at tiny sizes."""

    def __init__(self, proj_dim: int = 16, attention: bool = True) -> None:
        super().__init__()
        self.vision_model = _RefVision(proj_dim)
        self.text_model = _RefText(proj_dim)
        self.logit_scale = nn.Parameter(torch.log(torch.tensor(1 / 0.07)))
        if attention:
            self.attention = _RefAttention(proj_dim)


def _reference(seed: int = 1, attention: bool = True) -> ReferenceKeepFIT:
    torch.manual_seed(seed)
    ref = ReferenceKeepFIT(attention=attention)
    for m in ref.modules():  # non-trivial batch-norm statistics, so eval-mode BN is really exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    with torch.no_grad():
        ref.logit_scale.fill_(3.3)
    return ref.eval()


def test_reference_import_reproduces_reference_outputs(tmp_path):
    ref = _reference()
    path = tmp_path / "keepfit_resnet_epoch15.pth"
    torch.save(ref.state_dict(), path)
    model = hub.import_reference(path, text_model="tiny-bert", image_size=64)
    assert model.config.vision == "resnet18" and model.config.pooling == "mean-1-2-last-padded"
    assert model.config.embed_dim == 16 and model.config.revision_heads == 2
    assert hub.pixel_norm_of(model) == "none"

    pixels = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        ref_img = ref.vision_model(pixels)
        ref_txt = torch.cat([ref.text_model(**model.tokenize([t])) for t in TEXTS])
    img, txt = _embed(model, pixels)
    torch.testing.assert_close(img, ref_img, rtol=0, atol=1e-6)
    torch.testing.assert_close(txt, ref_txt, rtol=0, atol=1e-6)
    # a padded batch: the reference averages the padding in, and so does the imported model
    with torch.no_grad():
        tok = model.tokenize(TEXTS)
        torch.testing.assert_close(model.encode_text(**tok), ref.text_model(**tok), rtol=0, atol=1e-6)
    assert model.logit_scale.item() == pytest.approx(3.3)
    torch.testing.assert_close(model.revision.q.weight, ref.attention.W_q.weight)
    assert not model.revision.q.bias.any()

    # the imported model survives export and reload, raw-pixel input included
    again = hub.from_pretrained(hub.save_pretrained(model, tmp_path / "export"))
    assert hub.pixel_norm_of(again) == "none"
    torch.testing.assert_close(_embed(again, pixels)[0], ref_img, rtol=0, atol=1e-6)


def test_flair_checkpoint_without_attention_and_ddp_prefix(tmp_path):
    ref = _reference(seed=2, attention=False)
    path = tmp_path / "flair_resnet.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}}, path)
    model = hub.load_model(path, text_model="tiny-bert", image_size=64)
    assert model.revision is None
    pixels = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_image(pixels), ref.vision_model(pixels), rtol=0, atol=1e-6)


def test_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"this is not a zip or a pickle")
    with pytest.raises(CheckpointError, match="broken.pth: corrupt or not a PyTorch state dict"):
        hub.import_reference(bad, text_model="tiny-bert")
    truncated = tmp_path / "truncated.pth"
    torch.save(_reference().state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="truncated.pth"):
        hub.load_model(truncated, text_model="tiny-bert")


def test_unknown_layout_is_a_clear_error(tmp_path):
    other = tmp_path / "classifier.pth"
    classifier = ResNet("resnet18")
    classifier.fc = nn.Linear(512, 1000)  # an ImageNet classifier's keys, nothing of a dual encoder
    torch.save(classifier.state_dict(), other)
    with pytest.raises(CheckpointError, match="unknown layout"):
        hub.import_reference(other, text_model="tiny-bert")
    extra = tmp_path / "extra.pth"
    state = _reference().state_dict()
    state["fusion_head.weight"] = torch.zeros(2, 2)
    torch.save(state, extra)
    with pytest.raises(CheckpointError, match="fusion_head.weight"):
        hub.import_reference(extra, text_model="tiny-bert")
    objects = tmp_path / "objects.pth"
    torch.save({"epoch": 3}, objects)
    with pytest.raises(CheckpointError, match="dict of tensors"):
        hub.import_reference(objects)


def test_mismatched_text_tower_is_a_clear_error(tmp_path):
    path = tmp_path / "ref.pth"
    torch.save(_reference().state_dict(), path)
    with pytest.raises(CheckpointError, match="do not fit"):
        hub.import_reference(path, text_model="tiny-bert", text_config={"num_hidden_layers": 1})


def test_not_an_export_dir(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a keepfit-pretrained"):
        hub.from_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="no such"):
        hub.load_model(tmp_path / "missing")


def test_real_shaped_reference_checkpoint_reproduces_padded_text_embeddings(tmp_path):
    """RN50 + a 12-layer BERT-base text tower (Bio_ClinicalBERT's shapes, position_ids buffer, 2048/768 ->
    512 projections, 512-d attention): the imported model's embeddings of a padded batch are the
    reference's; a masked mean would not be."""
    torch.manual_seed(3)
    bert = BertConfig(vocab_size=28996, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072, max_position_embeddings=512)
    ref = nn.Module()
    ref.vision_model = nn.Module()
    ref.vision_model.model = ResNet("resnet50")
    ref.vision_model.projection_head_vision = _Projection(nn.Linear(2048, 512, bias=False))
    ref.text_model = nn.Module()
    ref.text_model.model = BertModel(bert)
    ref.text_model.projection_head_text = _Projection(nn.Linear(768, 512, bias=False))
    ref.logit_scale = nn.Parameter(torch.tensor(4.0))
    ref.attention = _RefAttention(512)
    ref.eval()
    state = ref.state_dict()
    state["text_model.model.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)  # older transformers
    path = tmp_path / "keepfit_resnet_v2_epoch15.pth"
    torch.save(state, path)
    del state

    model = hub.load_model(path, text_model="tiny-bert", text_config={"num_attention_heads": 12})
    assert model.config.vision == "resnet50" and model.config.embed_dim == 512
    assert model.text.config.num_hidden_layers == 12 and model.text.config.hidden_size == 768
    texts = ["glaucoma", "drusen at the macula", "many haemorrhages in the superior temporal arcade of the retina"]
    tok = model.tokenize(texts)
    assert (tok["attention_mask"] == 0).any()  # really padded
    with torch.no_grad():
        out = ref.text_model.model(**tok, output_hidden_states=True)
        hs = torch.stack([out["hidden_states"][1], out["hidden_states"][2], out["hidden_states"][-1]])
        want = ref.text_model.projection_head_text(hs.permute(1, 0, 2, 3).mean(2).mean(1))
        got = model.encode_text(**tok)
    cos = torch.nn.functional.cosine_similarity(got, want, dim=-1)
    assert cos.min() > 0.9999, cos
    # the fixed (masked) pooling gives different embeddings for the padded texts
    model.config.pooling = "mean-1-2-last"
    with torch.no_grad():
        fixed = model.encode_text(**tok)
    assert torch.nn.functional.cosine_similarity(fixed, want, dim=-1)[0] < 0.999
    pixels = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_image(pixels), ref.vision_model.projection_head_vision(
            ref.vision_model.model(pixels)), rtol=0, atol=1e-5)


def _as_reference_layout(state: dict) -> dict:
    """Our key names -> the reference's (the inverse of hub's mapping), as a FLAIR checkpoint would hold."""
    out = {}
    for key, value in state.items():
        for ref, ours in weights._REFERENCE_PREFIXES:
            if key.startswith(ours):
                out[ref + key[len(ours):]] = value
                break
        else:
            out[key] = value
    return out


def test_init_from_a_flair_checkpoint_or_a_run(tmp_path):
    """model.init_from: every tensor of the file lands in the new model; FLAIR has no revision attention,
    which keeps its fresh initialisation; another architecture is a clear error."""
    source = _tiny_model(revision_heads=0)
    with torch.no_grad():
        source.logit_scale.fill_(4.2)
    flair = tmp_path / "flair_resnet.pth"
    torch.save(_as_reference_layout(source.state_dict()), flair)
    cfg = ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=16, image_size=32, init_from=str(flair))
    torch.manual_seed(5)
    model = KeepFIT.from_config(cfg)
    torch.manual_seed(5)
    fresh = KeepFIT.from_config(cfg.model_copy(update={"init_from": None}))
    got, src = model.state_dict(), source.state_dict()
    assert all(torch.equal(got[k], src[k]) for k in src)
    assert model.logit_scale.item() == pytest.approx(4.2)
    torch.testing.assert_close(model.revision.q.weight, fresh.revision.q.weight)  # not in the file
    # a saved model loads without re-applying init_from (its own weights win)
    export = hub.save_pretrained(model, tmp_path / "export")
    assert json.loads((export / "config.json").read_text())["model"]["init_from"] is None
    # a keepfit directory works too, and a mismatched architecture is refused
    again = KeepFIT.from_config(cfg.model_copy(update={"init_from": str(export)}))
    assert torch.equal(again.revision.q.weight, model.revision.q.weight)
    with pytest.raises(CheckpointError, match="init_from does not fit"):
        KeepFIT.from_config(cfg.model_copy(update={"embed_dim": 8}))
