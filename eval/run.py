"""Run a question set through `answer()` and score it: `evaluate` (files in, reports out), `compare`.

    >>> summary, rows, problems = evaluate("eval/questions.jsonl", settings=Settings.from_env(), out="eval/runs/x")
    >>> summary, rows, problems = evaluate("q.jsonl", settings=s, corpus="my_docs/")   # self-contained benchmark
    >>> print(compare("eval/runs/a", "eval/runs/b"))

Each row keeps what is needed to judge the answer without re-running it: the answer text, its
citations and sentences, the retrieved passages with their ranks, per-question metrics and timings.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor, wait, FIRST_COMPLETED
from datetime import datetime, timezone
from pathlib import Path

from . import metrics as M
from .fmt import delta, num
from .questions import Question, load_questions

HIT_K = 5
METRIC_KEYS = (
    "hit_at_k", "mrr", "context_recall", "fact_coverage", "answered", "abstention_correct",
    "citation_validity", "citation_support_recall", "citation_support_precision", "cited_gold",
    "declined_ok", "false_abstention", "partial", "answer_first", "nongold_share", "correct", "squad",
)
# summary["abstention"]: on status "abstained", and on "declined" = "abstained" or "partial"
ABSTENTION_KEYS = ("abstention_precision", "abstention_recall", "abstention_f1", "false_abstention_rate",
                   "decline_precision", "decline_recall", "decline_f1", "false_decline_rate")
SQUAD_KEYS = {"squad_has_ans": "has_ans", "squad_no_ans": "no_ans"}  # summary["squad"]; overall is the `squad` mean
ALIASES = {f"hit@{HIT_K}": "hit_at_k", "hit@k": "hit_at_k", "answered_rate": "answered", "squad_overall": "squad"}
FLOOR_METRICS = METRIC_KEYS + ABSTENTION_KEYS + tuple(SQUAD_KEYS)


class Rows(list):
    """The rows of a run, in question order; `interrupted` when Ctrl-C stopped it early."""

    interrupted: bool = False
    total: int = 0


# --- one question ----------------------------------------------------------------------------


def _base(q: Question) -> dict:
    return {"id": q.id, "kind": q.kind, "question": q.question, "history": list(q.history),
            "sources": list(q.sources), "facts": [list(f) for f in q.facts], "split": q.split,
            "atype": q.atype, "expect": q.expect, "expected_missing": [list(m) for m in q.missing],
            "related": list(q.related)}


def answer_status(ans) -> str:
    """"answered" | "partial" | "abstained" of an `Answer`; writers without `status` give answered/abstained."""
    status = getattr(ans, "status", None)
    if ans.abstained or status == "abstained":
        return "abstained"
    return status if status in M.STATUSES else "answered"


def score_question(q: Question, ans, engine, support: bool = True) -> dict:
    """One result row from a question and its `Answer` (`support=False`: skip the citation-support
    checks, which embed every cited passage — `assay eval fit` scores thousands of drafts)."""
    row = _base(q)
    status = answer_status(ans)
    abstained = status == "abstained"
    retrieved = [p.article_id for p in ans.passages]
    lex = engine.index.lexical() if support else None
    by_n = {c.n: c for c in ans.citations}
    sentences, sent_ok, pair_ok = [], [], []
    if not abstained:
        for s in ans.sentences:
            kind = getattr(s, "kind", "answer") or "answer"
            article_ids = list(dict.fromkeys(by_n[n].article_id for n in s.citations if n in by_n))
            if kind == "note":  # Assay's own words: cite nothing, so not scored for support
                sentences.append({"text": s.text, "kind": kind, "citations": list(s.citations),
                                  "article_ids": article_ids, "supported": None})
                continue
            oks = []
            for n in dict.fromkeys(s.citations) if support else ():
                cit = by_n.get(n)
                oks.append(cit is not None and _supported(s.text, cit.passage_text, engine, lex))
            pair_ok += oks
            if support:
                sent_ok.append(any(oks))
            sentences.append({"text": s.text, "kind": kind, "citations": list(s.citations),
                              "article_ids": article_ids, "supported": any(oks)})
        if not ans.sentences and ans.text:  # a writer that gives text only: its sentences, all quoted
            for text, nums in M.cited_sentences(ans.text):
                sentences.append({"text": text, "kind": "answer", "citations": nums, "supported": None,
                                  "article_ids": list(dict.fromkeys(by_n[n].article_id for n in nums if n in by_n))})
    quoted = [s for s in sentences if s["kind"] != "note"]
    # fact coverage reads the quoted sentences only: a note ("They don't say how many jobs") is not an answer
    answer_text = "" if abstained else (" ".join(s["text"] for s in quoted) if ans.sentences else ans.text)
    coverage = M.fact_coverage(answer_text, q.facts)
    missing = [str(m) for m in (getattr(ans, "missing", None) or [])]
    stated = missing + [s["text"] for s in sentences if s["kind"] == "note"]
    declined_ok = M.declined_ok(status, q.sources, stated, q.missing)
    confidence = getattr(ans, "confidence", None)
    row.update(
        query=ans.query,
        answer=ans.text,
        abstained=abstained,
        status=status,
        missing=missing,
        confidence=None if confidence is None else round(float(confidence), 6),
        reason=ans.reason,
        flags=list(ans.flags),
        writer=ans.writer,
        citations=[{"n": c.n, "article_id": c.article_id, "chunk_id": c.chunk_id, "title": c.title,
                    "quote": c.quote, "start": c.start, "end": c.end} for c in ans.citations],
        retrieved=[{"chunk_id": p.chunk_id, "article_id": p.article_id, "score": round(float(p.score), 6),
                    "dense_rank": p.dense_rank, "lexical_rank": p.lexical_rank} for p in ans.passages],
        sentences=sentences,
        metrics={
            "hit_at_k": M.hit_at_k(retrieved, q.sources, HIT_K),
            "mrr": M.mrr(retrieved, q.sources),
            "context_recall": M.context_recall(retrieved, q.sources),
            "fact_coverage": coverage,
            "answered": (1.0 if M.answered(abstained) else 0.0) if q.answerable else None,
            "abstention_correct": M.abstention_correct(abstained, q.sources),
            "citation_validity": None if abstained else M.citation_validity(M.parse_markers(ans.text), len(ans.citations)),
            "citation_support_recall": M.citation_support_recall(sent_ok),
            "citation_support_precision": M.citation_support_precision(pair_ok),
            "cited_gold": M.cited_gold([c.article_id for c in ans.citations], q.sources),
            "declined_ok": declined_ok,
            "false_abstention": M.false_abstention(status, q.sources),
            "partial": M.partial(status),
            "answer_first": M.answer_first([(s["kind"], s["text"]) for s in sentences], q.facts, status, q.sources),
            "nongold_share": M.nongold_share([(s["kind"], s["article_ids"]) for s in sentences], q.sources, status),
            "correct": M.correct(status, q.sources, coverage, declined_ok),
            "squad": M.squad(status, q.sources, coverage, declined_ok),
        },
        timings={k: round(float(ans.timings.get(k, 0.0)), 4) for k in M.LATENCY_KEYS},
    )
    return row


def _supported(sentence: str, passage_text: str, engine, lex) -> bool:
    from ..app.support import SUPPORT_THRESHOLD, support_score

    return support_score(sentence, passage_text, embed=engine.embed, idf=lex.idf) >= SUPPORT_THRESHOLD


def error_row(q: Question, exc: BaseException) -> dict:
    """A question that raised: scored as a failure wherever the metric is defined."""
    row = _base(q)
    gold = 0.0 if q.sources else None
    no_gold = None if q.sources else 0.0
    row.update(
        error=f"{type(exc).__name__}: {exc}", query="", answer="", abstained=False, status="error", missing=[],
        confidence=None, reason="", flags=[], citations=[], retrieved=[], sentences=[], timings={},
        metrics={"hit_at_k": gold, "mrr": gold, "context_recall": gold, "fact_coverage": 0.0 if q.facts else None,
                 "answered": gold, "abstention_correct": 0.0, "citation_validity": None,
                 "citation_support_recall": None, "citation_support_precision": None, "cited_gold": gold,
                 # like `answered` 0.0: no answer counts as not answering an answerable question
                 "declined_ok": no_gold, "false_abstention": None if gold is None else 1.0, "partial": 0.0,
                 "answer_first": 0.0 if q.sources and q.facts else None, "nongold_share": None,
                 "correct": 0.0 if q.facts or not q.sources else None, "squad": 0.0 if q.facts or not q.sources else None},
    )
    return row


def _one(q: Question, engine, k: int, llm: str | None) -> dict:
    from ..app.answer import answer

    try:
        ans = answer(q.question, list(q.history), k=k, llm=llm, engine=engine)
        return score_question(q, ans, engine)
    except Exception as exc:  # one bad question must not end the run
        return error_row(q, exc)


# --- the run ---------------------------------------------------------------------------------


def _postfix(done: list[dict]) -> str:
    def mean(key):
        vals = [v for r in done if (v := r["metrics"].get(key)) is not None]
        return f"{sum(vals) / len(vals):.2f}" if vals else "–"

    errors = sum(1 for r in done if "error" in r)
    return f"fact_cov {mean('fact_coverage')} hit@{HIT_K} {mean('hit_at_k')}" + (f" errors {errors}" if errors else "")


def run_eval(
    questions: list[Question],
    engine,
    *,
    k: int = 6,
    llm: str | None = None,
    workers: int = 1,
    progress: bool = True,
    on_row: Callable[[dict], None] | None = None,
) -> Rows:
    """Answer and score every question; rows come back in question order.

    Up to `workers` questions run at once (threads sharing `engine`). Ctrl-C stops the run and
    returns the rows that finished, with `rows.interrupted = True`.
    """
    from tqdm import tqdm

    results: dict[int, dict] = {}
    done: list[dict] = []
    bar = tqdm(total=len(questions), unit="q", desc="eval", disable=not progress, dynamic_ncols=True, file=sys.stderr)
    out = Rows()
    out.total = len(questions)

    def finish(i: int, row: dict) -> None:
        results[i] = row
        done.append(row)
        if on_row:
            on_row(row)
        bar.update(1)
        bar.set_postfix_str(_postfix(done))

    try:
        if workers <= 1:
            for i, q in enumerate(questions):
                finish(i, _one(q, engine, k, llm))
        else:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assay-eval")
            try:
                pending = {}
                todo = iter(enumerate(questions))
                for i, q in todo:  # keep at most 2*workers queued so Ctrl-C stops quickly
                    pending[pool.submit(_one, q, engine, k, llm)] = i
                    if len(pending) >= 2 * workers:
                        break
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        finish(pending.pop(fut), fut.result())
                    for i, q in todo:
                        pending[pool.submit(_one, q, engine, k, llm)] = i
                        if len(pending) >= 2 * workers:
                            break
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
    except KeyboardInterrupt:
        out.interrupted = True
    finally:
        bar.close()
    out.extend(results[i] for i in sorted(results))
    return out


def _git_commit() -> str | None:
    try:
        res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return res.stdout.strip() or None if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def summarize(rows: list[dict], *, k: int = 6, writer: str | None = None, **meta) -> dict:
    """`metrics.aggregate` over the rows plus `meta`: k, writer, counts, errors, timestamp, git commit."""
    summary = M.aggregate(rows, METRIC_KEYS)
    errors = [r["id"] for r in rows if "error" in r]
    summary["meta"] = {
        "k": k,
        "hit_k": HIT_K,
        "writer": writer or next((r.get("writer") for r in rows if r.get("writer")), "extractive"),
        "n_questions": getattr(rows, "total", 0) or len(rows),
        "n_scored": len(rows),
        "errors": len(errors),
        "error_ids": errors,
        "interrupted": bool(getattr(rows, "interrupted", False)),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        **meta,
    }
    return summary


# --- floors ------------------------------------------------------------------------------------


def metric_value(summary: dict, name: str) -> float | None:
    """A metric's run-level value: a mean, an abstention/decline score, or a SQuAD HasAns/NoAns figure."""
    name = ALIASES.get(name, name)
    if name in ABSTENTION_KEYS:
        return (summary.get("abstention") or {}).get(name)
    if name in SQUAD_KEYS:
        return (summary.get("squad") or {}).get(SQUAD_KEYS[name])
    return (summary.get("means") or {}).get(name)


