"""Publish an exported dataset folder to the Hugging Face Hub (a thin layer over ``huggingface_hub``).

The token comes from ``HF_TOKEN`` or the usual login file (:func:`huggingface_hub.get_token`) and is
never printed or logged: errors from the client are re-raised with the token scrubbed. The only
network call lives in :func:`upload` (``create_repo`` + ``upload_folder`` with ``repo_type="dataset"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuilderError


@dataclass
class UploadPlan:
    """What a publish would send: the repo, the revision and every file with its size."""

    dataset_dir: Path
    repo_id: str
    revision: str | None
    private: bool
    files: list[tuple[str, int]] = field(default_factory=list)  # (path in repo, bytes)

    @property
    def total_bytes(self) -> int:
        return sum(n for _, n in self.files)


def check_repo_id(repo_id: str) -> None:
    """``ORG/NAME`` with the Hub's rules (letters, digits, '-', '_', '.'; no '--' or '..'; <= 96 chars)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise BuilderError(f"--repo-id {repo_id!r}: expected ORG/NAME, e.g. my-lab/mm-retinal-atlas")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise BuilderError(f"--repo-id {repo_id!r}: {e}") from None


def find_token() -> str | None:
    """The Hub token from ``HF_TOKEN`` or the login file; ``None`` when there is none."""
    from huggingface_hub import get_token

    return os.environ.get("HF_TOKEN") or get_token()


def plan_upload(dataset_dir: Path, repo_id: str, revision: str | None = None, private: bool = False) -> UploadPlan:
    """Validate the folder and repo id and list the files to upload (hidden files and temp folders left out)."""
    check_repo_id(repo_id)
    d = Path(dataset_dir)
    if not d.is_dir():
        raise BuilderError(f"{dataset_dir}: dataset folder not found")
    if not (d / "README.md").is_file():
        raise BuilderError(f"{dataset_dir}: no README.md (dataset card); export the run first: "
                           "mmretinal export RUN_DIR --out DATASET_DIR")
    if not any((d / "data").glob("*.parquet")):
        raise BuilderError(f"{dataset_dir}: no parquet files under data/; export with --format hf first")
    if revision is not None and not revision.strip():
        raise BuilderError("--revision must not be empty")
    files = []
    for p in sorted(d.rglob("*")):
        rel = p.relative_to(d)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            files.append((rel.as_posix(), p.stat().st_size))
    return UploadPlan(d, repo_id, revision, private, files)


def upload(plan: UploadPlan, token: str, endpoint: str | None = None) -> str:
    """The network call: create the dataset repo (if needed), the branch (if any) and upload the files.

    Returns the commit URL. ``endpoint`` defaults to ``HF_ENDPOINT`` read at call time (tests point it
    at a loopback server).
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token)
    api.create_repo(plan.repo_id, repo_type="dataset", private=plan.private, exist_ok=True)
    if plan.revision and plan.revision != "main":
        api.create_branch(plan.repo_id, branch=plan.revision, repo_type="dataset", exist_ok=True)
    info = api.upload_folder(
        repo_id=plan.repo_id,
        repo_type="dataset",
        folder_path=plan.dataset_dir,
        revision=plan.revision,
        allow_patterns=[name for name, _ in plan.files],
        commit_message="Upload dataset exported by mmretinal_builder",
    )
    return str(info.commit_url if hasattr(info, "commit_url") else info)


def publish(plan: UploadPlan, endpoint: str | None = None) -> str:
    """Upload ``plan`` with the user's token; clear errors when offline or not logged in."""
    from huggingface_hub import constants

    if constants.is_offline_mode():
        raise BuilderError("cannot publish: offline mode is enabled (HF_HUB_OFFLINE); unset it to upload")
    token = find_token()
    if not token:
        raise BuilderError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")
    try:
        return upload(plan, token, endpoint)
    except Exception as e:  # HTTP, transport and validation errors alike: report them, token scrubbed
        # the client's messages may quote request details; make sure the token never reaches the user
        message = str(e).replace(token, "***")
        raise BuilderError(f"publishing to {plan.repo_id} failed: {type(e).__name__}: {message}") from None
