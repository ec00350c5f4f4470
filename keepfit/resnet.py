"""ResNet image towers (He et al. 2016, the "V1.5" variant: stride on the 3x3 conv of a bottleneck).

Written here rather than taken from torchvision so that training needs torch alone: torchvision's compiled
operators are tied to one torch build, and the CPU build of torch that keeps a test machine's install small
(about 0.9 GB against 5.5 GB with the CUDA libraries) has no matching torchvision on PyPI.

Module names, parameter shapes, strides, padding and initialisation are torchvision's, so a torchvision
``state_dict`` (ImageNet weights, FLAIR/KeepFIT checkpoints) loads with ``load_state_dict`` unchanged, and a
keepfit checkpoint loads into torchvision. ``tests/keepfit/test_resnet.py`` holds the layers to a forward
pass recorded from torchvision.

``fc`` is ``nn.Identity``: every tower returns its pooled features, which the dual encoder projects itself.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from .errors import KeepfitError

#: depth -> (block type, blocks per stage)
_LAYOUTS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}

#: torchvision's ``weights="DEFAULT"`` files (ImageNet-1k); the hex in the name is the start of the file's
#: SHA-256, checked on download. torch.hub caches them where torchvision does (~/.cache/torch/hub/checkpoints),
#: so weights torchvision already fetched are found offline.
IMAGENET_URLS: dict[str, str] = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet34": "https://download.pytorch.org/models/resnet34-b627a593.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    "resnet101": "https://download.pytorch.org/models/resnet101-cd907fc2.pth",
    "resnet152": "https://download.pytorch.org/models/resnet152-f82ba261.pth",
}


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + skip)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv1x1(cin, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)  # V1.5: the stride sits here, not on conv1
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + skip)


class ResNet(nn.Module):
    """A ResNet trunk with global average pooling; ``forward`` returns (batch, width) features."""

    def __init__(self, depth: str) -> None:
        super().__init__()
        if depth not in _LAYOUTS:
            raise KeepfitError(f"unknown ResNet '{depth}' (known: {', '.join(_LAYOUTS)})")
        kind, counts = _LAYOUTS[depth]
        block: type[BasicBlock] | type[Bottleneck] = BasicBlock if kind == "basic" else Bottleneck
        self.depth = depth
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        width = 64
        stages = []
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts, strict=True)):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or width != planes * block.expansion:
                downsample = nn.Sequential(
                    _conv1x1(width, planes * block.expansion, stride), nn.BatchNorm2d(planes * block.expansion)
                )
            blocks = [block(width, planes, stride, downsample)]
            width = planes * block.expansion
            blocks += [block(width, planes) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Identity()
        self.width = width
        # torchvision builds its 1000-class head here; drawing (and dropping) it keeps the random stream, so a seed
        # gives the tower torchvision would, and what is built after it (projections, text tower) is unchanged
        nn.Linear(width, 1000)
        # torchvision's initialisation, so a randomly initialised tower trains as the reference's did
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def imagenet_state_dict(depth: str, cache_dir: Path | None = None) -> dict[str, Tensor]:
    """torchvision's ImageNet weights for ``depth`` (downloaded once, then read from the torch.hub cache)."""
    url = IMAGENET_URLS.get(depth)
    if url is None:
        raise KeepfitError(f"no ImageNet weights known for '{depth}'")
    try:
        return torch.hub.load_state_dict_from_url(
            url, model_dir=None if cache_dir is None else str(cache_dir), map_location="cpu", check_hash=True
        )
    except Exception as e:  # noqa: BLE001 - urllib/OSError/RuntimeError (hash): all mean "not available"
        raise KeepfitError(
            f"model.vision_weights='imagenet': could not fetch {url} ({type(e).__name__}: {e}); "
            f"put the file in {torch.hub.get_dir()}/checkpoints or give a local .pth/.safetensors path instead"
        ) from e
