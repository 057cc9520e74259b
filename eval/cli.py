"""`assay eval QUESTIONS ...` and `assay eval compare RUN_A RUN_B`; `register()` adds them and
`assay bench` (eval/bench/command.py) to the `assay` CLI (entry point `assay.commands`).

Cheap to import: the heavy work is in assay.eval.run and assay.eval.bench.run.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from .fmt import num

EXAMPLES_RUN = """
\b
Examples:
  assay eval eval/questions.jsonl                        score against the current index
  assay eval q.jsonl --corpus docs/                      self-contained: ingest docs/ into a temp index first
  assay eval eval/dev.jsonl --corpus corpus --corpus eval/articles --split test --baseline
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
  assay eval import-feedback .assay/feedback.jsonl  (thumbs-down answers -> draft questions)
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
        formatter.write_usage(ctx.command_path, "QUESTIONS [OPTIONS]  |  compare RUN_A RUN_B  |  fit QUESTIONS  |  import-feedback FILE")


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
@click.option("--corpus", multiple=True, type=click.Path(exists=True, path_type=Path), help="Ingest this folder (repeatable) into a temporary index and evaluate against it (the configured index is not touched).")
@click.option("--split", type=click.Choice(["tune", "test"]), help="Only the questions of this split (a question file's `split` field).")
@click.option("--baseline", is_flag=True, help="Also run the textbook LangChain recipe on the same --corpus and questions (retrieval hit@5/MRR side by side).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for results.jsonl, summary.json, report.md, report.html (default eval/runs/<timestamp>/).")
@click.option("--llm", help="Answer writer spec (default: extractive, or $ASSAY_LLM), e.g. openai:MODEL@http://127.0.0.1:8080/v1.")
@click.option("--k", default=6, show_default=True, help="Passages retrieved per question.")
@click.option("--workers", type=click.IntRange(1, 64), help="Questions answered at once (default min(2, CPUs)).")
@click.option("--fail-under", "fail_under", multiple=True, callback=_floor, metavar="METRIC=VALUE", help="Exit 1 if METRIC (a mean, e.g. correct, or a run-level score: abstention_f1, decline_recall, squad_has_ans, squad_no_ans, ...) is below VALUE (repeatable).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def run_cmd(ctx, questions, corpus, split, baseline, out, llm, k, workers, fail_under, quiet):
    """Answer every question of QUESTIONS and score the answers.

    Rows that do not parse are skipped with a warning. Ctrl-C stops early and still writes the
    report for the questions that finished.
    """
    from .feedback import drafts_in
    from .run import evaluate

    drafts = drafts_in(questions)
    if drafts:
        raise click.UsageError(f"{questions} still holds {len(drafts)} draft question(s) from `assay eval import-feedback` "
                               f"({', '.join(drafts[:5])}{' …' if len(drafts) > 5 else ''}): fill in their facts and sources, "
                               "then delete their `draft` field")
    settings = ctx.find_root().obj["settings"]
    out = out or Path("eval/runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    summary, rows, problems = evaluate(questions, settings=settings, corpus=list(corpus) or None, out=out, k=k, llm=llm,
                                       workers=workers, fail_under=fail_under, progress=not quiet, split=split, baseline=baseline)
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


EXAMPLES_FIT = """
\b
Example:
  assay eval fit eval/dev.jsonl --corpus corpus --corpus eval/articles
"""


@eval_cmd.command("fit", epilog=EXAMPLES_FIT)
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--corpus", multiple=True, type=click.Path(exists=True, path_type=Path), help="Ingest this folder (repeatable) into a temporary index first.")
@click.option("--k", default=6, show_default=True, help="Passages retrieved per question.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
def fit_cmd(ctx, questions, corpus, k, quiet):
    """Fit the offline writer's thresholds on the questions' tune split; report both splits.

    The question file needs a `split` field (tune/test). Prints the best grid setting next to
    the thresholds in use; app/extractive.py's THRESHOLDS are set from it by hand.
    """
    from .fit import fit, format_fit, prepare
    from .run import corpus_list, eval_engine, load_split

    settings = ctx.find_root().obj["settings"]
    tune, _ = load_split(questions, "tune")
    test, _ = load_split(questions, "test")
    with eval_engine(settings, corpus_list(list(corpus)), not quiet, {}) as (engine, _scratch):
        result = fit(prepare(tune, engine, k, not quiet), prepare(test, engine, k, not quiet), engine, progress=not quiet)
    click.echo(format_fit(result))


@eval_cmd.command("rescore")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["tune", "test"]), help="Only the questions of this split.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write summary.json and the report here.")
def rescore_cmd(run_dir, questions, split, out):
    """Score an earlier run's answers again with today's metrics and QUESTIONS (nothing is re-answered).

    For before/after tables when the metrics or the question file changed since RUN_DIR was made.
    """
    from .run import rescore

    summary = rescore(run_dir, questions, split)
    click.echo(format_table(summary))
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


