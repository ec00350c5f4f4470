"""keepfit's ResNets are torchvision's: same state-dict layout, same forward pass (fixture recorded from
torchvision by tests/keepfit/resnet_reference.py, so these tests need no torchvision)."""

from __future__ import annotations

import json

import pytest
import torch

from keepfit.errors import KeepfitError
from keepfit.resnet import IMAGENET_URLS, ResNet, imagenet_state_dict

from .resnet_reference import (
    DEPTHS,
    FIXTURE,
    FORWARD_DEPTHS,
    fill,
    layout,
    layout_digest,
    probe_input,
    seeded,
    summary,
)

REF = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("depth", DEPTHS)
def test_state_dict_layout_is_torchvisions(depth: str) -> None:
    net = ResNet(depth)
    if depth in REF["layouts"]:  # readable diff for the two recorded in full
        assert layout(net.state_dict()) == REF["layouts"][depth]
    assert layout_digest(net.state_dict()) == REF["digests"][depth]


@pytest.mark.parametrize("depth", FORWARD_DEPTHS)
def test_forward_matches_torchvision(depth: str) -> None:
    net = ResNet(depth)
    fill(net)
    with torch.no_grad():
        got = summary(net(probe_input()))
    want = REF["features"][depth]
    for key in ("every16", "sum", "sumsq"):
        torch.testing.assert_close(
            torch.tensor(got[key], dtype=torch.float64), torch.tensor(want[key], dtype=torch.float64),
            rtol=1e-9, atol=1e-12,
        )


@pytest.mark.parametrize("depth", FORWARD_DEPTHS)
def test_a_seed_gives_torchvisions_tower_and_leaves_the_stream_where_it_does(depth: str) -> None:
    # Same draws in the same order (construction, then kaiming init, and the dropped 1000-class head): a
    # seeded run builds the tower torchvision would, and everything initialised after it is unchanged too.
    got = seeded(lambda: ResNet(depth))
    for key, want in REF["seeded"][depth].items():
        assert got[key] == pytest.approx(want, rel=1e-12, abs=1e-12), key


def test_width_and_shapes() -> None:
    assert ResNet("resnet18").width == 512 and ResNet("resnet50").width == 2048
    out = ResNet("resnet18")(torch.rand(3, 3, 40, 56))
    assert out.shape == (3, 512)


def test_init_is_torchvisions() -> None:
    torch.manual_seed(0)
    net = ResNet("resnet50")
    conv = net.layer3[0].conv2.weight  # 3x3, 256 -> 256: kaiming normal, fan_out = 256 * 9
    assert abs(conv.std().item() - (2 / (256 * 9)) ** 0.5) < 0.002
    assert torch.all(net.layer4[2].bn3.weight == 1) and torch.all(net.layer4[2].bn3.bias == 0)


def test_unknown_depth() -> None:
    with pytest.raises(KeepfitError, match="unknown ResNet 'resnet9'"):
        ResNet("resnet9")


def test_imagenet_weights_read_from_the_hub_cache(tmp_path, monkeypatch) -> None:
    # A file already in the cache (where torchvision puts it) is used without the network.
    def no_network(*a, **k):
        raise AssertionError("downloaded although the file was cached")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    net = ResNet("resnet18")
    torch.save(net.state_dict(), tmp_path / IMAGENET_URLS["resnet18"].rsplit("/", 1)[1])
    state = imagenet_state_dict("resnet18", cache_dir=tmp_path)
    other = ResNet("resnet18")
    other.load_state_dict(state)
    torch.testing.assert_close(other.conv1.weight, net.conv1.weight)


def test_imagenet_weights_offline_names_the_way_out(tmp_path, monkeypatch) -> None:
    def no_network(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(KeepfitError, match="could not fetch .*resnet50-11ad3fa6.pth.*local .pth"):
        imagenet_state_dict("resnet50", cache_dir=tmp_path)
