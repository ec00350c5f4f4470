"""Record torchvision's ResNets as a fixture, so `test_resnet.py` holds keepfit's towers to them without
torchvision installed. Re-run when the fixture's format changes (needs torchvision):

    python -m tests.keepfit.resnet_reference
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor, nn

FIXTURE = Path(__file__).parent / "fixtures" / "torchvision_resnets.json"
DEPTHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
FORWARD_DEPTHS = ("resnet18", "resnet50")  # one per block type
INPUT_SHAPE = (2, 3, 64, 64)


def layout(state: dict[str, Tensor]) -> list[list]:
    """[key, shape] for every tensor, in the state dict's order (fc left out: keepfit drops the head)."""
    return [[k, list(v.shape)] for k, v in state.items() if not k.startswith("fc.")]


def layout_digest(state: dict[str, Tensor]) -> str:
    return hashlib.sha256(json.dumps(layout(state)).encode()).hexdigest()


def fill(net: nn.Module, seed: int = 0) -> None:
    """Deterministic float64 weights that depend on names and shapes only, not on either library's init.

    Scaled so 50 layers neither vanish nor explode: conv weights ~ N(0, 1/fan_in), batch-norm scales near 1,
    running statistics away from the defaults so eval-mode normalisation is exercised.
    """
    gen = torch.Generator().manual_seed(seed)
    net.double()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen, dtype=torch.float64))
            elif t.dim() == 4:
                fan_in = t.shape[1] * t.shape[2] * t.shape[3]
                t.copy_(torch.randn(t.shape, generator=gen, dtype=torch.float64) / fan_in**0.5)
            elif name.endswith("weight"):
                t.copy_(1 + 0.1 * torch.randn(t.shape, generator=gen, dtype=torch.float64))
            else:  # bias, running_mean
                t.copy_(0.1 * torch.randn(t.shape, generator=gen, dtype=torch.float64))
    net.eval()


def probe_input() -> Tensor:
    return torch.rand(INPUT_SHAPE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def summary(feats: Tensor) -> dict[str, list]:
    """Per row: every 16th feature, the sum and the sum of squares (a wrong stride or pad moves all three)."""
    return {"every16": feats[:, ::16].tolist(), "sum": feats.sum(1).tolist(), "sumsq": (feats**2).sum(1).tolist()}


def seeded(build) -> dict[str, float]:
    """What a seed gives: sums of the first and last conv, and the next random number after construction."""
    torch.manual_seed(1234)
    net = build()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    return {"first_conv": convs[0].weight.double().sum().item(), "last_conv": convs[-1].weight.double().sum().item(),
            "next_rand": torch.rand(1, dtype=torch.float64).item()}


def main() -> None:
    import torchvision

    out: dict = {"torchvision": torchvision.__version__, "input_shape": list(INPUT_SHAPE), "digests": {},
                 "layouts": {}, "features": {}, "seeded": {}}
    for depth in DEPTHS:
        net = getattr(torchvision.models, depth)(weights=None)
        net.fc = nn.Identity()
        out["digests"][depth] = layout_digest(net.state_dict())
        if depth in FORWARD_DEPTHS:
            out["layouts"][depth] = layout(net.state_dict())
            fill(net)
            with torch.no_grad():
                feats = net(probe_input())
            out["features"][depth] = summary(feats)
            out["seeded"][depth] = seeded(getattr(torchvision.models, depth))
    FIXTURE.write_text(json.dumps(out) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
