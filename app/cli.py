"""`assay`: ingest articles, ask questions, open the chat — the composition root of the CLI.

Commands from other parts of Assay (`eval`, `bench`) register themselves through the
`assay.commands` entry point group (see pyproject.toml), so `assay.app` never imports
`assay.eval`; they are loaded only when asked for (or listed in --help).

Only `main()` turns errors into exit codes; everything below raises with messages that say
what to do next.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

_STARTED = time.perf_counter()  # as early as this package loads: what a user waits for counts

import click

from ..ingest.config import Settings, quiet_env

PLUGIN_GROUP = "assay.commands"


class AssayGroup(click.Group):
    """The root group: built-in commands, plus plugin commands loaded on first need.

    A plugin is an entry point in PLUGIN_GROUP whose object is `register(cli)`.
    """

    _plugins_loaded = False

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
            ep.load()(self)

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None:
            self._load_plugins()
            cmd = super().get_command(ctx, cmd_name)
        return cmd

    def list_commands(self, ctx):
        self._load_plugins()
        return super().list_commands(ctx)

EXAMPLES_INGEST = """
\b
Examples:
  assay ingest corpus/                 index the bundled articles
  assay ingest corpus/ --prune         ...and forget articles whose files are gone
  assay ingest new.pdf notes/*.md      index some files
  assay ingest corpus/ --rebuild       start the index afresh (after changing model/chunking)
"""


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


@click.group(cls=AssayGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path), help="Index folder (default .assay/index, or $ASSAY_INDEX).")
@click.option("--chroma-url", help="Use a Chroma server (http://host:port) instead of the embedded index; or $ASSAY_CHROMA_URL.")
@click.option("--collection", help="Chroma collection name (default 'assay').")
@click.option("--model", help="Embedding model: packaged name or local sentence-transformers folder; or $ASSAY_EMBED_MODEL.")
@click.pass_context
def cli(ctx, index_dir, chroma_url, collection, model):
    """Assay answers questions from your articles, citing the passage behind every sentence.

    \b
    Quick start:
      assay ingest corpus/
      assay ask "Which countries is the US partnering with on rare earths?"
      assay chat
    """
    quiet_env()
    ctx.obj = {"settings": Settings.from_env(index_dir=index_dir, chroma_url=chroma_url, collection=collection, model=model)}


@cli.command(epilog=EXAMPLES_INGEST)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Remove indexed articles whose files no longer exist.")
@click.option("--rebuild", is_flag=True, help="Drop the index first and rebuild it from these files.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def ingest(ctx, paths, prune, rebuild, quiet, as_json):
    """Index articles (.txt .md .html .pdf, files or folders) incrementally.

    Unchanged files are skipped without embedding; a changed file replaces its old chunks.
    Exit code is 1 when any file failed (each failure is listed with its reason).
    """
    from ..ingest.pipeline import ingest as run

    summary = run(list(paths), _settings(ctx), prune=prune, rebuild=rebuild, progress=not quiet and not as_json)
    if as_json:
        click.echo(json.dumps({k: getattr(summary, k) for k in ("added", "updated", "unchanged", "removed", "skipped", "failed", "chunks_written", "seconds")}, indent=2))
    else:
        for line in summary.lines():
            click.echo(line, err=line.startswith("FAILED"))
    ctx.exit(1 if summary.failed else 0)


@cli.group()
def index():
    """Inspect the index: which articles are indexed, with dates, publishers and chunk counts."""


@index.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def index_stats(ctx, as_json):
    """List indexed articles (title, date, publisher, chunks) and totals."""
    from ..ingest.index import Index

    stats = Index(_settings(ctx.parent)).stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2, default=str))
        return
    click.echo(f"{stats['articles']} articles, {stats['chunks']} chunks in {stats['where']} (model {stats['model']})")
    for aid, rec in sorted(stats["items"].items()):
        click.echo(f"  {rec.get('published', '?'):<10}  {rec.get('n_chunks', 0):>4} chunks  {aid}  — {rec.get('title', '')[:70]}")


@index.command("check")
@click.option("--fix", is_flag=True, help="Repair what was found: delete the later ids of a file, orphan chunks; rebuild BM25.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def index_check(ctx, fix, as_json):
    """Check the index: one record per file, every chunk owned by an article, BM25 in step.

    Exit status 1 when something is wrong and --fix was not given."""
    import dataclasses

    from ..ingest.index import Index
    from ..ingest.pipeline import check_index

    health = check_index(Index(_settings(ctx.parent)), fix=fix)
    if as_json:
        click.echo(json.dumps({**dataclasses.asdict(health), "ok": health.ok}, indent=2))
    else:
        for line in health.lines():
            click.echo(line)
    ctx.exit(0 if health.ok or fix else 1)


@cli.command()
@click.argument("question")
@click.option("--history", multiple=True, help="An earlier question of the conversation (repeatable, oldest first).")
@click.option("--k", default=6, show_default=True, type=click.IntRange(1, 50), help="Passages to retrieve (1-50).")
@click.option("--llm", help="Answer writer, e.g. openai:MODEL@http://127.0.0.1:8080/v1, ollama:llama3.2, local:/path/model.gguf (default: offline extractive, or $ASSAY_LLM).")
@click.option("--article", "articles", multiple=True, help="Only search this article id (repeatable).")
@click.option("--since", help="Only articles published on/after YYYY[-MM[-DD]].")
@click.option("--until", help="Only articles published on/before YYYY[-MM[-DD]].")
@click.option("--json", "as_json", is_flag=True, help="Print the full structured answer as JSON.")
@click.option("--timings", is_flag=True, help="Also print where the time went (imports, models, retrieval, writing).")
@click.pass_context
def ask(ctx, question, history, k, llm, articles, since, until, as_json, timings):
    """Answer one question from the indexed articles, with numbered sources.

    \b
    Example:
      assay ask "What about Canada?" --history "Which countries is the US partnering with?"
    """
    t_cmd = time.perf_counter()
    from .answer import answer
    from .retrieve import Engine, Filters

    settings = _settings(ctx)
    llm = llm or settings.llm
    t_imports = time.perf_counter()
    from .limits import InputRefused

    try:
        filters = Filters.parse(list(articles), since, until)
    except InputRefused as e:
        raise click.UsageError(str(e)) from None
    result = answer(question, list(history), k=k, llm=llm, engine=Engine(settings), filters=filters)
    if timings:
        result.timings = {"startup": t_cmd - _STARTED, "imports": t_imports - t_cmd, **result.timings,
                          "process": time.perf_counter() - _STARTED}
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    if timings:
        click.echo("timings: " + "  ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.timings.items()), err=True)
    if result.query != question:
        click.echo(f"(searched for: {result.query})")
    click.echo(result.text)
    click.echo("")
    if result.abstained:
        if result.reason:
            click.echo(f"Why: {result.reason}")
        if result.related:
            click.echo("Related, but not an answer:")
            for p in result.related:
                click.echo(f"  - {p.title} ({p.published or 'undated'}): {p.text[:140]}…")
        return
    click.echo("Sources:")
    for c in result.citations:
        where = c.source_url or c.publisher or c.article_id
        click.echo(f"  [{c.n}] {c.title} — {c.published or 'undated'} — {where}" + (f" ({c.origin})" if c.uploaded else ""))
    for flag in result.flags:
        click.echo(f"  ! {flag}")


from .chat_cli import chat_command  # noqa: E402  (does not import gradio)

cli.add_command(chat_command)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: known errors become one line and exit code 2."""
    from ..ingest.embed import ModelNotFound
    from ..ingest.index import IndexError_

    known: tuple[type[BaseException], ...] = (IndexError_, ModelNotFound, FileNotFoundError, ValueError)
    try:
        from .llm import LLMError

        known += (LLMError,)
    except ImportError:
        pass
    try:
        rv = cli.main(args=argv, prog_name="assay", standalone_mode=False)
        return rv if isinstance(rv, int) else 0  # ctx.exit(n) comes back as the return value here
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted — what was finished is kept; run the same command again to complete it", err=True)
        return 130
    except known as e:
        click.echo(f"error: {e}", err=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
