"""`assay bench` and `python -m assay.eval.bench`: the click command (cheap to import)."""

from __future__ import annotations

from pathlib import Path

import click

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
@click.option("--store-sizes", "store_sizes", callback=_ints, help="Synthetic Chroma+BM25 sizes (default 20000,100000,500000).")
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
    from ...ingest.config import Settings
    from .common import DEFAULT_SCALE
    from .report import format_table
    from .run import run_bench

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


def main(argv: list[str] | None = None) -> int:
    return bench_cmd.main(args=argv, prog_name="python -m assay.eval.bench", standalone_mode=True) or 0
