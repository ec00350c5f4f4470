"""``mmretinal review serve`` / ``push`` / ``pull``: the Label Studio round trip."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import typer


@contextlib.contextmanager
def server_errors(url: str, api_key: str | None, hint: str = "") -> Iterator[None]:
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
        raise BuilderError(f"Label Studio at {url}: {detail}{hint}") from None


def resolve_server(url: str | None, api_key: str | None, data_dir: Path | None) -> tuple[str, str, str, Path | None]:
    """(url, key, hint for errors, the local server's document root): ``--url`` with ``--api-key`` or the
    environment's key, else the server ``review serve`` started from ``data_dir``."""
    from ..review.labelstudio import api_key_from_env
    from ..review.server import default_data_dir, read_server_info

    if url:
        return url, api_key_from_env(api_key), "", None
    data_dir = data_dir or default_data_dir()
    info = read_server_info(data_dir)
    hint = f" (is `mmretinal review serve --data-dir {data_dir}` still running?)"
    return info.url, api_key or info.token, hint, Path(info.document_root)


def register(app: typer.Typer) -> None:
    from ..cli import friendly_errors

    review = typer.Typer(help="Human review in Label Studio: serve it locally, push pairs, pull decisions.",
                         no_args_is_help=True)
    app.add_typer(review, name="review")

    def _root(document_root: Path | None, local_root: Path | None) -> Path | None:
        if document_root is not None:
            return document_root
        env = os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")
        return Path(env) if env else local_root

    data_dir_help = "the local server's data dir, read when --url is not given (default: as `review serve`)"

    @review.command("serve")
    @friendly_errors
    def serve_cmd(
        port: int = typer.Option(8080, "--port", help="port on 127.0.0.1"),
        data_dir: Path = typer.Option(None, "--data-dir", show_default=False,
                                      help="Label Studio's database, media, log and the server file with URL and "
                                           "token (default: ~/.local/share/mmretinal/label-studio)"),
        run_dir: Path = typer.Option(None, "--run", help="a built run: create the review project with "
                                                         "annotations/label_config.xml and storage for its images"),
        document_root: Path = typer.Option(None, "--document-root", show_default=False,
                                           help="the folder Label Studio may serve images from (default: the "
                                                "current directory, or the run's parent when the run is outside it)"),
        project: str = typer.Option("mmretinal review", "--project", help="project title (with --run)"),
    ) -> None:
        """Run a local, pinned Label Studio on 127.0.0.1 until Ctrl-C (its own venv, made on first use)."""
        from ..review.server import default_data_dir, serve

        serve(data_dir or default_data_dir(), port, run_dir, document_root, project, progress=typer.echo)

    @review.command("push")
    @friendly_errors
    def push_cmd(
        run_dir: Path = typer.Argument(..., help="a built run directory"),
        url: str = typer.Option(None, "--url", help="Label Studio URL (default: the server `review serve` runs)"),
        api_key: str = typer.Option(None, "--api-key", help="API token (default: $LABEL_STUDIO_API_KEY, or the "
                                                            "local server's)", show_default=False),
        data_dir: Path = typer.Option(None, "--data-dir", help=data_dir_help, show_default=False),
        project: str = typer.Option("mmretinal review", "--project", help="project title (found or created)"),
        document_root: Path = typer.Option(None, "--document-root",
                                           help="the server's local-files document root "
                                                "(default: $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, or the local server's)"),
        label_config: Path = typer.Option(None, "--label-config", help="default: annotations/label_config.xml"),
    ) -> None:
        """Create or update one task per figure (idempotent: unchanged pairs are left alone)."""
        from ..review.labelstudio import LabelStudioProject, push

        url, key, hint, local_root = resolve_server(url, api_key, data_dir)
        with server_errors(url, key, hint):
            proj = LabelStudioProject(url, key, project, label_config)
            rep = push(run_dir, proj, _root(document_root, local_root))
        typer.echo(f"project {proj.id} '{project}': {rep.created} created, {rep.updated} updated, "
                   f"{rep.unchanged} unchanged")

    @review.command("pull")
    @friendly_errors
    def pull_cmd(
        run_dir: Path = typer.Argument(..., help="the run directory the tasks were pushed from"),
        url: str = typer.Option(None, "--url", help="Label Studio URL (default: the server `review serve` runs)"),
        api_key: str = typer.Option(None, "--api-key", help="API token (default: $LABEL_STUDIO_API_KEY, or the "
                                                            "local server's)", show_default=False),
        data_dir: Path = typer.Option(None, "--data-dir", help=data_dir_help, show_default=False),
        project: str = typer.Option("mmretinal review", "--project", help="project title"),
        from_export: Path = typer.Option(None, "--from-export", help="a Label Studio JSON export file instead"),
        decisions: Path = typer.Option(Path("annotations/decisions"), "--decisions",
                                       help="decision store (append-only JSONL files)"),
    ) -> None:
        """Store reviewers' decisions under annotations/decisions/ (append-only; the next build applies them)."""
        from ..errors import BuilderError
        from ..review.decisions import DecisionStore
        from ..review.labelstudio import LabelStudioProject, pull_from_server, pull_tasks, read_export_file

        store = DecisionStore(decisions)
        if from_export is not None:
            try:
                seen, new = pull_tasks(read_export_file(from_export), run_dir, store, project)
            except BuilderError as e:
                raise BuilderError(f"{from_export}: {e}") from None
        else:
            url, key, hint, _ = resolve_server(url, api_key, data_dir)
            with server_errors(url, key, hint):
                proj = LabelStudioProject(url, key, project)
                seen, new = pull_from_server(run_dir, proj, store)
        typer.echo(f"{seen} decisions read, {new} new stored in {decisions}")
