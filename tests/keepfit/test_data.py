"""Data path: decoding with aspect kept, the exported-dataset reader, public CSV/ImageFolder + FLAIR prompts
(template, attributes, dictionary, banned categories), resumable sampling, per-sample augmentation, typed
config overrides."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from keepfit.data import (
    MMPairs,
    PublicImages,
    caption_class_id,
    load_image,
    read_flair_csv,
    read_image_folder,
)
from keepfit.errors import ConfigError, KeepfitError
from keepfit.prompts import (
    DESCRIPTIONS,
    FLAIR_TEMPLATE,
    PAPER_BANNED,
    category_key,
    category_vocabulary,
    describe,
    load_knowledge,
)
from keepfit.train.augment import augment_batch
from keepfit.train.batches import InfiniteBatchSampler, collate, to_device_pixels
from keepfit.train.config import AugmentConfig, load_config
from keepfit.train.synthetic import write_mm_dataset, write_public_csv


def _jpeg(w: int, h: int, colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_load_image_keeps_aspect_and_pads_right_bottom(tmp_path: Path) -> None:
    out = load_image(_jpeg(400, 200), 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[:32].mean() > 50 and out[33:].max() == 0  # 2:1 image fills the top half only
    png = tmp_path / "tall.png"
    Image.new("RGB", (50, 100), (10, 200, 10)).save(png)
    tall = load_image(png, 32)
    assert tall[:, :16, 1].min() > 150 and tall[:, 17:].max() == 0
    big = load_image(_jpeg(2048, 1536), 128)  # JPEG draft path: reduced decode, same geometry
    assert big.shape == (128, 128, 3) and big[:96].mean() > 50 and big[97:].max() == 0
    with pytest.raises(KeepfitError, match="cannot decode"):
        load_image(b"not an image", 32, name="pair-x")


@pytest.fixture(scope="module")
def mm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mm_dataset(tmp_path_factory.mktemp("mm"), n_train=30, n_test=6, seed=2, size=64)


def test_mm_pairs_from_exported_parquet(mm_dir: Path) -> None:
    ds = MMPairs.load(mm_dir, "train", 32, class_offset=10)
    assert len(ds) == 30
    item = ds[(3, 0)]
    assert item["pixels"].shape == (32, 32, 3) and item["text"] == ds.captions[3]
    # pairs sharing a caption share a class id; ids are offset past the public vocabulary
    by_caption: dict[str, set[int]] = {}
    for c, i in zip(ds.captions, ds.class_ids.tolist(), strict=True):
        by_caption.setdefault(c, set()).add(i)
    assert all(len(ids) == 1 for ids in by_caption.values())
    assert len(by_caption) < len(ds)
    assert ds.class_ids.min() >= 10
    assert caption_class_id("Drusen  at the MACULA.", 10) == caption_class_id("drusen at the macula.", 10)
    cfp = MMPairs.load(mm_dir, "train", 32, modalities=["CFP"])
    assert 0 < len(cfp) < len(ds)
    with pytest.raises(KeepfitError, match="no 'validation' split"):
        MMPairs.load(mm_dir, "validation", 32)
    with pytest.raises(KeepfitError, match="unknown"):
        MMPairs.load(mm_dir, "train", 32, modalities=["XRAY"])


def test_mm_pairs_from_a_datasets_object(mm_dir: Path) -> None:
    import datasets

    from mmretinal_builder.schema import hf_features

    hf = datasets.load_dataset("parquet", data_files=str(mm_dir / "data" / "train-*.parquet"), split="train")
    hf = hf.cast(hf_features())
    direct = MMPairs.load(mm_dir, "train", 32)
    via_hf = MMPairs.from_hf(hf, 32)
    assert via_hf.captions == direct.captions
    np.testing.assert_array_equal(via_hf[0]["pixels"], direct[0]["pixels"])
    assert via_hf.fingerprint() == direct.fingerprint()


def test_public_csv_and_image_folder(tmp_path: Path) -> None:
    csv_path = write_public_csv(tmp_path / "pub", 16, seed=1, size=48)
    items = read_flair_csv(csv_path)
    assert len(items) == 16 and items[0].path.is_file() and items[0].attributes == []
    ds = PublicImages(items, 32, seed=0)
    assert ds.vocabulary == sorted(ds.vocabulary) and "glaucoma" in ds.vocabulary
    a, b = ds[(5, 0)], ds[(5, 0)]
    assert a["text"] == b["text"] and a["text"].startswith("A fundus photograph of ")  # empty [ATR] collapses
    assert ds.vocabulary[a["class_id"]] == category_key(ds.items[5].categories[0])
    texts = {ds[(5, e)]["text"] for e in range(12)}
    assert len(texts) > 1  # another epoch, another description
    folder = tmp_path / "folder"
    for cls in ("AMD", "Normal"):
        (folder / cls).mkdir(parents=True)
        (folder / cls / "x.jpg").write_bytes(_jpeg(40, 40))
    fitems = read_image_folder(folder)
    assert [it.categories for it in fitems] == [["AMD"], ["Normal"]]
    assert PublicImages(fitems, 16, 0).vocabulary == ["amd", "normal"]  # no alias merging
    bad = tmp_path / "bad.csv"
    bad.write_text("image,atributes,categories\nx.jpg,[],[oops\n")
    with pytest.raises(KeepfitError, match=r"bad.csv:2"):
        read_flair_csv(bad)


def _flair_csv(tmp_path: Path, rows: list[tuple[str, list[str], list[str]]]) -> Path:
    """A FLAIR CSV in FLAIR's layout (DATASET/images/x.jpg) with the given (image, atributes, categories)."""
    lines = ["image,atributes,categories"]
    for image, attrs, cats in rows:
        (tmp_path / image).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / image).write_bytes(_jpeg(24, 24))
        lines.append(f'{image},"{attrs!r}","{cats!r}"')
    path = tmp_path / "public.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_flair_prompts_attributes_plain_datasets_and_banned_categories(tmp_path: Path) -> None:
    csv_path = _flair_csv(tmp_path, [
        ("04_RFMid/a.jpg", ["left eye"], ["glaucoma"]),
        ("04_RFMid/b.jpg", [], ["Age-related macular degeneration"]),
        ("04_RFMid/c.jpg", [], ["age related macular degeneration"]),
        ("08_ODIR-5K/d.jpg", [], ["glaucoma"]),
        ("08_ODIR-5K/e.jpg", [], ["cataract"]),
        ("04_RFMid/f.jpg", [], ["normal", "Myopia"]),
        ("04_RFMid/g.jpg", [], ["pathologic myopia"]),
    ])
    items = read_flair_csv(csv_path)
    assert items[0].dataset == "04_RFMid" and items[0].attributes == ["left eye"]
    ds = PublicImages(items, 16, seed=0, plain_datasets=["08_ODIR-5K"], banned=PAPER_BANNED)
    # cataract and "Myopia" are banned (exact, up to case); "pathologic myopia" is another class and stays
    assert ds.counts() == {"kept": 5, "dropped": {"banned category 'cataract'": 1, "banned category 'myopia'": 1}}
    assert ds.vocabulary == ["age related macular degeneration", "glaucoma", "pathologic myopia"]
    # spelling variants share a class id
    assert ds[(1, 0)]["class_id"] == ds[(2, 0)]["class_id"]
    # the attribute fills [ATR]; the category or one of its descriptions fills [CLS]
    glaucoma = set(DESCRIPTIONS["glaucoma"]) | {"glaucoma"}
    texts = {ds[(0, e)]["text"] for e in range(30)}
    assert all(t.startswith("A left eye fundus photograph of ") for t in texts)
    assert {t.removeprefix("A left eye fundus photograph of ") for t in texts} == glaucoma
    # a dataset the reference keeps plain never gets a description
    assert {ds[(3, e)]["text"] for e in range(10)} == {"A fundus photograph of glaucoma"}
    with pytest.raises(KeepfitError, match="every one of 1 samples has a banned category"):
        PublicImages(items[4:5], 16, seed=0, banned=PAPER_BANNED)


