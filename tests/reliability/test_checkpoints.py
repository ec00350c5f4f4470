"""Training safety: checkpoints and imported weights are read without unpickling arbitrary objects, and a
corrupt, truncated or hostile file is a clear CheckpointError (never code execution, never a raw traceback)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from keepfit import checkpoint as ckpt
from keepfit.errors import CheckpointError
from keepfit.hub import read_state_dict


class Payload:
    """Unpickling this runs ``os.mkdir(marker)``: what a hostile checkpoint would do with ``torch.load``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def hostile_pickle(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {"w": torch.zeros(2)}, "extra": Payload(marker)}, path)
    return path


@pytest.fixture
def saved(tmp_path) -> tuple[Path, nn.Module]:
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    path = ckpt.save_checkpoint(tmp_path / "checkpoints", 7, model=model, bank=None, optimizer=opt, scheduler=sched,
                                rng_states=[ckpt.rng_state()], meta={"note": "test"})
    return path, model


def test_a_clean_checkpoint_round_trips(saved):
    path, model = saved
    assert ckpt.resolve(path.parent.parent) == path
    assert ckpt.read_meta(path)["step"] == 7
    fresh = nn.Linear(4, 3)
    ckpt.load_into(fresh, path / ckpt.MODEL_FILE)
    assert torch.equal(fresh.weight, model.weight)
    assert ckpt.load_state(path)["step"] == 7


def test_truncated_weights_are_a_clear_error(saved):
    path, _ = saved
    weights = path / ckpt.MODEL_FILE
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        ckpt.read_meta(path)
    with pytest.raises(CheckpointError, match="cannot read safetensors"):
        ckpt.load_tensors(weights)


def test_flipped_byte_in_state_is_caught_by_the_checksum(saved):
    path, _ = saved
    state = path / ckpt.STATE_FILE
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 differs"):
        ckpt.read_meta(path)


def test_garbled_meta_and_dangling_pointer(saved):
    path, _ = saved
    (path.parent / "latest").write_text("step-0000999\n")
    with pytest.raises(CheckpointError, match="missing or incomplete"):
        ckpt.resolve(path.parent)
    (path / ckpt.META_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        ckpt.read_meta(path)
    (path / ckpt.META_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a keepfit-checkpoint"):
        ckpt.read_meta(path)


def test_a_hostile_pickle_in_the_state_file_never_runs(saved, tmp_path):
    path, _ = saved
    marker = tmp_path / "pwned"
    hostile_pickle(path / ckpt.STATE_FILE, marker)
    with pytest.raises(CheckpointError, match="cannot read"):
        ckpt.load_state(path)
    assert not marker.exists(), "loading a checkpoint executed code from its pickle"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("suffix", [".pth", ".bin"])
def test_a_hostile_reference_checkpoint_never_runs(tmp_path, suffix):
    marker = tmp_path / "pwned"
    with pytest.raises(CheckpointError, match="corrupt or not a PyTorch state dict"):
        read_state_dict(hostile_pickle(tmp_path / f"flair{suffix}", marker))
    assert not marker.exists()
    plain = tmp_path / f"plain{suffix}"
    plain.write_bytes(pickle.dumps({"w": [1, 2, 3]}))  # a pickle that is not a torch file at all
    with pytest.raises(CheckpointError):
        read_state_dict(plain)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        read_state_dict(garbage)