def check_floors(fail_under: dict | None) -> dict[str, float]:
    """Validate {metric: floor}; ValueError naming the valid metrics for an unknown one."""
    floors = {}
    for name, value in (fail_under or {}).items():
        key = ALIASES.get(name, name)
        if key not in FLOOR_METRICS:
            raise ValueError(f"unknown metric {name!r} for --fail-under; valid: {', '.join(FLOOR_METRICS)} (or hit@{HIT_K})")
        floors[name] = float(value)
    return floors


def below_floors(summary: dict, floors: dict[str, float]) -> list[str]:
    problems = []
    for name, floor in floors.items():
        value = metric_value(summary, name)
        if value is None:
            problems.append(f"{name}: undefined in this run (floor {floor:g})")
        elif value < floor:
            problems.append(f"{name}: {value:.3f} is below the floor {floor:g}")
    return problems


# --- files in, reports out ------------------------------------------------------------------


def write_run(out: str | Path, rows: list[dict], summary: dict) -> Path:
    """results.jsonl, summary.json, report.md (+ PNGs) and report.html in `out`."""
    from .report import write_reports

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    write_reports(out, rows, summary)
    return out


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


@contextmanager
def eval_engine(settings, corpora: list[Path], progress: bool, meta: dict):
    """(engine, scratch folder): the Engine questions are answered with — over `corpora` ingested
    into a temporary index (the configured one is not touched), or over the configured index when
    there are none — and a temporary folder for other indexes of the run (the baseline's)."""
    from ..app.retrieve import Engine
    from ..ingest.index import IndexEmpty

    with tempfile.TemporaryDirectory(prefix="assay-eval-") as tmp:
        if corpora:
            from ..ingest.pipeline import Ingestor

            for c in corpora:
                if not c.exists():
                    raise FileNotFoundError(f"corpus folder not found: {c}")
            temp = dataclasses.replace(settings, index_dir=Path(tmp) / "index", chroma_url=None)
            t0 = time.perf_counter()
            ingestor = Ingestor(temp)
            ing = ingestor.run(list(corpora), progress=progress)
            for f, why in ing.failed:
                _warn(f"corpus file failed to ingest: {f}: {why}")
            meta["ingest"] = {"articles": len(ing.added) + len(ing.updated), "chunks": ing.chunks_written,
                              "failed": len(ing.failed), "seconds": round(time.perf_counter() - t0, 2)}
            engine = Engine(temp, index=ingestor.index, encoder=ingestor.encoder)
        else:
            engine = Engine(settings)
            meta["index"] = engine.index.where
        if engine.index.chunks.count() == 0:  # raises IndexEmpty when there is no collection at all
            raise IndexEmpty(f"index is empty ({engine.index.where}) — run `assay ingest corpus/` first, or pass --corpus DIR")
        yield engine, Path(tmp)