def test_prompts_keys_and_knowledge_files(tmp_path: Path) -> None:
    assert category_key(" Age-Related_Macular  Degeneration ") == "age related macular degeneration"
    assert category_key("Diabetic Macular Oedema") == category_key("diabetic macular edema")
    assert category_key("haemorrhages") == category_key("hemorrhages")
    assert category_key("neovascularisation") == "neovascularization"
    assert category_key("myelinated nerve fibres") == category_key("myelinated nerve fibers")
    # no merging beyond spelling: abbreviations and related classes stay apart
    assert category_vocabulary(["DR", "diabetic retinopathy", "myopia", "pathologic myopia", "macular edema",
                                "diabetic macular edema", "npdr", "moderate diabetic retinopathy"]) == sorted(
        ["dr", "diabetic retinopathy", "myopia", "pathologic myopia", "macular edema", "diabetic macular edema",
         "npdr", "moderate diabetic retinopathy"])
    assert len(DESCRIPTIONS) > 100 and "retinitis pigmentosa" in DESCRIPTIONS  # FLAIR's class set
    text = describe("glaucoma", random.Random(0))
    assert text.startswith("A fundus photograph of ")
    assert describe("some rare thing", random.Random(0), attributes=["right eye"]) == (
        "A right eye fundus photograph of some rare thing")
    assert FLAIR_TEMPLATE == "A [ATR] fundus photograph of [CLS]"
    # FLAIR's own dictionary.py (read as a literal, never executed) and YAML files
    (tmp_path / "dictionary.py").write_text(
        'import os\nos.system("echo never")\ndefinitions = {"glaucoma": ["a cupped disc"],\n'
        '               "normal": ["healthy"]}\ndatasets = ["x"]\n')
    flair = load_knowledge(tmp_path / "dictionary.py")
    assert flair.descriptions("Glaucoma") == ("Glaucoma", "a cupped disc")
    assert flair.descriptions("drusen") == ("drusen",)
    (tmp_path / "k.yaml").write_text("glaucoma: a cupped disc\nnormal: [healthy, no lesions]\n")
    assert load_knowledge(tmp_path / "k.yaml").descriptions("normal") == ("normal", "healthy", "no lesions")
    (tmp_path / "bad.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="definitions"):
        load_knowledge(tmp_path / "bad.py")


def test_sampler_is_resumable_and_shards_ranks() -> None:
    full = iter(InfiniteBatchSampler(23, 4, seed=3))
    first = [next(full) for _ in range(12)]  # 5 batches per epoch: crosses two epoch boundaries
    later = iter(InfiniteBatchSampler(23, 4, seed=3, start=7))
    assert [next(later) for _ in range(5)] == first[7:12]
    assert {e for batch in first for _, e in batch} == {0, 1, 2}
    epoch0 = [i for batch in first[:5] for i, _ in batch]
    assert len(set(epoch0)) == 20
    assert [i for batch in first[5:10] for i, _ in batch] != epoch0  # reshuffled each epoch
    ranks = [iter(InfiniteBatchSampler(23, 3, seed=3, rank=r, world=2)) for r in range(2)]
    r0, r1 = ([i for _ in range(3) for i, _ in next(it)] for it in ranks)
    assert not set(r0) & set(r1)
    with pytest.raises(KeepfitError, match="cannot fill one batch"):
        InfiniteBatchSampler(5, 4, seed=0, world=2)


def test_collate_and_device_layout() -> None:
    items = [
        {"pixels": np.full((8, 8, 3), i, np.uint8), "text": f"t{i}", "class_id": i, "index": i}
        for i in range(3)
    ]
    batch = collate(items)
    x = to_device_pixels(batch["pixels"], torch.device("cpu"), channels_last=True)
    assert x.shape == (3, 3, 8, 8) and x.is_contiguous(memory_format=torch.channels_last)
    assert float(x[2].max()) == pytest.approx(2 / 255)


def test_augmentation_is_per_sample_and_reproducible() -> None:
    x = torch.rand(16, 3, 24, 24)
    cfg = AugmentConfig(hflip=0.5, affine_p=0.5, jitter_p=0.5)
    a = augment_batch(x, cfg, torch.Generator().manual_seed(0))
    b = augment_batch(x, cfg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    assert a.min() >= 0 and a.max() <= 1
    changed = [(a[i] - x[i]).abs().max() > 1e-6 for i in range(16)]
    assert 0 < sum(changed) < 16  # each sample draws its own parameters
    flips = AugmentConfig(hflip=1.0, affine_p=0.0, jitter_p=0.0)
    torch.testing.assert_close(augment_batch(x, flips, torch.Generator()), x.flip(-1))
    off = AugmentConfig(enabled=False)
    assert augment_batch(x, off, torch.Generator()) is x


@pytest.mark.parametrize("augment_mm", [True, False])
def test_assembled_batch_augments_mm_rows_only_when_asked(augment_mm: bool) -> None:
    from keepfit.model import KeepFIT, ModelConfig
    from keepfit.train.batches import assemble

    cfg = load_config(None, ["model.vision=tiny-cnn", "model.text_model=tiny-bert", "augment.hflip=1.0",
                             "augment.affine_p=0", "augment.jitter_p=0", f"augment.mm={str(augment_mm).lower()}",
                             "train.channels_last=false"])
    model = KeepFIT.from_config(ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=8, image_size=16))
    g = torch.Generator().manual_seed(0)

    def part(n: int, offset: int) -> dict:
        px = torch.randint(0, 255, (n, 16, 16, 3), generator=g, dtype=torch.uint8)
        return {"pixels": px, "text": ["drusen"] * n, "class_id": torch.arange(offset, offset + n),
                "index": torch.arange(n)}

    pub, mm = part(2, 0), part(3, 10)
    batch = assemble(pub, mm, model, cfg, torch.device("cpu"), torch.Generator())
    raw = to_device_pixels(torch.cat([pub["pixels"], mm["pixels"]]), torch.device("cpu"), False)
    assert batch["n_public"] == 2 and batch["class_ids"].tolist() == [0, 1, 10, 11, 12]
    torch.testing.assert_close(batch["pixels"][:2], raw[:2].flip(-1))  # public rows: always augmented
    torch.testing.assert_close(batch["pixels"][2:], raw[2:].flip(-1) if augment_mm else raw[2:])
    assert batch["input_ids"].shape[1] % 8 == 0  # padded to a multiple of 8 for the masked pooling


def test_config_overrides_are_typed_and_unknown_keys_fail(tmp_path: Path) -> None:
    cfg = load_config(
        None,
        [
            "train.lr=3e-4",
            "train.max_steps=7",
            "knowledge.topk=null",
            "train.compile=true",
            "model.vision=resnet18",
            "data.public=[{kind: imagefolder, path: x}]",
        ],
    )
    assert cfg.train.lr == 3e-4 and isinstance(cfg.train.lr, float)
    assert cfg.train.max_steps == 7 and cfg.knowledge.topk is None and cfg.train.compile is True
    assert cfg.data.public[0].kind == "imagefolder"
    assert cfg.data.banned_categories == list(PAPER_BANNED)  # the paper's default
    with pytest.raises(ConfigError, match=r"unknown config key 'train.lrr' \(valid keys in train: "):
        load_config(None, ["train.lrr=1"])
    with pytest.raises(ConfigError, match=r"train.batch_size: Input should be a valid integer"):
        load_config(None, ["train.batch_size=big"])
    with pytest.raises(ConfigError, match="model.vision"):
        load_config(None, ["model.vision=vgg"])
    with pytest.raises(ConfigError, match=r"data.public\[0\].kind"):
        load_config(None, ["data.public=[{kind: zip, path: x}]"])
    yml = tmp_path / "c.yaml"
    yml.write_text("train:\n  lr: 1e-5\n  epochs: 2\nmodel:\n  embed_dims: 3\n")
    with pytest.raises(ConfigError, match=r"c.yaml: unknown config key 'model.embed_dims'"):
        load_config(yml)
    for name in ("keepfit_paper.yaml", "keepfit_demo_cpu.yaml"):
        path = Path(__file__).resolve().parents[2] / "pipelines" / name
        assert load_config(path).train.seed == 42
