"""``mmretinal publish``: dry run, token handling, repo-id rules, and a real upload to a loopback Hub."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from huggingface_hub import constants
from typer.testing import CliRunner

from mmretinal_builder.cli import app
from mmretinal_builder.errors import BuilderError
from mmretinal_builder.export import export_run
from mmretinal_builder.export.publish import check_repo_id, find_token, plan_upload

from .fake_hub import serve_fake_hub

TOKEN = "hf_TestSecretToken0123456789abcdef"


@pytest.fixture
def dataset(run_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    export_run(run_dir, out)
    (out / ".data.tmp").mkdir()  # a leftover temp folder is never uploaded
    return out


@pytest.fixture
def no_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No token anywhere: no env variable, no login file."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_dry_run_lists_files_sizes_repo_revision(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    code, out = _cli("publish", str(dataset), "--repo-id", "my-lab/mm-retinal-test", "--revision", "v1",
                     "--private", "--dry-run")
    assert code == 0, out
    assert "datasets/my-lab/mm-retinal-test" in out and "revision v1" in out and "private" in out
    plan = plan_upload(dataset, "my-lab/mm-retinal-test")
    names = [n for n, _ in plan.files]
    assert "README.md" in names and any(n.startswith("data/") for n in names)
    assert not any(n.startswith(".") for n in names)
    for name in names:
        assert name in out
    assert f"{len(names)} files" in out and "token: found (not shown)" in out
    assert TOKEN not in out


def test_dry_run_without_token_says_so(dataset: Path, no_login: None) -> None:
    code, out = _cli("publish", str(dataset), "--repo-id", "org/name", "--dry-run")
    assert code == 0 and "token: none" in out


def test_no_token_is_a_clear_error(dataset: Path, no_login: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    code, out = _cli("publish", str(dataset), "--repo-id", "org/name")
    assert code == 2 and "no Hugging Face token" in out


def test_token_from_login_file(tmp_path: Path, no_login: None, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "home" / "token"
    token_file.parent.mkdir()
    token_file.write_text(TOKEN)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(token_file))
    assert find_token() == TOKEN


def test_offline_mode_is_a_clear_error(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    code, out = _cli("publish", str(dataset), "--repo-id", "org/name")
    assert code == 2 and "offline mode" in out and TOKEN not in out


@pytest.mark.parametrize("repo_id", ["noslash", "a/b/c", "org/na--me", "org/.hidden", "org/", "/name",
                                     "org/name.git", "org/" + "x" * 100, "org/bad name"])
def test_malformed_repo_ids(repo_id: str, dataset: Path) -> None:
    with pytest.raises(BuilderError, match="--repo-id"):
        check_repo_id(repo_id)
    code, out = _cli("publish", str(dataset), "--repo-id", repo_id, "--dry-run")
    assert code == 2 and "--repo-id" in out


def test_not_a_dataset_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out = _cli("publish", str(tmp_path / "empty"), "--repo-id", "org/name", "--dry-run")
    assert code == 2 and "no README.md" in out


def test_upload_to_a_loopback_hub(dataset: Path, monkeypatch: pytest.MonkeyPatch,
                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    caplog.set_level(logging.DEBUG)
    with serve_fake_hub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, out = _cli("publish", str(dataset), "--repo-id", "my-lab/mm-retinal-test", "--private",
                         "--revision", "v1")
    assert code == 0, out
    assert "uploaded" in out and "my-lab/mm-retinal-test/commit/" in out
    assert hub.repos == [{"name": "mm-retinal-test", "organization": "my-lab", "visibility": "private",
                          "type": "dataset"}]
    assert hub.branches == ["v1"]
    paths = [c.path for c in hub.calls]
    assert "/api/validate-yaml" in paths  # the card went through the (stand-in) Hub validator
    assert any(p.startswith("/api/datasets/my-lab/mm-retinal-test/commit/v1") for p in paths)
    plan = plan_upload(dataset, "my-lab/mm-retinal-test")
    assert sorted(hub.files) == [n for n, _ in plan.files]
    for name in hub.files:
        assert hub.files[name] == (dataset / name).read_bytes()
    assert all(c.headers.get("authorization") == f"Bearer {TOKEN}" for c in hub.calls)
    assert TOKEN not in out and TOKEN not in caplog.text


def test_hub_errors_never_show_the_token(dataset: Path, monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    caplog.set_level(logging.DEBUG)
    with serve_fake_hub() as hub:
        hub.reject_auth = True
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, out = _cli("publish", str(dataset), "--repo-id", "org/name")
    assert code == 2 and "publishing to org/name failed" in out
    assert "***" in out and TOKEN not in out and TOKEN not in caplog.text
