"""File helpers: every output is written atomically (temp file + rename), so a killed run never leaves a
half-written file that a later run would take for finished work."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import BuilderError

M = TypeVar("M", bound=BaseModel)


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (mkstemp's 0600 would hide outputs from others)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    A failed write (disk full, kill) removes the temp file and leaves ``path`` untouched. ``mode`` (e.g. 0o600
    for a secret) is set on the temp file before the rename, so the final path never has a wider one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


#: Names of the temp files :func:`atomic_write_bytes` creates (``.<name>.<random>.tmp``).
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def remove_temp_files(root: Path, skip: tuple[str, ...] = ("logs",)) -> int:
    """Delete temp files a killed writer left under ``root`` (never a finished file); returns how many."""
    removed = 0
    root = Path(root)
    if not root.is_dir():
        return 0
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            if _TEMP_NAME.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def dumps(obj: Any) -> str:
    """Canonical JSON (sorted keys, UTF-8, no NaN): identical inputs give identical bytes.

    A record with a ``to_jsonable()`` method gives its JSON form itself (a page record holds plain JSON already:
    walking it again through pydantic cost more than writing it)."""
    if isinstance(obj, BaseModel):
        to_jsonable = getattr(obj, "to_jsonable", None)
        obj = to_jsonable() if to_jsonable is not None else obj.model_dump(mode="json")
    # check_circular=False: records are trees built here (no cycles); the encoder's id() bookkeeping of every
    # list and dict was a tenth of writing a long book's pages shard. The bytes are the same.
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False, check_circular=False)


def write_json(path: Path, obj: Any) -> None:
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    atomic_write_text(path, json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1, allow_nan=False) + "\n")


def write_jsonl(path: Path, rows: Iterable[Any]) -> int:
    """Write one canonical JSON line per row, atomically; returns the row count."""
    lines = [dumps(r) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuilderError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise BuilderError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a JSONL file; a bad line is an error naming file and line."""
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise BuilderError(f"{path}: file not found") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise BuilderError(f"{path}:{n}: invalid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise BuilderError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
            yield obj


def iter_records(path: Path, model: type[M]) -> Iterator[M]:
    """The records of a JSONL file one by one, each validated against ``model``."""
    for n, obj in enumerate(iter_jsonl(path), 1):
        try:
            yield model.model_validate(obj)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BuilderError(f"{path}: record {n}: {where}: {first['msg']}") from None


def read_records(path: Path, model: type[M]) -> list[M]:
    """Read a JSONL file of records, validating each against ``model``."""
    return list(iter_records(path, model))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class ImageStore:
    """Content-addressed image files under ``RUN_DIR/images/ab/<sha256>.<ext>``: each image stored once."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def put(self, data: bytes, ext: str) -> str:
        """Store ``data``; return its path relative to the run directory."""
        ext = ext.lower().lstrip(".")
        ext = "jpg" if ext == "jpeg" else ext
        digest = hashlib.sha256(data).hexdigest()
        rel = f"images/{digest[:2]}/{digest}.{ext}"
        path = self.run_dir / rel
        if not path.exists():
            atomic_write_bytes(path, data)
        return rel

    def path(self, rel: str) -> Path:
        return self.run_dir / rel
