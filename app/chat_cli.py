"""`assay chat`: the click command that opens the web UI. Importing this does not import gradio."""

from __future__ import annotations

from pathlib import Path

import click

from .limits import is_loopback

EXAMPLES_CHAT = """
\b
Examples:
  assay chat                               http://127.0.0.1:7860, the existing index
  assay chat --corpus corpus/              index corpus/ first (incremental)
  assay chat --share                       also open a temporary public gradio.live link
  ASSAY_AUTH=me:secret assay chat --host 0.0.0.0   on the network, behind a login
"""


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """ASSAY_AUTH=user:pass -> ("user", "pass"); None when unset."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise click.BadParameter("ASSAY_AUTH must look like user:password", param_hint="ASSAY_AUTH")
    return user, password


def exposure_warning(host: str, share: bool, auth: tuple[str, str] | None) -> str | None:
    """The warning to print when the chat would be reachable by others without a login; None when it is not."""
    if auth or not (share or not is_loopback(host)):
        return None
    where = "publicly (a gradio.live link)" if share else f"from other machines on {host}"
    return f"warning: the chat will be reachable {where} without a login; set ASSAY_AUTH=user:password to require one"


@click.command("chat", epilog=EXAMPLES_CHAT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0 = every interface).")
@click.option("--port", default=7860, show_default=True, type=int, help="Port to listen on.")
@click.option("--share", is_flag=True, help="Also open a temporary public gradio.live link (needs internet).")
@click.option("--corpus", "corpus", type=click.Path(file_okay=False, path_type=Path), help="Ingest this folder first (incremental); the 'Ingest bundled corpus' button uses it too (default corpus/, or $ASSAY_CORPUS). Uploads go to $ASSAY_UPLOADS (default .assay/uploads).")
@click.pass_context
def chat_command(ctx, host, port, share, corpus):
    """Open the chat in the browser: cited answers, sources panel, uploads, library.

    Login: set ASSAY_AUTH=user:password. The JSON API is at /ask (see `assay.app.chat.layout`).
    """
    settings = ctx.find_object(dict)["settings"]
    auth = parse_auth(settings.auth)
    warning = exposure_warning(host, share, auth)
    if warning:
        click.secho(warning, fg="yellow", err=True)
    corpus_dir = corpus or settings.corpus_dir
    if corpus is not None:
        if not corpus.is_dir():
            raise click.BadParameter(f"{corpus} is not a folder", param_hint="--corpus")
        from ..ingest.pipeline import Ingestor
        from ..ingest.index import Index

        click.echo(f"indexing {corpus} …", err=True)
        summary = Ingestor(settings, index=Index(settings)).run([corpus], progress=True)
        for line in summary.lines():
            click.echo(line, err=True)

    from .chat import launch  # gradio is imported only here

    click.echo(f"starting the chat on http://{host}:{port}/ …", err=True)
    launch(settings, host=host, port=port, share=share, auth=auth, corpus_dir=corpus_dir)
