"""Start and stop a real Label Studio server for integration tests.

Label Studio's pins clash with ours, so it lives in its own virtualenv, cached outside the checkout
(``$MMRETINAL_LS_VENV``, default ``~/.cache/mmretinal/ls-venv``) and created on first use.
The server binds to 127.0.0.1 only, with a fresh data directory, and is stopped by its PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LS_SPEC = os.environ.get("MMRETINAL_LS_SPEC", "label-studio")


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "mmretinal" / "ls-venv"
    return Path(os.environ.get("MMRETINAL_LS_VENV", default))


def ensure_label_studio() -> Path:
    """Return the label-studio executable, installing it into its own venv when missing.

    A marker written after a successful install tells a complete venv from one cut short.
    """
    venv = venv_dir()
    exe, marker = venv / "bin" / "label-studio", venv / ".mmretinal-complete"
    if exe.exists() and marker.exists():
        return exe
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", LS_SPEC], check=True, timeout=1800)
    marker.write_text(LS_SPEC + "\n")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    document_root: Path
    pid: int


@contextmanager
def label_studio(data_dir: Path, document_root: Path, timeout_s: float = 240.0) -> Iterator[Server]:
    exe = ensure_label_studio()
    port = free_port()
    token = "mmretinal-test-token-0123456789"
    env = {
        **os.environ,
        "LABEL_STUDIO_USERNAME": "reviewer@example.com",
        "LABEL_STUDIO_PASSWORD": "review-password-1",
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "start", "--internal-host", "127.0.0.1", "--port", str(port), "--no-browser",
         "--enable-legacy-api-token", "--data-dir", str(data_dir)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Label Studio exited with {proc.returncode}; see {data_dir / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Label Studio not ready after {timeout_s:.0f} s; see {data_dir / 'server.log'}")
            time.sleep(1.0)
        yield Server(url, token, document_root, proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's whole process group, by its PID
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
