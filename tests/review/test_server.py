"""Fast checks of the locks and of ``review serve``'s pieces that need no running server (the integration test
starts a real one from a fresh venv)."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mmretinal_builder.errors import BuilderError
from mmretinal_builder.review import server
from mmretinal_builder.review.server import ServerInfo, read_server_info, write_server_info

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    out = {}
    for line in lock.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = PIN.match(line)
        assert m, f"{lock.name}: not an exact pin: {line!r}"
        out[norm(m.group(1))] = m.group(2)
    return out


def requirement_names(specs: list[str]) -> set[str]:
    return {norm(re.match(r"[A-Za-z0-9._-]+", s).group(0)) for s in specs}


def test_dev_lock_pins_every_dependency_and_the_build_backend():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = requirement_names(project["project"]["dependencies"])
    for extra in project["project"]["optional-dependencies"].values():
        wanted |= requirement_names(extra)
    wanted |= requirement_names(project["build-system"]["requires"]) | {"pip"}
    dev = set(pins(REPO / "constraints" / "dev.txt"))
    for build in ("cpu", "cuda"):  # torch is locked per build, beside the rest
        missing = wanted - dev - set(pins(REPO / "constraints" / f"torch-{build}.txt"))
        assert not missing, f"constraints/dev.txt + torch-{build}.txt lack {sorted(missing)}: run refresh.sh dev"


def test_torch_builds_are_locked_apart():
    dev, cpu = pins(REPO / "constraints" / "dev.txt"), pins(REPO / "constraints" / "torch-cpu.txt")
    cuda = pins(REPO / "constraints" / "torch-cuda.txt")
    assert "torch" not in dev, "a torch pin in dev.txt would clash with one of the two builds"
    assert cpu["torch"].endswith("+cpu") and list(cpu) == ["torch"]
    assert "+" not in cuda["torch"] and "triton" in cuda and any(n.startswith("nvidia-") for n in cuda)
    assert not set(cuda) & set(dev)
    assert "torchvision" not in dev | cpu | cuda  # keepfit.resnet: torch alone (torchvision is tied to one build)


def test_label_studio_lock_pins_the_server_and_a_working_sentry():
    lock = pins(REPO / "constraints" / "label-studio.txt")
    assert {"label-studio", "pip", "setuptools", "wheel"} <= set(lock)
    assert int(lock["sentry-sdk"].split(".")[0]) < 3, "sentry-sdk 3 kills label-studio 1.23 at start"
    assert server.LOCK == REPO / "constraints" / "label-studio.txt"


def test_makefile_installs_only_through_the_lock():
    text = (REPO / "Makefile").read_text()
    assert "LOCK := constraints/dev.txt" in text
    assert re.search(r"^PIP := .*-c \$\(LOCK\) --build-constraint \$\(LOCK\)", text, re.M)
    installs = [ln for ln in text.splitlines() if "pip install" in ln or "$(PIP)" in ln]
    assert len(installs) >= 3
    for line in installs:
        assert line.lstrip().startswith("PIP :=") or "$(PIP)" in line or "-c $(LOCK)" in line, line


def test_server_file_is_private_and_round_trips(tmp_path):
    info = ServerInfo("http://127.0.0.1:8080", "t" * 40, "r@x", "pw", str(tmp_path), pid=123)
    path = tmp_path / server.SERVER_FILE
    path.write_text("{}")
    path.chmod(0o644)
    write_server_info(tmp_path, info)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_server_info(tmp_path) == info


def test_server_file_errors_name_the_file(tmp_path):
    with pytest.raises(BuilderError, match="mmretinal-server.json: not found.*review serve"):
        read_server_info(tmp_path)
    (tmp_path / server.SERVER_FILE).write_text(json.dumps({"url": "x"}))
    with pytest.raises(BuilderError, match="mmretinal-server.json: not a server file"):
        read_server_info(tmp_path)


def test_credentials_are_made_once_per_data_dir(tmp_path):
    first = server._credentials(tmp_path, 8080, tmp_path)
    assert len(first.token) == 40 and first.password
    write_server_info(tmp_path, first)
    again = server._credentials(tmp_path, 9090, tmp_path / "other")
    assert (again.token, again.password, again.url) == (first.token, first.password, "http://127.0.0.1:9090")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert server._credentials(fresh, 8080, tmp_path).token != first.token
    (fresh / "label_studio.sqlite3").write_bytes(b"")  # a database whose user's token we no longer know
    with pytest.raises(BuilderError, match="no mmretinal-server.json"):
        server._credentials(fresh, 8080, tmp_path)


def test_venv_is_made_from_the_lock_and_remade_when_it_changes(tmp_path, monkeypatch):
    calls: list[list[str]] = []

    def fake_run(cmd, **kw):
        calls.append([str(c) for c in cmd])
        exe = tmp_path / "venv" / "bin" / "label-studio"
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("")
        (tmp_path / "venv" / "pyvenv.cfg").write_text("")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(server.subprocess, "run", fake_run)
    lock = tmp_path / "lock.txt"
    lock.write_text("label-studio==1.0\n")
    said: list[str] = []
    server.ensure_label_studio(tmp_path / "venv", lock, progress=said.append)
    assert said and "first use" in said[0]
    install = calls[-1]
    assert install[-1] == "label-studio" and install[install.index("-c") + 1] == str(lock)
    assert install[install.index("--build-constraint") + 1] == str(lock)
    assert all(str(lock) in c for c in calls[1:]), "pip itself comes from the lock too"
    n = len(calls)
    server.ensure_label_studio(tmp_path / "venv", lock, progress=said.append)
    assert len(calls) == n, "a complete venv from the same lock is reused"
    lock.write_text("label-studio==1.1\n")
    server.ensure_label_studio(tmp_path / "venv", lock, progress=said.append)
    assert len(calls) == 2 * n, "a changed lock rebuilds the venv"
    assert "its lock changed" in said[-2]


def test_a_folder_that_is_not_a_venv_is_never_cleared(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    lock = tmp_path / "lock.txt"
    lock.write_text("x==1\n")
    with pytest.raises(BuilderError, match="not empty and not a virtualenv"):
        server.ensure_label_studio(tmp_path, lock, progress=lambda m: None)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_failed_install_is_a_clear_error_and_not_marked_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(server.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(
        cmd, 1, "", "ERROR: No matching distribution found for sentry-sdk==2.76.0"))
    lock = tmp_path / "lock.txt"
    lock.write_text("x==1\n")
    with pytest.raises(BuilderError, match="(?s)installing Label Studio.*No matching distribution"):
        server.ensure_label_studio(tmp_path / "venv", lock, progress=lambda m: None)
    assert not (tmp_path / "venv" / server.MARKER).exists()


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmretinal_builder.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO), **env})


def test_serve_refuses_a_busy_port_before_installing_anything(tmp_path):
    env = {"MMRETINAL_LS_VENV": str(tmp_path / "venv"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        res = cli(["review", "serve", "--port", str(s.getsockname()[1])], env, tmp_path)
    assert res.returncode == 2 and "is in use" in res.stderr, res.stderr
    assert not (tmp_path / "venv").exists()


def test_serve_needs_a_built_run_inside_the_document_root(tmp_path):
    env = {"MMRETINAL_LS_VENV": str(tmp_path / "venv"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    res = cli(["review", "serve", "--run", "nowhere"], env, tmp_path)
    assert res.returncode == 2 and "nowhere: no images/ folder" in res.stderr, res.stderr
    (tmp_path / "run" / "images").mkdir(parents=True)
    (tmp_path / "root").mkdir()
    res = cli(["review", "serve", "--run", "run", "--document-root", "root"], env, tmp_path)
    assert res.returncode == 2 and "not inside the document root" in res.stderr, res.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.parametrize("command", ["push", "pull"])
def test_push_and_pull_default_to_the_local_server(tmp_path, command):
    """No --url: the server file in the data dir is read; without one the error says how to start a server."""
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "LABEL_STUDIO_API_KEY": ""}
    res = cli(["review", command, str(tmp_path)], env, tmp_path)
    assert res.returncode == 2 and "mmretinal-server.json: not found" in res.stderr, res.stderr
    # a server file pointing at a closed port: the error names the URL from the file and hints at serve
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "figures.jsonl").write_text("")
    write_server_info(tmp_path / "xdg" / "mmretinal" / "label-studio",
                      ServerInfo(f"http://127.0.0.1:{port}", "k" * 40, "r@x", "pw", str(tmp_path)))
    res = cli(["review", command, str(tmp_path)], env, tmp_path)
    assert res.returncode == 2, res.stderr
    assert f"127.0.0.1:{port}" in res.stderr and "review serve" in res.stderr and "k" * 40 not in res.stderr
