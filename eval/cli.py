"""`assay eval QUESTIONS ...`, `assay eval compare RUN_A RUN_B` and `assay bench`.

Registered into the `assay` CLI by `register()` (entry point `assay.commands`). Cheap to
import: the heavy work is in assay.eval.run and assay.eval.bench.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from .fmt import num

EXAMPLES_RUN = """
\b
Examples:
  assay eval eval/questions.jsonl                        score against the current index
  assay eval q.jsonl --corpus docs/                      self-contained: ingest docs/ into a temp index first
  assay eval eval/questions.jsonl --out eval/runs/base   choose the output folder
  assay eval eval/questions.jsonl --fail-under fact_coverage=0.8 --fail-under hit_at_k=0.9
  assay eval eval/questions.jsonl --llm ollama:llama3.2 --workers 1
"""

EXAMPLES_GROUP = """
\b
Examples:
  assay eval eval/questions.jsonl --fail-under fact_coverage=0.8
  assay eval run eval/questions.jsonl --corpus corpus/   (same as without `run`)
  assay eval compare eval/runs/base eval/runs/new
"""

EXAMPLES_COMPARE = """
\b
Example:
  assay eval compare eval/runs/20250101-120000 eval/runs/20250102-090000
"""


class DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to the default subcommand."""

    default_command = "run"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write_usage(ctx.command_path, "QUESTIONS [OPTIONS]  |  compare RUN_A RUN_B")


@click.group("eval", cls=DefaultGroup, epilog=EXAMPLES_GROUP, context_settings={"help_option_names": ["-h", "--help"]})
def eval_cmd():
    """Score answers on a question set (JSONL/CSV): retrieval, facts, abstention, citations, latency.

    `assay eval QUESTIONS [options]` runs the set (see `assay eval run --help` for options);
    `assay eval compare A B` shows what changed between two runs.
    """


def _floor(ctx, param, values):
    floors = {}
    for item in values:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            floors[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"expected METRIC=VALUE, e.g. fact_coverage=0.8 (got {item!r})") from None
    from .run import check_floors

    try:
        check_floors(floors)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return floors


