"""Tokens and passwords from the environment never reach a log, a run directory, a dataset card or the
terminal: build, export, publish (dry run and a refused upload) and review push/pull with recognisable fake
secrets, then every file written and everything printed is searched for them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mmretinal_builder.samples import hostile

from .helpers import write_recipe

SECRETS = {
    "HF_TOKEN": "hf_FAKEsecretTOKEN0123456789abcdefXYZ",
    "LABEL_STUDIO_API_KEY": "lsk_FAKEsecretKEY9876543210zyxwvuQ",
    "MMRETINAL_PDF_PASSWORD": "pw-FAKEsecretPASSWORD-31415",
}


class EchoAuthHandler(BaseHTTPRequestHandler):
    """A server that refuses every request and, carelessly, quotes the credentials it was sent."""

    seen: list[str] = []

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization", "")
        EchoAuthHandler.seen.append(auth)
        body = json.dumps({"error": f"invalid credentials: {auth}", "detail": f"Invalid token {auth}"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _refuse

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoAuthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmretinal_builder.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_secrets_never_written_or_printed(small_books, tmp_path, echo_server):
    books = tmp_path / "books"
    books.mkdir()
    first = sorted(small_books.glob("*.pdf"))[0]
    shutil.copy(first, books / first.name)
    (books / "locked.pdf").write_bytes(hostile.encrypted(0, SECRETS["MMRETINAL_PDF_PASSWORD"]))
    work = tmp_path / "work"
    work.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, **SECRETS, "HOME": str(home), "HF_HOME": str(home / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_ENDPOINT": echo_server, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    recipe = write_recipe(work / "recipe.yaml")
    run = work / "run"
    results = {
        "build": cli(["build", str(books), "--out", str(run), "--recipe", str(recipe), "--no-progress"], env, work),
        "export": cli(["export", str(run), "--out", str(work / "exported"), "--format", "hf", "--format",
                       "flair-csv"], env, work),
        "publish --dry-run": cli(["publish", str(run / "dataset"), "--repo-id", "org/atlas", "--dry-run"], env, work),
        "publish": cli(["publish", str(run / "dataset"), "--repo-id", "org/atlas"], env, work),
        "review push": cli(["review", "push", str(run), "--url", echo_server], env, work),
        "review pull": cli(["review", "pull", str(run), "--url", echo_server, "--decisions",
                            str(work / "decisions")], env, work),
    }
    build = results["build"]
    assert build.returncode == 0, build.stderr[-3000:]
    assert (run / "dataset" / "README.md").is_file() and (work / "exported" / "README.md").is_file()
    errors = [json.loads(line) for line in (run / "errors.jsonl").read_text().splitlines()]
    assert not [e for e in errors if e["book"] == "locked.pdf" and e["level"] == "error"], \
        "the password from MMRETINAL_PDF_PASSWORD opens the encrypted book"
    assert results["publish --dry-run"].returncode == 0 and "token: found (not shown)" in \
        results["publish --dry-run"].stdout
    for name in ("publish", "review push", "review pull"):
        res = results[name]
        assert res.returncode == 2, f"{name}: {res.stdout[-2000:]} {res.stderr[-2000:]}"
        assert "Traceback" not in res.stderr and res.stderr.startswith("error:"), res.stderr[-2000:]
    # the fake servers did receive the credentials (so the refusal really quoted them back) ...
    assert any(SECRETS["HF_TOKEN"] in a for a in EchoAuthHandler.seen)
    assert any(SECRETS["LABEL_STUDIO_API_KEY"] in a for a in EchoAuthHandler.seen)
    # ... and not one secret is in anything printed or written
    for secret in SECRETS.values():
        for name, res in results.items():
            assert secret not in res.stdout and secret not in res.stderr, f"{name} printed a secret"
        for root in (work, home):
            for p in root.rglob("*"):
                if p.is_file():
                    assert secret.encode() not in p.read_bytes(), f"{p} holds a secret"
