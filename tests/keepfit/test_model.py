"""KeepFIT model: shapes and normalisation, masked pooling, temperature clamp, towers and weights."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from keepfit.errors import KeepfitError
from keepfit.model import KeepFIT, ModelConfig, build_tiny_tokenizer, default_text_model, tiny_vocab


@pytest.fixture(scope="module")
def model() -> KeepFIT:
    torch.manual_seed(0)
    return KeepFIT.from_config(
        ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=24, image_size=32)
    ).eval()


def test_encoders_return_unit_vectors(model: KeepFIT) -> None:
    pixels = torch.rand(3, 3, 32, 32)
    tok = model.tokenize(["A fundus photograph of drusen", "glaucoma", "optic disc cup with haemorrhages"])
    img, txt, scale = model(pixels, **tok)
    assert img.shape == (3, 24) and txt.shape == (3, 24)
    torch.testing.assert_close(img.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(txt.norm(dim=-1), torch.ones(3))
    assert math.isclose(float(scale.detach()), 1 / 0.07, rel_tol=1e-6)
    assert model.image_projection.bias is None and model.text_projection.bias is None


def test_masked_mean_ignores_padding(model: KeepFIT) -> None:
    short = model.tokenize(["drusen"])
    padded = model.tokenize(["drusen", "a much longer caption about the optic disc and the macula"])
    assert padded["input_ids"].shape[1] > short["input_ids"].shape[1]
    with torch.no_grad():
        alone = model.encode_text(**short)
        batched = model.encode_text(**padded)[:1]
    torch.testing.assert_close(alone, batched, rtol=1e-5, atol=1e-6)


def test_pooling_variants_differ_and_cls_uses_first_token() -> None:
    torch.manual_seed(0)
    base = KeepFIT.from_config(
        ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=8, image_size=32)
    )
    state = base.state_dict()
    tok = base.tokenize(["drusen at the macula"])
    outs = {}
    for pooling in ("mean", "cls", "mean-1-2-last", "mean-1-2-last-padded"):
        m = KeepFIT.from_config(
            ModelConfig(
                vision="tiny-cnn", text_model="tiny-bert", embed_dim=8, image_size=32, pooling=pooling
            )
        )
        m.load_state_dict(state)
        with torch.no_grad():
            outs[pooling] = m.encode_text(**tok)
    assert not torch.allclose(outs["mean"], outs["cls"])
    assert not torch.allclose(outs["mean"], outs["mean-1-2-last"])
    # one unpadded text: the reference's padded pooling is the masked one
    torch.testing.assert_close(outs["mean-1-2-last"], outs["mean-1-2-last-padded"])


def test_padded_pooling_averages_padding_like_the_reference() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=8, image_size=32,
                      pooling="mean-1-2-last-padded")
    m = KeepFIT.from_config(cfg).eval()
    tok = m.tokenize(["drusen", "a much longer caption about the optic disc and the macula"])
    with torch.no_grad():
        got = m.encode_text(**tok)
        out = m.text(**tok, output_hidden_states=True)
        hs = torch.stack([out.hidden_states[1], out.hidden_states[2], out.hidden_states[-1]])
        pooled = hs.permute(1, 0, 2, 3).mean(2).mean(1)  # the reference's TextModel.forward, verbatim
        x = torch.nn.functional.normalize(pooled, dim=-1)
        want = torch.nn.functional.normalize(m.text_projection(x), dim=-1)
        alone = m.encode_text(**m.tokenize(["drusen"]))
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got[:1], alone, atol=1e-3)  # padding changes the short text's embedding


def test_logit_scale_clamped_to_100(model: KeepFIT) -> None:
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    model.clamp_logit_scale()
    assert math.isclose(float(model.scale().detach()), 100.0, rel_tol=1e-5)
    with torch.no_grad():
        model.logit_scale.fill_(-3.0)
    model.clamp_logit_scale()
    assert float(model.logit_scale.detach()) == 0.0
    with torch.no_grad():
        model.logit_scale.fill_(model.config.logit_scale_init)


def test_pixels_are_normalised_inside_the_model(model: KeepFIT) -> None:
    # a constant ImageNet-mean image must reach the tower as zeros
    mean_image = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1).expand(1, 3, 32, 32)
    with torch.no_grad():
        got = model.encode_image(mean_image)
        feats = torch.nn.functional.normalize(model.vision(torch.zeros(1, 3, 32, 32)), dim=-1)
        want = torch.nn.functional.normalize(model.image_projection(feats), dim=-1)
    torch.testing.assert_close(got, want)
    assert "pixel_mean" not in model.state_dict()


def test_tiny_tokenizer_is_local_and_wordpiece() -> None:
    tok = build_tiny_tokenizer(16)
    enc = tok(["Drusen!", "xyzzy"], padding=True)
    vocab = tiny_vocab()
    assert enc["input_ids"][0][:3] == [vocab.index("[CLS]"), vocab.index("drusen"), vocab.index("!")]
    assert vocab.index("##y") in enc["input_ids"][1]  # unknown words fall back to characters, not [UNK]
    assert len(tok(["word " * 40], truncation=True, max_length=16)["input_ids"][0]) == 16


def test_resnet_tower_and_local_weights(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    cfg = ModelConfig(vision="resnet18", text_model="tiny-bert", embed_dim=16, image_size=32)
    torch.manual_seed(1)
    m = KeepFIT.from_config(cfg)
    assert m.vision_dim == 512 and m.image_projection.in_features == 512
    weights = {k: v.clone() for k, v in m.vision.state_dict().items()}
    weights["fc.weight"] = torch.zeros(1000, 512)  # a classifier head is dropped on load
    save_file(weights, str(tmp_path / "rn18.safetensors"))
    torch.save(weights, tmp_path / "rn18.pth")
    for name in ("rn18.safetensors", "rn18.pth"):
        torch.manual_seed(2)
        loaded = KeepFIT.from_config(cfg.model_copy(update={"vision_weights": str(tmp_path / name)}))
        torch.testing.assert_close(loaded.vision.conv1.weight, m.vision.conv1.weight)
    with pytest.raises(KeepfitError, match="not found"):
        KeepFIT.from_config(cfg.model_copy(update={"vision_weights": str(tmp_path / "missing.pth")}))


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(KeepfitError, match="model.vision"):
        ModelConfig.from_dict({"vision": "vgg"})
    with pytest.raises(KeepfitError, match="model.pooling"):
        ModelConfig.from_dict({"pooling": "max"})
    with pytest.raises(KeepfitError, match="unknown config key 'model.embed_dims'"):
        ModelConfig.from_dict({"embed_dims": 3})


def test_minilm_demo_tower_loads_offline() -> None:
    path = Path(default_text_model())
    assert (path / "config.json").is_file()
    m = KeepFIT.from_config(ModelConfig(vision="tiny-cnn", text_model="minilm", embed_dim=16, image_size=32))
    assert m.text_dim == 384
    with torch.no_grad():
        txt = m.encode_text(**m.tokenize(["optic disc"]))
    assert txt.shape == (1, 16)