@eval_cmd.command("run", epilog=EXAMPLES_RUN)
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), help="Ingest this folder into a temporary index and evaluate against it (the configured index is not touched).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for results.jsonl, summary.json, report.md, report.html (default eval/runs/<timestamp>/).")
@click.option("--llm", help="Answer writer spec (default: extractive, or $ASSAY_LLM), e.g. openai:MODEL@http://127.0.0.1:8080/v1.")
@click.option("--k", default=6, show_default=True, help="Passages retrieved per question.")
@click.option("--workers", type=click.IntRange(1, 64), help="Questions answered at once (default min(2, CPUs)).")
@click.option("--fail-under", "fail_under", multiple=True, callback=_floor, metavar="METRIC=VALUE", help="Exit 1 if METRIC's mean is below VALUE (repeatable).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def run_cmd(ctx, questions, corpus, out, llm, k, workers, fail_under, quiet):
    """Answer every question of QUESTIONS and score the answers.

    Rows that do not parse are skipped with a warning. Ctrl-C stops early and still writes the
    report for the questions that finished.
    """
    from .run import evaluate

    settings = ctx.find_root().obj["settings"]
    out = out or Path("eval/runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    summary, rows, problems = evaluate(questions, settings=settings, corpus=corpus, out=out, k=k, llm=llm,
                                       workers=workers, fail_under=fail_under, progress=not quiet)
    click.echo(format_table(summary))
    click.echo(f"\nreport: {out / 'report.html'}  (also report.md, results.jsonl, summary.json)")
    meta = summary.get("meta", {})
    if meta.get("interrupted"):
        click.echo(f"interrupted: {meta.get('n_scored')} of {meta.get('n_questions')} questions scored", err=True)
    if meta.get("errors"):
        click.echo(f"{meta['errors']} question(s) raised errors: {', '.join(meta['error_ids'][:10])} (see results.jsonl)", err=True)
    for p in problems:
        click.echo(f"FAIL {p}", err=True)
    ctx.exit(1 if problems else 0)


@eval_cmd.command("compare", epilog=EXAMPLES_COMPARE)
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
def compare_cmd(run_a, run_b):
    """Metric deltas (B - A) overall and per kind, and the questions whose outcome changed."""
    from .run import compare

    click.echo(compare(run_a, run_b))


_COLUMNS = (("hit_at_k", "hit@5"), ("mrr", "mrr"), ("fact_coverage", "fact_cov"), ("answered", "answered"),
            ("abstention_correct", "abst_ok"), ("citation_validity", "cit_valid"),
            ("citation_support_recall", "cit_sup_r"), ("citation_support_precision", "cit_sup_p"))


def format_table(summary: dict) -> str:
    """Main metrics overall and per kind, abstention and latency, as a compact text table."""

    def cell(v):
        return f"{num(v):>10}"

    head = f"{'kind':<16}{'n':>4}" + "".join(f"{label:>10}" for _, label in _COLUMNS)
    lines = [head, "-" * len(head)]
    for kind, rec in (summary.get("by_kind") or {}).items():
        lines.append(f"{kind[:16]:<16}{rec['n']:>4}" + "".join(cell(rec["means"].get(k)) for k, _ in _COLUMNS))
    lines.append("-" * len(head))
    lines.append(f"{'ALL':<16}{summary.get('n', 0):>4}" + "".join(cell(summary.get("means", {}).get(k)) for k, _ in _COLUMNS))
    ab = summary.get("abstention") or {}
    lat = (summary.get("latency") or {}).get("total") or {}

    lines.append(f"abstention precision {num(ab.get('abstention_precision'))}  recall {num(ab.get('abstention_recall'))}  "
                 f"false-abstention rate {num(ab.get('false_abstention_rate'))}   latency total p50 {num(lat.get('p50'))} s  p95 {num(lat.get('p95'))} s")
    return "\n".join(lines)


EXAMPLES_BENCH = """
\b
Examples:
  assay bench --quick                                   small version (about a minute)
  assay bench                                           1k/5k/20k chunks, 100k/500k store rows
  assay bench --sizes 1000,5000 --distract 1000 --store-sizes 100000,250000
  python -m assay.eval.bench --quick --out /tmp/bench
"""


def _ints(ctx, param, value):
    if value is None:
        return None
    try:
        return [int(x) for x in str(value).replace("_", "").split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, e.g. 1000,5000 (got {value!r})") from None


@click.command("bench", epilog=EXAMPLES_BENCH, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench-results"), show_default=True, help="Folder for <timestamp>.json.")
@click.option("--quick", is_flag=True, help="Small sizes and few questions (the smoke test runs this).")
@click.option("--sizes", callback=_ints, help="Index sizes in chunks for ingest/latency checkpoints (default 1000,5000,20000).")
@click.option("--store-sizes", "store_sizes", callback=_ints, help="Synthetic Chroma+BM25 sizes (default 100000,500000).")
@click.option("--distract", callback=_ints, help="corpus-scale articles mixed in for the quality checkpoints (default 1000,5000; 0 = none).")
@click.option("--questions", "n_questions", type=click.IntRange(1, 100000), help="Latency questions per size (default 220).")
@click.option("--scale-dir", type=click.Path(path_type=Path), default=None, help="Folder of real articles to grow the index with (default ../shared/corpus-scale).")
@click.option("--phases", default="growth,chat,encoders,store", show_default=True, help="Which phases to run (always in this order: growth first, so its peak RSS is the pipeline's own).")
@click.option("--store-budget", type=float, default=900.0, show_default=True, help="Seconds allowed for building the next store size (projected); larger sizes are skipped.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def bench_cmd(out, quick, sizes, store_sizes, distract, n_questions, scale_dir, phases, store_budget, quiet):
    """Measure ingest, encoders, re-ingest, latency, quality under distraction, store scaling, chat start-up.

    Every figure is compared with its own reference inside one run (the machine may be busy);
    prints a table and writes bench-results/<timestamp>.json. See BENCHMARKS.md.
    """
    from .bench import DEFAULT_SCALE, format_table, run_bench
    from ..ingest.config import Settings

    root = click.get_current_context().find_root().obj
    base = root.get("settings") if isinstance(root, dict) and root.get("settings") else Settings.from_env()
    results, path = run_bench(
        out, quick=quick, sizes=sizes, store_sizes=store_sizes,
        distract=[d for d in distract if d > 0] if distract is not None else None, n_questions=n_questions,
        scale_dir=scale_dir or DEFAULT_SCALE, phases=tuple(p.strip() for p in phases.split(",") if p.strip()),
        store_budget_s=store_budget, progress=not quiet, chroma_url=base.chroma_url,
    )
    click.echo(format_table(results))
    click.echo(f"\nresults: {path}")


def register(cli: click.Group) -> None:
    """Entry point of the `assay.commands` group: add `eval` and `bench` to the root CLI."""
    cli.add_command(eval_cmd)
    cli.add_command(bench_cmd)
