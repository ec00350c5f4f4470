"""Run ``mmretinal review serve`` as a subprocess, exactly as a user does, for the integration test.

Nothing here starts Label Studio itself: the product code (``mmretinal_builder/review/server.py``) creates the
server's venv from ``constraints/label-studio.txt`` and starts it. The caller passes a fresh, empty venv dir
(``MMRETINAL_LS_VENV``), so every run proves that a brand-new install from the lock starts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mmretinal_builder.review.server import READY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Serve:
    proc: subprocess.Popen
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout_s: float = 60.0) -> int:
        """Ctrl-C, as a user stops it; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout_s)


@contextmanager
def review_serve(args: list[str], cwd: Path, env: dict[str, str], timeout_s: float = 1200.0) -> Iterator[Serve]:
    """Start ``mmretinal review serve --port P ARGS`` in ``cwd``; yield once it prints the ready line.

    The timeout covers a fresh venv (about 1-3 minutes from the registries) plus the first start (migrations).
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmretinal_builder.cli", "review", "serve", "--port", str(port), *args],
        cwd=cwd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    serve = Serve(proc, port)

    def read() -> None:
        for line in proc.stdout:
            serve.lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not any(line.startswith(READY) for line in serve.lines):
            if proc.poll() is not None:
                reader.join(5)
                raise RuntimeError(f"review serve exited with {proc.returncode}:\n{serve.output[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"review serve not ready after {timeout_s:.0f} s:\n{serve.output[-4000:]}")
            time.sleep(0.5)
        yield serve
    finally:
        try:
            serve.stop()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the server dies with it (parent-death signal)
            proc.wait(timeout=30)
        reader.join(10)
