"""Push a run's figures to Label Studio and pull reviewers' decisions back.

The SDK is touched only in :class:`LabelStudioProject`; everything else works on plain task dicts, so a Label
Studio JSON export file can be pulled through the same validation as a live server.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BuilderError
from ..io import read_records
from ..schema import Figure, Pair
from .decisions import Decision, DecisionStore, decision_from_annotation
from .tasks import MODEL_VERSION, image_url, prediction, task_data

API_KEY_ENV = ("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_USER_TOKEN")


def api_key_from_env(explicit: str | None) -> str:
    """The API key: the option, else the environment. Never printed or written anywhere."""
    if explicit:
        return explicit
    for name in API_KEY_ENV:
        if os.environ.get(name):
            return os.environ[name]
    raise BuilderError(f"no Label Studio API key: pass --api-key or set {API_KEY_ENV[0]}")


def default_label_config() -> Path:
    return Path(__file__).resolve().parents[2] / "annotations" / "label_config.xml"


class LabelStudioProject:
    """The few Label Studio operations the round trip needs, on one project."""

    def __init__(self, url: str, api_key: str, title: str, label_config: Path | None = None) -> None:
        from label_studio_sdk.client import LabelStudio

        self.client = LabelStudio(base_url=url.rstrip("/"), api_key=api_key)
        self.title = title
        existing = [p for p in self.client.projects.list() if p.title == title]
        if existing:
            self.id = existing[0].id
        else:
            cfg = Path(label_config or default_label_config())
            if not cfg.is_file():
                raise BuilderError(f"{cfg}: label config not found (pass --label-config)")
            project = self.client.projects.create(title=title, label_config=cfg.read_text(encoding="utf-8"),
                                                  show_collab_predictions=True, model_version=MODEL_VERSION)
            self.id = project.id

    def ensure_local_storage(self, folder: Path) -> None:
        """Label Studio serves local files only below a storage registered for the project."""
        folder = folder.resolve()
        for s in self.client.import_storage.local.list(project=self.id):
            if Path(s.path).resolve() == folder:
                return
        self.client.import_storage.local.create(project=self.id, path=str(folder), title="mmretinal images",
                                                use_blob_urls=True)

    def tasks(self) -> list[dict[str, Any]]:
        """All tasks with their annotations, as plain dicts."""
        out = []
        for t in self.client.tasks.list(project=self.id, fields="all"):
            d = t.model_dump(mode="json") if hasattr(t, "model_dump") else dict(t)
            out.append(d)
        return out

    def annotations(self, task_id: int) -> list[dict[str, Any]]:
        return [a.model_dump(mode="json") for a in self.client.annotations.list(id=task_id)]

    def import_tasks(self, tasks: list[dict[str, Any]]) -> None:
        if tasks:
            self.client.projects.import_tasks(id=self.id, request=tasks)

    def replace_task(self, task_id: int, data: dict[str, Any], pred: dict[str, Any]) -> None:
        self.client.tasks.update(id=task_id, data=data)
        for p in self.client.predictions.list(task=task_id):
            self.client.predictions.delete(id=p.id)
        self.client.predictions.create(task=task_id, result=pred["result"], score=pred["score"],
                                       model_version=MODEL_VERSION)

    def users(self) -> dict[int, str]:
        return {u.id: u.email for u in self.client.users.list()}


@dataclass
class PushReport:
    created: int
    updated: int
    unchanged: int
    project_id: int


def load_figures(run_dir: Path) -> list[Figure]:
    path = Path(run_dir) / "figures.jsonl"
    if not path.exists():
        raise BuilderError(f"{run_dir}: no figures.jsonl (build the run first)")
    return read_records(path, Figure)


def figure_modalities(run_dir: Path) -> dict[str, tuple[str | None, float | None]]:
    """Figure id -> (modality, confidence) classify gave the whole figure (its figure-level pair)."""
    path = Path(run_dir) / "pairs.jsonl"
    out: dict[str, tuple[str | None, float | None]] = {}
    for p in read_records(path, Pair) if path.exists() else []:
        if p.panel is None or p.figure.id not in out:
            out[p.figure.id] = (p.modality, p.modality_confidence)
    return out


def push(run_dir: Path, project: LabelStudioProject, document_root: Path | None) -> PushReport:
    """Create tasks for new pairs, update changed ones, leave the rest: pushing twice creates no duplicates."""
    run_dir = Path(run_dir).resolve()
    figures = [f for f in load_figures(run_dir) if f.image]
    modalities = figure_modalities(run_dir)
    if document_root is not None:
        project.ensure_local_storage(run_dir / "images")
    existing = {}
    for t in project.tasks():
        pid = (t.get("data") or {}).get("pair_id")
        if pid:
            existing[pid] = t
    new, updated, unchanged = [], 0, 0
    for fig in figures:
        modality, confidence = modalities.get(fig.id, (None, None))
        data = task_data(fig, image_url(run_dir, fig.image or "", document_root), modality)
        old = existing.get(fig.id)
        if old is None:
            new.append({"data": data, "predictions": [prediction(fig, modality, confidence)]})
        elif (old.get("data") or {}).get("content_hash") != data["content_hash"]:
            project.replace_task(old["id"], data, prediction(fig, modality, confidence))
            updated += 1
        else:
            unchanged += 1
    project.import_tasks(new)
    return PushReport(len(new), updated, unchanged, project.id)


def decisions_from_tasks(tasks: list[dict[str, Any]], run_dir: Path, project: str,
                         reviewers: dict[int, str] | None = None) -> list[Decision]:
    """Validate a whole batch of tasks with annotations; any problem is an error naming the tasks, and no
    decision of the batch is returned (so nothing half-valid gets stored)."""
    run_dir = Path(run_dir).resolve()
    known = {f.id for f in load_figures(run_dir)}
    problems: list[str] = []
    out: list[Decision] = []
    for i, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            problems.append(f"task #{i}: not a task object with 'data'")
            continue
        data = task["data"]
        tid = task.get("id", f"#{i}")
        if data.get("pair_id") not in known:
            problems.append(f"task {tid}: unknown pair id {data.get('pair_id')!r} (not in this run)")
            continue
        rel = data.get("image_rel")
        if not isinstance(rel, str) or not (run_dir / rel).resolve().is_relative_to(run_dir):
            problems.append(f"task {tid}: image path {rel!r} escapes the run directory")
            continue
        for ann in task.get("annotations") or []:
            try:
                d = decision_from_annotation(task, ann, project, reviewers)
            except (ValueError, KeyError, TypeError) as e:
                problems.append(f"task {tid}: malformed annotation ({e})")
                continue
            if d is not None:
                out.append(d)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise BuilderError(f"{len(problems)} problem(s), nothing stored: {shown}")
    return out


def read_export_file(path: Path) -> list[dict[str, Any]]:
    """A Label Studio JSON export (a list of tasks with annotations)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuilderError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise BuilderError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(data, list):
        raise BuilderError(f"{path}: expected a list of tasks (Label Studio JSON export)")
    return data


def pull_tasks(tasks: list[dict[str, Any]], run_dir: Path, store: DecisionStore, project: str,
               reviewers: dict[int, str] | None = None) -> tuple[int, int]:
    """Validate, then append new decisions; returns (decisions seen, decisions newly stored)."""
    decisions = decisions_from_tasks(tasks, run_dir, project, reviewers)
    return len(decisions), store.append(project, decisions)


def pull_from_server(run_dir: Path, project: LabelStudioProject, store: DecisionStore) -> tuple[int, int]:
    tasks = project.tasks()
    for t in tasks:
        if t.get("annotations") is None or (t.get("total_annotations") and not t.get("annotations")):
            t["annotations"] = project.annotations(t["id"])
    return pull_tasks(tasks, run_dir, store, project.title, project.users())
