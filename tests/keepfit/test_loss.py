"""The tiled label-aware contrastive loss against finite differences and the naive N x N reference."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from naive_loss import naive_flair_loss  # noqa: E402

from keepfit.loss import (  # noqa: E402
    LabelAwareContrastiveLoss,
    _bwd_tile_eager,
    _bwd_tile_functional,
    _fwd_tile_eager,
    _fwd_tile_functional,
    choose_chunk_size,
    contrastive_loss,
)

F64 = torch.float64


def _features(n: int, d: int, seed: int, dtype: torch.dtype = F64, noise: float = 0.7):
    """Paired unit-norm features: texts are noisy copies of the images, like a half-trained model."""
    gen = torch.Generator().manual_seed(seed)
    img = F.normalize(torch.randn(n, d, generator=gen, dtype=F64), dim=1)
    txt = F.normalize(img + noise * torch.randn(n, d, generator=gen, dtype=F64), dim=1)
    return img.to(dtype), txt.to(dtype)


def _ids(n: int, n_classes: int, seed: int) -> torch.Tensor:
    return torch.randint(0, n_classes, (n,), generator=torch.Generator().manual_seed(seed))


def _loss_and_grads(fn, img, txt, scale):
    """Run fn on fresh leaves; return (dict of loss values, [d_img, d_txt, d_scale]) in float64."""
    img, txt, scale = (t.detach().clone().requires_grad_() for t in (img, txt, scale))
    out = fn(img, txt, scale)
    out["loss"].backward()
    return {k: v.detach().to(F64) for k, v in out.items()}, [t.grad.to(F64) for t in (img, txt, scale)]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


# ---------------------------------------------------------------------------------------------------- exact


@pytest.mark.parametrize("scale", [1.0, 14.3, 100.0])
@pytest.mark.parametrize("labels", ["classes", "identity"])
def test_gradcheck_float64(scale: float, labels: str) -> None:
    n, d = 13, 6
    img, txt = _features(n, d, seed=int(scale))
    # Classes 0 and 3 repeat, 1, 4, 6 are singletons; chunk 5 leaves a ragged chunk of 3.
    ids = torch.tensor([0, 1, 0, 3, 0, 2, 3, 4, 2, 5, 5, 6, 3]) if labels == "classes" else None
    s = torch.tensor(scale, dtype=F64)

    def terms(i, t, sc):
        out = contrastive_loss(i, t, sc, ids, chunk_size=5)
        return out["loss"], out["loss_img"], out["loss_txt"]

    inputs = tuple(x.clone().requires_grad_() for x in (img, txt, s))
    assert torch.autograd.gradcheck(terms, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_matches_naive_float64_at_4096() -> None:
    n, d = 4096, 32
    img, txt = _features(n, d, seed=1)
    ids = _ids(n, 1500, seed=2)  # many duplicate classes and many singletons
    assert (torch.bincount(ids) == 1).any() and (torch.bincount(ids) > 3).any()
    s = torch.tensor(14.3, dtype=F64)
    ours, g_ours = _loss_and_grads(
        lambda i, t, sc: contrastive_loss(i, t, sc, ids, chunk_size=1000), img, txt, s
    )  # 4 chunks of 1000 + a ragged 96
    ref, g_ref = _loss_and_grads(lambda i, t, sc: naive_flair_loss(i, t, sc, ids), img, txt, s)
    for name in ("loss", "loss_img", "loss_txt"):
        assert abs(float(ours[name] - ref[name])) / abs(float(ref[name])) < 1e-10, name
    for name, a, b in zip(("d_img", "d_txt", "d_scale"), g_ours, g_ref, strict=True):
        assert _rel(a, b) < 1e-10, name


def test_term_names_follow_rows_images_columns_texts() -> None:
    # Identity classes: loss_img is the cross-entropy of each image over all texts (rows of s I T^T).
    img, txt = _features(9, 4, seed=3, noise=2.0)
    s = torch.tensor(7.0, dtype=F64)
    out = contrastive_loss(img, txt, s)
    logits = s * img @ txt.t()
    labels = torch.arange(9)
    torch.testing.assert_close(out["loss_img"], F.cross_entropy(logits, labels), rtol=1e-12, atol=0)
    torch.testing.assert_close(out["loss_txt"], F.cross_entropy(logits.t(), labels), rtol=1e-12, atol=0)
    torch.testing.assert_close(out["loss"], 0.5 * (out["loss_img"] + out["loss_txt"]), rtol=0, atol=0)
    assert not torch.allclose(out["loss_img"], out["loss_txt"])


# ---------------------------------------------------------------------------------------------------- bf16


@pytest.mark.parametrize("scale", [14.3, 100.0])
def test_bf16_close_to_float64_and_no_worse_than_naive_autocast(scale: float) -> None:
    n, d = 1024, 64
    img, txt = _features(n, d, seed=4, dtype=torch.float32)
    ids = _ids(n, 300, seed=5)
    s = torch.tensor(scale)
    ref, g_ref = _loss_and_grads(
        lambda i, t, sc: naive_flair_loss(i, t, sc, ids), img.double(), txt.double(), s.double()
    )
    ours, g_ours = _loss_and_grads(
        lambda i, t, sc: contrastive_loss(i, t, sc, ids, chunk_size=300), img.bfloat16(), txt.bfloat16(), s
    )

    def naive_autocast(i, t, sc):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return naive_flair_loss(i, t, sc, ids)

    naive, g_naive = _loss_and_grads(naive_autocast, img, txt, s)
    err_ours = [abs(float(ours["loss"] / ref["loss"] - 1))] + [
        _rel(a, b) for a, b in zip(g_ours, g_ref, strict=True)
    ]
    err_naive = [abs(float(naive["loss"] / ref["loss"] - 1))] + [
        _rel(a, b) for a, b in zip(g_naive, g_ref, strict=True)
    ]
    loss_err, d_img_err, d_txt_err, ds_err = err_ours
    assert loss_err < 1e-4 and d_img_err < 1e-2 and d_txt_err < 1e-2 and ds_err < 1e-3, err_ours
    for what, mine, theirs in zip(("loss", "d_img", "d_txt", "ds"), err_ours, err_naive, strict=True):
        assert mine <= theirs, f"{what}: tiled bf16 error {mine:.3g} > naive autocast error {theirs:.3g}"


def test_float16_features_are_computed_in_float32() -> None:
    img, txt = _features(256, 32, seed=28, dtype=torch.float16)
    ids, s = _ids(256, 60, seed=29), torch.tensor(50.0)
    ours, g_ours = _loss_and_grads(
        lambda i, t, sc: contrastive_loss(i, t, sc, ids, chunk_size=100), img, txt, s
    )
    ref, g_ref = _loss_and_grads(
        lambda i, t, sc: naive_flair_loss(i, t, sc, ids), img.double(), txt.double(), s.double()
    )
    assert abs(float(ours["loss"] / ref["loss"] - 1)) < 1e-6
    assert all(_rel(a, b) < 2e-3 for a, b in zip(g_ours, g_ref, strict=True))


def test_autocast_around_the_call_changes_nothing() -> None:
    img, txt = _features(64, 16, seed=6, dtype=torch.float32)
    ids, s = _ids(64, 10, seed=7), torch.tensor(30.0)
    plain = contrastive_loss(img, txt, s, ids, chunk_size=24)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = contrastive_loss(img, txt, s, ids, chunk_size=24)
    assert inside["loss"].dtype == torch.float32
    torch.testing.assert_close(inside["loss"], plain["loss"], rtol=1e-6, atol=0)


# ---------------------------------------------------------------------------------------------------- edges


def _assert_matches_naive(img, txt, s, ids, chunk_size, tol=1e-12):
    ours, g_ours = _loss_and_grads(
        lambda i, t, sc: contrastive_loss(i, t, sc, ids, chunk_size=chunk_size), img, txt, s
    )
    ref, g_ref = _loss_and_grads(lambda i, t, sc: naive_flair_loss(i, t, sc, ids), img, txt, s)
    for name in ref:
        torch.testing.assert_close(ours[name], ref[name], rtol=tol, atol=tol, msg=name)
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    return ours, g_ours


def test_single_class() -> None:
    img, txt = _features(10, 5, seed=8)
    _assert_matches_naive(img, txt, torch.tensor(14.3, dtype=F64), torch.zeros(10, dtype=torch.long), 3)


def test_single_pair_has_zero_loss() -> None:
    img, txt = _features(1, 5, seed=9)
    ours, grads = _assert_matches_naive(img, txt, torch.tensor(14.3, dtype=F64), None, None)
    assert float(ours["loss"]) == 0.0 and all(float(g.abs().max()) == 0.0 for g in grads)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 10, 64, None])
def test_any_chunk_size_gives_the_same_result(chunk_size: int | None) -> None:
    img, txt = _features(10, 5, seed=10)
    _assert_matches_naive(img, txt, torch.tensor(20.0, dtype=F64), _ids(10, 4, seed=11), chunk_size)


def test_near_duplicates_at_scale_100() -> None:
    gen = torch.Generator().manual_seed(12)
    base = F.normalize(torch.randn(1, 8, generator=gen, dtype=F64), dim=1)
    img = F.normalize(base + 1e-4 * torch.randn(12, 8, generator=gen, dtype=F64), dim=1)
    txt = F.normalize(base + 1e-4 * torch.randn(12, 8, generator=gen, dtype=F64), dim=1)
    _assert_matches_naive(img, txt, torch.tensor(100.0, dtype=F64), _ids(12, 5, seed=13), 5, tol=1e-10)


def test_far_apart_logits_do_not_underflow() -> None:
    # Opposite texts give logits of -100 for whole columns of a chunk; a fixed shift would underflow.
    img, txt = _features(8, 4, seed=14)
    img = torch.cat([img, -img])
    txt = torch.cat([txt, txt])
    _assert_matches_naive(img, txt, torch.tensor(100.0, dtype=F64), None, 8, tol=1e-10)


def test_permutation_invariance() -> None:
    img, txt = _features(17, 6, seed=15)
    ids, s = _ids(17, 6, seed=16), torch.tensor(14.3, dtype=F64)
    perm = torch.randperm(17, generator=torch.Generator().manual_seed(17))
    out, grads = _loss_and_grads(lambda i, t, sc: contrastive_loss(i, t, sc, ids, chunk_size=5), img, txt, s)
    out_p, grads_p = _loss_and_grads(
        lambda i, t, sc: contrastive_loss(i, t, sc, ids[perm], chunk_size=5), img[perm], txt[perm], s
    )
    for name in out:
        torch.testing.assert_close(out_p[name], out[name], rtol=1e-12, atol=0)
    torch.testing.assert_close(grads_p[0], grads[0][perm], rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(grads_p[1], grads[1][perm], rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(grads_p[2], grads[2], rtol=1e-10, atol=0)


def test_class_ids_are_labels_not_indices() -> None:
    img, txt = _features(9, 4, seed=18)
    s = torch.tensor(5.0, dtype=F64)
    compact = torch.tensor([0, 1, 0, 2, 2, 1, 3, 0, 4])
    sparse = torch.tensor([-7, 10**12, -7, 42, 42, 10**12, 5, -7, 0])
    a, b = contrastive_loss(img, txt, s, compact), contrastive_loss(img, txt, s, sparse)
    torch.testing.assert_close(a["loss"], b["loss"], rtol=0, atol=0)
    unique_ids = contrastive_loss(img, txt, s, torch.arange(9) * 3)
    torch.testing.assert_close(unique_ids["loss"], contrastive_loss(img, txt, s)["loss"], rtol=1e-14, atol=0)


def test_scale_shapes_and_types() -> None:
    img, txt = _features(6, 4, seed=19)
    s1 = torch.tensor([14.3], dtype=F64, requires_grad=True)
    out = contrastive_loss(img, txt, s1)
    out["loss"].backward()
    assert s1.grad.shape == (1,)
    torch.testing.assert_close(contrastive_loss(img, txt, 14.3)["loss"], out["loss"].detach())


def test_mixed_feature_dtypes_promote() -> None:
    img, txt = _features(6, 4, seed=20, dtype=torch.float32)
    out = contrastive_loss(img, txt.double(), torch.tensor(3.0))
    ref = contrastive_loss(img.double(), txt.double(), torch.tensor(3.0, dtype=F64))
    assert out["loss"].dtype == F64
    torch.testing.assert_close(out["loss"], ref["loss"], rtol=0, atol=0)


@pytest.mark.parametrize("which", ["image_features", "text_features", "logit_scale"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_is_rejected(which: str, bad: float) -> None:
    img, txt = _features(5, 3, seed=21)
    args = {"image_features": img.clone(), "text_features": txt.clone(), "logit_scale": torch.tensor(2.0)}
    if which == "logit_scale":
        args[which] = torch.tensor(bad)
    else:
        args[which][2, 1] = bad
    with pytest.raises(ValueError, match=f"{which} contain NaN or Inf"):
        contrastive_loss(**args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_features": torch.zeros(4, 3, dtype=F64)}, "same shape"),
        (
            {"image_features": torch.zeros(0, 3, dtype=F64), "text_features": torch.zeros(0, 3, dtype=F64)},
            "N >= 1",
        ),
        ({"logit_scale": torch.ones(2)}, "one value"),
        ({"class_ids": torch.zeros(4, dtype=torch.long)}, r"class_ids must have shape \(5,\)"),
        ({"class_ids": torch.zeros(5)}, "integer tensor"),
        ({"image_features": torch.zeros(5, 3, dtype=torch.long)}, "floating-point"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"backend": "triton"}, "backend"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict, message: str) -> None:
    img, txt = _features(5, 3, seed=22)
    args = {"image_features": img, "text_features": txt, "logit_scale": torch.tensor(2.0)} | kwargs
    with pytest.raises(ValueError, match=message):
        contrastive_loss(**args)


# ---------------------------------------------------------------------------------------------------- memory


def test_nothing_n_by_n_is_saved_for_backward() -> None:
    n, d = 256, 4
    img, txt = (t.requires_grad_() for t in _features(n, d, seed=23, dtype=torch.float32))
    s = torch.tensor(14.3, requires_grad=True)
    saved: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = contrastive_loss(img, txt, s, _ids(n, 50, seed=24), chunk_size=64)
    out["loss"].backward()
    assert saved and max(saved) <= n * d, f"largest saved tensor has {max(saved)} elements (N*D = {n * d})"


def test_choose_chunk_size() -> None:
    cpu = torch.device("cpu")
    assert choose_chunk_size(100, 100, cpu) == 100  # fits: one chunk
    # A budget for 300 rows of 1000 columns: 4 equal chunks of 250 rather than 300, 300, 300, 100.
    assert choose_chunk_size(1000, 1000, cpu, acc_bytes=4, budget_bytes=1000 * 4 * 5 * 300) == 250
    assert choose_chunk_size(1000, 10**9, cpu, budget_bytes=1) == 1
    small, large = choose_chunk_size(10**6, 2**14, cpu), choose_chunk_size(10**6, 2**18, cpu)
    assert 1 <= large < small < 10**6
    with pytest.raises(ValueError, match="n_rows"):
        choose_chunk_size(0, 10, cpu)


def test_compiled_kernels_compute_what_the_eager_ones_do() -> None:
    # torch.compile traces the functional kernels; pin them to the eager (in-place) ones.
    gen = torch.Generator().manual_seed(25)
    raw = torch.rand(7, 11, generator=gen, dtype=F64) * 2 - 1
    s = torch.tensor(30.0, dtype=F64)
    lse_row, lse_col = _fwd_tile_functional(raw, s)
    for got, want in zip(_fwd_tile_eager(raw.clone(), s), (lse_row, lse_col), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-14, atol=0)
    args = (
        raw,
        s,
        lse_row + 0.1,
        lse_col - 0.2,
        torch.rand(7, generator=gen, dtype=F64),
        torch.rand(11, generator=gen, dtype=F64),
        torch.float32,
    )
    for got, want in zip(_bwd_tile_eager(*args), _bwd_tile_functional(*args), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=0)


def test_module_wrapper() -> None:
    img, txt = _features(11, 4, seed=26)
    ids, s = _ids(11, 3, seed=27), torch.tensor(9.0, dtype=F64)
    module = LabelAwareContrastiveLoss(chunk_size=4, backend="eager")
    out, ref = module(img, txt, s, ids), contrastive_loss(img, txt, s, ids, chunk_size=4)
    assert set(out) == {"loss", "loss_img", "loss_txt"}
    for name in out:
        torch.testing.assert_close(out[name], ref[name], rtol=0, atol=0)
    with pytest.raises(ValueError, match="backend"):
        LabelAwareContrastiveLoss(backend="fast")


def test_benchmark_script_smoke(tmp_path: Path) -> None:
    import importlib.util
    import json

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "loss.py"
    spec = importlib.util.spec_from_file_location("loss_benchmark", script)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert (
        bench.main(
            [
                "--device",
                "cpu",
                "--sizes",
                "48,64",
                "--tiled-only-sizes",
                "80",
                "--dim",
                "16",
                "--warmup",
                "1",
                "--reps",
                "3",
                "--min-reps",
                "2",
                "--real-batch",
                "16",
                "--methods",
                "naive_flair_bf16,clip_bf16,ours_eager",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    cells = {(r["method"], r["n"]): r for r in report["results"]}
    expected = {(m, n) for m in ("naive_flair_bf16", "naive_clip_bf16", "ours_eager") for n in (48, 64)}
    assert set(cells) == expected | {("ours_eager", 80)}  # tiled-only sizes run ours only
    for cell in cells.values():
        assert (
            cell["status"] == "ok"
            and cell["reps"] == 3
            and cell["p10_ms"] <= cell["median_ms"] <= cell["p90_ms"]
        )
        assert cell["tflops"] == pytest.approx(8 * cell["n"] ** 2 * 16 / (cell["median_ms"] * 1e-3) / 1e12)
    assert cells[("ours_eager", 64)]["loss_rel_err"] < 1e-3
    assert {r["n"] for r in report["real_batch"]} == {16}