EXAMPLES_IMPORT = """
\b
Examples:
  assay eval import-feedback .assay/feedback.jsonl                       drafts -> eval/feedback-drafts.jsonl
  assay eval import-feedback fb.jsonl --out eval/drafts.jsonl --skip eval/dev.jsonl
"""


@eval_cmd.command("import-feedback", epilog=EXAMPLES_IMPORT)
@click.argument("feedback", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("eval/feedback-drafts.jsonl"), show_default=True,
              help="Drafts are appended here (answers already drafted there are skipped).")
@click.option("--skip", "skip", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A question file whose questions are not drafted again (repeatable), e.g. eval/dev.jsonl.")
@click.option("--include-up", is_flag=True, help="Also draft up-voted answers (as regression checks of what went right).")
def import_feedback_cmd(feedback, out, skip, include_up):
    """Turn the chat's down-voted answers (FEEDBACK: the JSONL the chat writes, ASSAY_FEEDBACK) into
    draft eval questions: the question, its conversation history, the answer given and the user's
    comment, with blanks for the expected facts and sources, for a person to complete."""
    from .feedback import import_feedback

    res = import_feedback(feedback, out, list(skip), include_up)
    for p in res["problems"]:
        click.echo(f"skipped {p}", err=True)
    click.echo(f"{res['answers']} rated answers ({res['down']} down, {res['up']} up): {res['written']} draft question(s) "
               f"appended to {res['out']}" + (f", {res['already']} already drafted" if res["already"] else ""))
    if res["written"]:
        click.echo("next: fill in each draft's facts and sources (see its `todo`), remove `draft`, and add it to your question file")


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
_OUTCOME_COLUMNS = (("correct", "correct"), ("squad", "squad"), ("partial", "partial"), ("declined_ok", "decl_ok"),
                    ("false_abstention", "false_abs"), ("answer_first", "ans_first"), ("nongold_share", "nongold"))


def _kind_block(summary: dict, columns) -> list[str]:
    def cell(v):
        return f"{num(v):>10}"

    head = f"{'kind':<20}{'n':>4}" + "".join(f"{label:>10}" for _, label in columns)
    lines = [head, "-" * len(head)]
    for kind, rec in (summary.get("by_kind") or {}).items():
        lines.append(f"{kind[:20]:<20}{rec['n']:>4}" + "".join(cell(rec["means"].get(k)) for k, _ in columns))
    lines.append("-" * len(head))
    lines.append(f"{'ALL':<20}{summary.get('n', 0):>4}" + "".join(cell(summary.get("means", {}).get(k)) for k, _ in columns))
    return lines


def _outcome_line(label: str, ab: dict, sq: dict) -> str:
    return (f"{label}abstention P {num(ab.get('abstention_precision'))} R {num(ab.get('abstention_recall'))} "
            f"F1 {num(ab.get('abstention_f1'))}   declined (abstained or partial) P {num(ab.get('decline_precision'))} "
            f"R {num(ab.get('decline_recall'))} F1 {num(ab.get('decline_f1'))}   SQuAD HasAns {num(sq.get('has_ans'))} "
            f"NoAns {num(sq.get('no_ans'))} overall {num(sq.get('overall'))}")


def format_table(summary: dict) -> str:
    """Main metrics and outcome metrics overall and per kind, abstention/decline/SQuAD (overall and
    per split), and latency, as compact text tables."""
    lines = _kind_block(summary, _COLUMNS) + [""] + _kind_block(summary, _OUTCOME_COLUMNS)
    ab = summary.get("abstention") or {}
    lat = (summary.get("latency") or {}).get("total") or {}

    base = (summary.get("baseline") or {}).get("langchain_recipe")
    if base:
        lines.append(f"LangChain recipe on the same corpus ({base['recipe']}): hit@5 {num(base['hit_at_k'])}  mrr {num(base['mrr'])}"
                     f"   (Assay: hit@5 {num(summary.get('means', {}).get('hit_at_k'))}  mrr {num(summary.get('means', {}).get('mrr'))})")
    lines.append(f"abstention precision {num(ab.get('abstention_precision'))}  recall {num(ab.get('abstention_recall'))}  "
                 f"false-abstention rate {num(ab.get('false_abstention_rate'))}   latency total p50 {num(lat.get('p50'))} s  p95 {num(lat.get('p95'))} s")
    lines.append(_outcome_line("ALL: ", ab, summary.get("squad") or {}) + f"   false-decline rate {num(ab.get('false_decline_rate'))}")
    for split, rec in (summary.get("by_split") or {}).items():
        lines.append(_outcome_line(f"{split} (n={rec['n']}): correct {num(rec['means'].get('correct'))}  ",
                                   rec.get("abstention") or {}, rec.get("squad") or {}))
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    """Entry point of the `assay.commands` group: add `eval` and `bench` to the root CLI."""
    from .bench.command import bench_cmd  # click only: the bench itself loads when it runs

    cli.add_command(eval_cmd)
    cli.add_command(bench_cmd)