def load_split(questions_path, split: str | None) -> tuple[list[Question], list[str]]:
    """The valid questions of `questions_path` (of one split when given) and the rows skipped."""
    questions, errors = load_questions(questions_path)
    for e in errors:
        _warn(f"skipped {e}")
    if split:
        questions = [q for q in questions if q.split == split]
    if not questions:
        raise ValueError(f"no valid questions in {questions_path}" + (f" with split {split!r}" if split else ""))
    return questions, errors


def corpus_list(corpus) -> list[Path]:
    return [Path(c) for c in ([corpus] if isinstance(corpus, (str, Path)) else corpus or [])]


def evaluate(
    questions_path: str | Path,
    *,
    settings,
    corpus: str | Path | list[str | Path] | None = None,
    out: str | Path | None = None,
    k: int = 6,
    llm: str | None = None,
    workers: int | None = None,
    fail_under: dict | None = None,
    progress: bool = True,
    split: str | None = None,
    baseline: bool = False,
) -> tuple[dict, list[dict], list[str]]:
    """Score `questions_path` against the index of `settings`, or against `corpus` (one folder or
    several) ingested into a temp index. `split` keeps only the questions of that split (tune/test);
    `baseline` also runs the textbook LangChain recipe on the same corpus (summary["baseline"]).

    Returns (summary, rows, problems); problems name each `fail_under` metric below its floor.
    """
    floors = check_floors(fail_under)  # before spending minutes on a run
    questions, errors = load_split(questions_path, split)
    corpora = corpus_list(corpus)
    if baseline and not corpora:
        raise ValueError("--baseline needs --corpus DIR: the LangChain recipe indexes the same files")
    workers = workers or min(2, os.cpu_count() or 1)
    llm = llm or getattr(settings, "llm", None)
    meta = {"questions": str(questions_path), "corpus": [str(c) for c in corpora] or None, "skipped_rows": errors,
            "workers": workers, "split": split}
    with eval_engine(settings, corpora, progress, meta) as (engine, scratch):
        rows = run_eval(questions, engine, k=k, llm=llm, workers=workers, progress=progress)
        summary = summarize(rows, k=k, writer=(llm.split(":", 1)[0] if llm else "extractive"), **meta)
        if baseline:
            from .baseline import langchain_recipe

            summary["baseline"] = {"langchain_recipe": langchain_recipe(corpora, questions, settings, scratch / "recipe", k=k, hit_k=HIT_K)}
    if out is not None:
        write_run(out, rows, summary)
    return summary, rows, below_floors(summary, floors)


