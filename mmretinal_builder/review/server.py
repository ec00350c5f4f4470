"""A local, pinned Label Studio for reviewers: what ``mmretinal review serve`` runs.

Label Studio's own pins clash with ours, so it lives in its own virtualenv (``$MMRETINAL_LS_VENV``, default
``~/.cache/mmretinal/ls-venv``), created on first use from the committed lock ``constraints/label-studio.txt``:
every version, build backends included, comes from that file, so a new release on the registry cannot break a
fresh install (sentry-sdk 3 once made the unpinned server die at start). The venv records the lock's digest; a
changed lock rebuilds it.

The server binds to 127.0.0.1 only. Its data directory holds Label Studio's database and media, the server's
log, and ``mmretinal-server.json`` (mode 0600): the URL, the API token, the login and the document root, which
``review push`` / ``review pull`` read when no ``--url`` is given. The token and password are made once per data
directory and kept, because Label Studio applies them only when it creates the user.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import BuilderError
from ..io import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK = REPO_ROOT / "constraints" / "label-studio.txt"
SERVER_FILE = "mmretinal-server.json"
MARKER = ".mmretinal-lock"
DEFAULT_PORT = 8080
DEFAULT_PROJECT = "mmretinal review"
USERNAME = "reviewer@mmretinal.local"

Progress = Callable[[str], None]
#: the line ``review serve`` prints once the server and the project are ready (tests wait for it)
READY = "Label Studio is ready:"


def _say(msg: str) -> None:
    print(msg, flush=True)


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "mmretinal" / "ls-venv"
    return Path(os.environ.get("MMRETINAL_LS_VENV") or default)


def default_data_dir() -> Path:
    """Where a server keeps its data when ``--data-dir`` is not given (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mmretinal" / "label-studio"


def lock_digest(lock: Path) -> str:
    return hashlib.sha256(Path(lock).read_bytes()).hexdigest()


def ensure_label_studio(venv: Path | None = None, lock: Path = LOCK, progress: Progress = _say,
                        timeout_s: float = 1800.0) -> Path:
    """Return the label-studio executable, creating its venv from ``lock`` when missing or made from another
    lock. A marker written last tells a complete venv from one cut short."""
    venv = Path(venv or venv_dir())
    lock = Path(lock)
    if not lock.is_file():
        raise BuilderError(f"{lock}: Label Studio lock file not found (it ships with the repository)")
    exe, marker, digest = venv / "bin" / "label-studio", venv / MARKER, lock_digest(lock)
    if exe.exists() and marker.exists() and marker.read_text().strip() == digest:
        return exe
    if venv.is_dir() and any(venv.iterdir()) and not (venv / "pyvenv.cfg").is_file():
        raise BuilderError(f"{venv}: not empty and not a virtualenv; point MMRETINAL_LS_VENV to a new folder "
                           "(it would be cleared)")
    why = "its lock changed" if marker.exists() else "first use"
    progress(f"Creating Label Studio's virtualenv in {venv} from {lock.name} ({why}: a few minutes)...")
    t0 = time.monotonic()
    venv.parent.mkdir(parents=True, exist_ok=True)
    py = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        # the venv's bundled pip may predate --build-constraint: move it to the locked pip first
        [str(py), "-m", "pip", "install", "-q", "-c", str(lock), "--upgrade", "pip"],
        # --build-constraint pins the build backends of the few dependencies that ship only as sdists
        [str(py), "-m", "pip", "install", "-q", "-c", str(lock), "--build-constraint", str(lock), "label-studio"],
    ]
    for cmd in steps:
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise BuilderError(f"installing Label Studio into {venv}: '{' '.join(cmd[2:5])}' ran past "
                               f"{timeout_s:.0f} s") from None
        if res.returncode != 0:
            raise BuilderError(f"installing Label Studio into {venv} failed ({' '.join(cmd[2:5])}, exit "
                               f"{res.returncode}):\n{(res.stderr or res.stdout)[-2000:]}")
    atomic_write_text(marker, digest + "\n")
    progress(f"Label Studio installed in {time.monotonic() - t0:.0f} s.")
    return exe


@dataclass
class ServerInfo:
    """What a client needs to reach a server started by ``review serve`` (the data dir's ``SERVER_FILE``)."""

    url: str
    token: str
    username: str
    password: str
    document_root: str
    pid: int | None = None


def server_file(data_dir: Path) -> Path:
    return Path(data_dir) / SERVER_FILE


def read_server_info(data_dir: Path) -> ServerInfo:
    path = server_file(data_dir)
    if not path.is_file():
        raise BuilderError(f"{path}: not found; start a local server with `mmretinal review serve"
                           f"{'' if Path(data_dir) == default_data_dir() else f' --data-dir {data_dir}'}` "
                           "or pass --url")
    try:
        return ServerInfo(**json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError) as e:
        raise BuilderError(f"{path}: not a server file written by `mmretinal review serve` ({e})") from None


def write_server_info(data_dir: Path, info: ServerInfo) -> None:
    atomic_write_text(server_file(data_dir), json.dumps(asdict(info), indent=2) + "\n", mode=0o600)


