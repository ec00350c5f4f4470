"""Kill-and-resume: a run stopped (or SIGKILLed) after step k and resumed from its latest checkpoint logs
exactly the losses of an uninterrupted run (deterministic mode, CPU)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_helpers import losses_by_step, tiny_config, tiny_overrides  # noqa: E402

from keepfit.errors import CheckpointError  # noqa: E402
from keepfit.train import train  # noqa: E402
from keepfit.train.synthetic import write_mm_dataset  # noqa: E402

STEPS = 12
COMMON = {
    "data.synthetic_public": 12,
    "train.max_steps": STEPS,
    "train.deterministic": True,
    "train.checkpoint_every": 1,
    "train.keep_checkpoints": 2,
    "train.eval_retrieval": False,
    "knowledge.bank": "momentum",
}


@pytest.fixture(scope="module")
def mm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mm_dataset(tmp_path_factory.mktemp("mm"), n_train=16, n_test=4, seed=11, size=64)


@pytest.fixture(scope="module")
def reference(mm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, float]:
    out = tmp_path_factory.mktemp("uninterrupted")
    summary = train(tiny_config(mm_dir, out, **COMMON))
    assert summary["end_step"] == STEPS
    losses = losses_by_step(out)
    assert sorted(losses) == list(range(1, STEPS + 1))
    return losses


def test_stop_and_resume_matches_uninterrupted(
    mm_dir: Path, reference: dict[int, float], tmp_path: Path
) -> None:
    cfg = tiny_config(mm_dir, tmp_path, **COMMON)
    first = train(cfg, stop_at_step=5)
    assert first["end_step"] == 5
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")) == [
        "step-0000004",
        "step-0000005",
    ]
    second = train(cfg, resume="latest")
    assert second["start_step"] == 5 and second["end_step"] == STEPS
    assert losses_by_step(tmp_path) == reference


def test_sigkill_and_resume_matches_uninterrupted(
    mm_dir: Path, reference: dict[int, float], tmp_path: Path
) -> None:
    args = [a for kv in tiny_overrides(mm_dir, tmp_path, **COMMON) for a in ("--set", kv)]
    code = "import sys; from keepfit.cli import app; sys.argv[0] = 'keepfit'; app()"
    (tmp_path / "empty.yaml").write_text("{}\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "train", "--config", str(tmp_path / "empty.yaml"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    pointer = tmp_path / "checkpoints" / "latest"
    deadline = time.monotonic() + 300
    while not (pointer.is_file() and pointer.read_text().strip() >= "step-0000003"):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = int(pointer.read_text().strip().removeprefix("step-"))
    assert killed_at < STEPS, "the run finished before it could be killed"
    summary = train(tiny_config(mm_dir, tmp_path, **COMMON), resume="latest")
    assert summary["start_step"] == killed_at
    assert losses_by_step(tmp_path) == reference


def test_corrupt_checkpoint_is_a_clear_error(mm_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(mm_dir, tmp_path, **{**COMMON, "train.max_steps": 2})
    train(cfg)
    weights = tmp_path / "checkpoints" / "step-0000002" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: corrupt or truncated"):
        train(cfg, resume="latest")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        train(cfg, resume=str(tmp_path / "nowhere"))