# --- rescoring a run ---------------------------------------------------------------------------


def rescore(run_dir: str | Path, questions_path: str | Path, split: str | None = None) -> dict:
    """The summary of an earlier run's answers under today's metrics and question file (its rows
    are re-read, nothing is answered again; citation support is not re-checked). For before/after
    tables when a metric or the question set changed since the run."""
    from types import SimpleNamespace as NS

    questions = {q.id: q for q in load_split(questions_path, split)[0]}
    rows = []
    for line in (Path(run_dir) / "results.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        q = questions.get(str(r.get("id")))
        if q is None:
            continue
        status = r.get("status") or ("abstained" if r.get("abstained") else "answered")
        by_n = {c["n"]: c for c in r.get("citations") or []}
        sentences = [NS(text=x["text"], citations=x.get("citations", []), kind=x.get("kind", "answer")) for x in r.get("sentences") or []]
        ans = NS(query=r.get("query", ""), text=r.get("answer", ""), abstained=status == "abstained", status=status,
                 missing=r.get("missing") or [], confidence=r.get("confidence"), reason=r.get("reason", ""),
                 flags=r.get("flags") or [], writer=r.get("writer", ""), sentences=sentences,
                 citations=[NS(n=c["n"], article_id=c["article_id"], chunk_id=c.get("chunk_id", ""), title=c.get("title", ""),
                               quote=c.get("quote", ""), start=c.get("start", 0), end=c.get("end", 0), passage_text="")
                            for c in by_n.values()],
                 passages=[NS(chunk_id=x["chunk_id"], article_id=x["article_id"], score=x.get("score", 0.0),
                              dense_rank=x.get("dense_rank"), lexical_rank=x.get("lexical_rank")) for x in r.get("retrieved") or []],
                 timings=r.get("timings") or {})
        rows.append(score_question(q, ans, None, support=False))
    return summarize(rows, questions=str(questions_path), split=split, rescored=str(run_dir))


# --- comparing two runs ------------------------------------------------------------------------


def _load_run(run_dir: str | Path) -> tuple[dict, dict[str, dict]]:
    run_dir = Path(run_dir)
    path = run_dir / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found — pass a folder written by `assay eval --out`")
    summary = json.loads(path.read_text(encoding="utf-8"))
    rows = {}
    results = run_dir / "results.jsonl"
    if results.is_file():
        for line in results.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows[str(r.get("id"))] = r
    return summary, rows


_KIND_COLUMNS = {"hit_at_k": f"hit@{HIT_K}", "fact_coverage": "fact_cov", "answered": "answered",
                 "abstention_correct": "abst_ok", "citation_support_recall": "cit_sup_r", "mrr": "mrr"}
_OUTCOME_COLUMNS = {"correct": "correct", "squad": "squad", "declined_ok": "decl_ok", "false_abstention": "false_abs",
                    "partial": "partial", "answer_first": "ans_first", "nongold_share": "nongold"}
_SPLIT_COLUMNS = (("means", "correct"), ("squad", "has_ans"), ("squad", "no_ans"), ("abstention", "decline_f1"))


def _delta_line(label: str, a, b, width: int = 28) -> str:
    return f"{label:<{width}}{num(a):>8}{num(b):>8}{delta(a, b):>9}"


def _kind_table(title: str, sa: dict, sb: dict, kinds: list[str], columns: dict[str, str]) -> list[str]:
    lines = [title, f"{'kind':<20}" + "".join(f"{v:>11}" for v in columns.values())]
    for kind in kinds:
        ka = (sa.get("by_kind", {}).get(kind) or {}).get("means", {})
        kb = (sb.get("by_kind", {}).get(kind) or {}).get("means", {})
        lines.append(f"{kind[:20]:<20}" + "".join(f"{delta(ka.get(m), kb.get(m)):>11}" for m in columns))
    return lines


def compare(run_a_dir: str | Path, run_b_dir: str | Path) -> str:
    """Metric deltas (B − A) overall, per kind and per split, then the questions whose outcome changed
    (status, e.g. "answered -> partial", fact coverage, hit@k, errors)."""
    sa, ra = _load_run(run_a_dir)
    sb, rb = _load_run(run_b_dir)
    lines = [f"A: {run_a_dir}  ({sa.get('meta', {}).get('git_commit') or '?'}, n={sa.get('n')})",
             f"B: {run_b_dir}  ({sb.get('meta', {}).get('git_commit') or '?'}, n={sb.get('n')})", ""]
    keys = [k for k in METRIC_KEYS if k in sa.get("means", {}) or k in sb.get("means", {})]
    lines.append(f"{'metric':<28}{'A':>8}{'B':>8}{'B-A':>9}")
    for key in keys:
        lines.append(_delta_line(key, sa["means"].get(key), sb["means"].get(key)))
    for key in ABSTENTION_KEYS:
        a, b = (sa.get("abstention") or {}).get(key), (sb.get("abstention") or {}).get(key)
        lines.append(_delta_line(key, a, b))
    for key, field in SQUAD_KEYS.items():
        a, b = (sa.get("squad") or {}).get(field), (sb.get("squad") or {}).get(field)
        lines.append(_delta_line(key, a, b))
    for p in ("p50", "p95"):
        a = ((sa.get("latency") or {}).get("total") or {}).get(p)
        b = ((sb.get("latency") or {}).get("total") or {}).get(p)
        lines.append(_delta_line(f"latency total {p} (s)", a, b))
    kinds = sorted(set(sa.get("by_kind", {})) | set(sb.get("by_kind", {})))
    lines += ["", *_kind_table("Per kind (B-A; blank = undefined):", sa, sb, kinds, _KIND_COLUMNS)]
    lines += ["", *_kind_table("Per kind, outcomes (B-A; blank = undefined):", sa, sb, kinds, _OUTCOME_COLUMNS)]
    splits = sorted(set(sa.get("by_split") or {}) | set(sb.get("by_split") or {}))
    if splits:
        lines += ["", "Per split (B-A; blank = undefined):",
                  f"{'split':<20}" + "".join(f"{(f'squad_{f}' if g == 'squad' else f):>14}" for g, f in _SPLIT_COLUMNS)]
        for split in splits:
            pa, pb = (sa.get("by_split") or {}).get(split) or {}, (sb.get("by_split") or {}).get(split) or {}
            lines.append(f"{split:<20}" + "".join(
                f"{delta((pa.get(g) or {}).get(f), (pb.get(g) or {}).get(f)):>14}" for g, f in _SPLIT_COLUMNS))
    changed, statuses = [], {}
    for qid, b in rb.items():
        a = ra.get(qid)
        if a is None:
            continue
        notes = []
        errored = ("error" in a) or ("error" in b)
        st_a, st_b = M.row_status(a), M.row_status(b)
        if st_a != st_b and not errored:
            notes.append(f"{st_a} -> {st_b}")
            statuses[f"{st_a} -> {st_b}"] = statuses.get(f"{st_a} -> {st_b}", 0) + 1
        ma, mb = a.get("metrics") or {}, b.get("metrics") or {}
        fa, fb = ma.get("fact_coverage"), mb.get("fact_coverage")
        if fa is not None and fb is not None and abs(fa - fb) > 1e-9:
            notes.append(f"fact coverage {'up' if fb > fa else 'down'} {fa:.2f} -> {fb:.2f}")
        da, db = ma.get("declined_ok"), mb.get("declined_ok")
        if st_a == st_b == "partial" and da is not None and db is not None and da != db:
            notes.append(f"declined_ok {da:.0f} -> {db:.0f}")
        ha, hb = ma.get("hit_at_k"), mb.get("hit_at_k")
        if ha is not None and hb is not None and ha != hb:
            notes.append(f"hit@{HIT_K} {ha:.0f} -> {hb:.0f}")
        if ("error" in a) != ("error" in b):
            notes.append("now fails: " + b["error"] if "error" in b else "error fixed")
        if notes:
            changed.append(f"  {qid} [{b.get('kind')}] {'; '.join(notes)} — {str(b.get('question'))[:70]}")
    only = sorted(set(ra) ^ set(rb))
    lines += ["", f"Questions whose outcome changed ({len(changed)}):", *(changed or ["  (none)"])]
    if statuses:
        lines.append("Status changes: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    if only:
        lines.append(f"In only one run ({len(only)}): {', '.join(only[:20])}{' …' if len(only) > 20 else ''}")
    return "\n".join(lines)
