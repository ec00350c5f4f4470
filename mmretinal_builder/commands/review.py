"""``mmretinal review push`` / ``mmretinal review pull``: the Label Studio round trip."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import typer


@contextlib.contextmanager
def server_errors(url: str, api_key: str | None) -> Iterator[None]:
    """A server that cannot be reached or refuses the key is a clear error, not a traceback; the key is
    scrubbed from whatever the client says."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    from ..errors import BuilderError

    try:
        yield
    except (httpx.HTTPError, ApiError) as e:
        detail = f"HTTP {e.status_code}: {e.body}" if isinstance(e, ApiError) else f"{type(e).__name__}: {e}"
        if api_key:
            detail = detail.replace(api_key, "***")
        raise BuilderError(f"Label Studio at {url}: {detail}") from None


def register(app: typer.Typer) -> None:
    from ..cli import friendly_errors

    review = typer.Typer(help="Human review in Label Studio: push pairs, pull decisions.", no_args_is_help=True)
    app.add_typer(review, name="review")

    def _root(document_root: Path | None) -> Path | None:
        if document_root is not None:
            return document_root
        env = os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")
        return Path(env) if env else None

    @review.command("push")
    @friendly_errors
    def push_cmd(
        run_dir: Path = typer.Argument(..., help="a built run directory"),
        url: str = typer.Option(..., "--url", help="Label Studio URL, e.g. http://127.0.0.1:8080"),
        api_key: str = typer.Option(None, "--api-key", help="API token (default: $LABEL_STUDIO_API_KEY)",
                                    show_default=False),
        project: str = typer.Option("mmretinal review", "--project", help="project title (found or created)"),
        document_root: Path = typer.Option(None, "--document-root",
                                           help="the server's local-files document root "
                                                "(default: $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT)"),
        label_config: Path = typer.Option(None, "--label-config", help="default: annotations/label_config.xml"),
    ) -> None:
        """Create or update one task per figure (idempotent: unchanged pairs are left alone)."""
        from ..review.labelstudio import LabelStudioProject, api_key_from_env, push

        key = api_key_from_env(api_key)
        with server_errors(url, key):
            proj = LabelStudioProject(url, key, project, label_config)
            rep = push(run_dir, proj, _root(document_root))
        typer.echo(f"project {proj.id} '{project}': {rep.created} created, {rep.updated} updated, "
                   f"{rep.unchanged} unchanged")

    @review.command("pull")
    @friendly_errors
    def pull_cmd(
        run_dir: Path = typer.Argument(..., help="the run directory the tasks were pushed from"),
        url: str = typer.Option(None, "--url", help="Label Studio URL"),
        api_key: str = typer.Option(None, "--api-key", help="API token (default: $LABEL_STUDIO_API_KEY)",
                                    show_default=False),
        project: str = typer.Option("mmretinal review", "--project", help="project title"),
        from_export: Path = typer.Option(None, "--from-export", help="a Label Studio JSON export file instead"),
        decisions: Path = typer.Option(Path("annotations/decisions"), "--decisions",
                                       help="decision store (append-only JSONL files)"),
    ) -> None:
        """Store reviewers' decisions under annotations/decisions/ (append-only; the next build applies them)."""
        from ..errors import BuilderError
        from ..review.decisions import DecisionStore
        from ..review.labelstudio import (
            LabelStudioProject,
            api_key_from_env,
            pull_from_server,
            pull_tasks,
            read_export_file,
        )

        store = DecisionStore(decisions)
        if from_export is not None:
            try:
                seen, new = pull_tasks(read_export_file(from_export), run_dir, store, project)
            except BuilderError as e:
                raise BuilderError(f"{from_export}: {e}") from None
        elif url:
            key = api_key_from_env(api_key)
            with server_errors(url, key):
                proj = LabelStudioProject(url, key, project)
                seen, new = pull_from_server(run_dir, proj, store)
        else:
            raise BuilderError("pull needs --url (a server) or --from-export (an export file)")
        typer.echo(f"{seen} decisions read, {new} new stored in {decisions}")