def _credentials(data_dir: Path, port: int, document_root: Path) -> ServerInfo:
    """The data dir's login and token: kept from an earlier start, else new."""
    url = f"http://127.0.0.1:{port}"
    if server_file(data_dir).is_file():
        old = read_server_info(data_dir)
        if old.pid and _alive(old.pid) and _healthy(old.url):
            raise BuilderError(f"{data_dir}: its server is already running at {old.url} (pid {old.pid}); stop it "
                               "first (two servers must not share one database)")
        return ServerInfo(url, old.token, old.username, old.password, str(document_root))
    if (data_dir / "label_studio.sqlite3").exists():
        raise BuilderError(f"{data_dir}: holds a Label Studio database but no {SERVER_FILE}, so its user's token "
                           "is unknown; use a new --data-dir (or restore the file)")
    return ServerInfo(url, secrets.token_hex(20), USERNAME, secrets.token_urlsafe(12), str(document_root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_port(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise BuilderError(f"port {port} on 127.0.0.1 is in use ({e.strerror}); pass another --port") from None


def _die_with_parent() -> None:
    """In the child: get SIGTERM if ``review serve`` itself dies (even by SIGKILL), so no server is orphaned."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def server_env(info: ServerInfo, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LABEL_STUDIO_USERNAME": info.username,
        "LABEL_STUDIO_PASSWORD": info.password,
        "LABEL_STUDIO_USER_TOKEN": info.token,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        # the URL Label Studio writes into links; set, or a shell's $HOST would be taken for it
        "LABEL_STUDIO_HOST": info.url,
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": info.document_root,
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
    }


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _log_tail(log: Path, n: int = 1500) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""


def stop(proc: subprocess.Popen) -> None:
    """Stop the server's whole process group (it runs in its own session), by its PID."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@dataclass
class Running:
    info: ServerInfo
    proc: subprocess.Popen
    data_dir: Path
    log: Path


@contextlib.contextmanager
def running_server(data_dir: Path, port: int = DEFAULT_PORT, document_root: Path | None = None,
                   progress: Progress = _say, ready_timeout_s: float = 300.0) -> Iterator[Running]:
    """Start Label Studio on 127.0.0.1:``port`` with ``data_dir``; yield once it answers; stop it on exit."""
    data_dir = Path(data_dir).resolve()
    root = Path(document_root or Path.cwd()).resolve()
    if not root.is_dir():
        raise BuilderError(f"{root}: document root is not a directory")
    _check_port(port)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = _credentials(data_dir, port, root)
    exe = ensure_label_studio(progress=progress)
    log_path = data_dir / "server.log"
    progress(f"Starting Label Studio on {info.url} (data in {data_dir})...")
    t0 = time.monotonic()
    with open(log_path, "ab") as log:  # the child appends; we keep no handle
        proc = subprocess.Popen(
            [str(exe), "start", "--internal-host", "127.0.0.1", "--port", str(port), "--no-browser",
             "--enable-legacy-api-token", "--data-dir", str(data_dir)],
            env=server_env(info, data_dir), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    try:
        deadline = time.monotonic() + ready_timeout_s
        while not _healthy(info.url):
            if proc.poll() is not None:
                raise BuilderError(f"Label Studio exited with {proc.returncode} while starting; {log_path} ends "
                                   f"with:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                raise BuilderError(f"Label Studio not ready after {ready_timeout_s:.0f} s; see {log_path}")
            time.sleep(0.5)
        info.pid = proc.pid
        write_server_info(data_dir, info)
        progress(f"Label Studio answered after {time.monotonic() - t0:.0f} s.")
        yield Running(info, proc, data_dir, log_path)
    finally:
        stop(proc)


class _Stop(Exception):
    """Ctrl-C or SIGTERM while serving."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def _document_root(run_dir: Path | None, document_root: Path | None) -> Path:
    """The folder Label Studio may serve files from: given, else the current directory, else the run's parent."""
    if document_root is not None:
        return Path(document_root).resolve()
    cwd = Path.cwd().resolve()
    if run_dir is None or Path(run_dir).resolve().is_relative_to(cwd):
        return cwd
    return Path(run_dir).resolve().parent


def _setup_project(info: ServerInfo, run_dir: Path, title: str, progress: Progress) -> None:
    """The review project with annotations/label_config.xml and a local-files storage for the run's images."""
    from .labelstudio import LabelStudioProject

    project = LabelStudioProject(info.url, info.token, title)
    project.ensure_local_storage(Path(run_dir) / "images")
    progress(f"  project '{title}' (id {project.id}) serves images from {Path(run_dir).resolve() / 'images'}")


def serve(data_dir: Path, port: int = DEFAULT_PORT, run_dir: Path | None = None,
          document_root: Path | None = None, project: str = DEFAULT_PROJECT, progress: Progress = _say) -> None:
    """``mmretinal review serve``: run the server in the foreground until Ctrl-C (or SIGTERM)."""
    root = _document_root(run_dir, document_root)
    if run_dir is not None:
        run = Path(run_dir).resolve()
        if not (run / "images").is_dir():
            raise BuilderError(f"{run_dir}: no images/ folder (build the run first)")
        if not run.is_relative_to(root):
            raise BuilderError(f"{run_dir}: not inside the document root {root}, so Label Studio could not serve "
                               "its images; pass --document-root with a folder above it")
    # Installed explicitly (a process started in the background may inherit SIGINT as ignored) and before the
    # start, so a Ctrl-C during the install or the start also stops cleanly.
    old = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with running_server(data_dir, port, root, progress) as srv:
            if run_dir is not None:
                _setup_project(srv.info, run_dir, project, progress)
            info, file = srv.info, server_file(srv.data_dir)
            progress(f"{READY} {info.url}\n"
                     f"  log in as {info.username}, password {info.password}\n"
                     f"  API token {info.token}\n"
                     f"  both kept in {file} (mode 0600); `mmretinal review push/pull` read it\n"
                     f"  document root {info.document_root}\n"
                     f"Ctrl-C stops the server; its data stays in {srv.data_dir}.")
            code = srv.proc.wait()
            raise BuilderError(f"Label Studio stopped by itself (exit {code}); {srv.log} ends with:\n"
                               f"{_log_tail(srv.log)}")
    except _Stop:
        progress("Label Studio stopped.")
    finally:
        for s, h in old.items():
            signal.signal(s, h)
