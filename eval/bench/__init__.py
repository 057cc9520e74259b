"""`assay bench`: Assay's performance, every figure measured against its own reference in ONE run.

    python -m assay.eval.bench --quick                 # small version (about a minute)
    assay bench --sizes 1000,5000,20000 --store-sizes 100000,500000

The machine is shared and its load varies, so absolute timings are only indicative: the figures
that matter are the ratios and comparisons taken inside one run (pipeline vs raw encode of the
same texts, re-ingest vs full ingest, candidate encoders vs the default one, filtered vs
unfiltered queries). The JSON (bench-results/<timestamp>.json) keeps every raw number plus the
load average at the start and end of each phase.

Phases:
  encoders     default SentenceTransformer.encode vs batch sizes, torch threads, ONNX (fp32/int8):
               speed ratio, cosine to the default, retrieval hit@5/MRR on the eval questions
  ingest       the real pipeline on a growing index (bundled corpus + corpus-scale articles):
               tokens/s and chunks/s vs raw encode of exactly the same chunk texts; peak RSS
  reingest     re-running the ingest over the unchanged files, as a share of the full ingest time
  latency      dense / lexical / fused retrieval and the offline answer, p50/p95, at each size
  quality      hit@5 and MRR of the eval questions as corpus-scale articles are mixed in
  store        Chroma + BM25 alone at 100k..500k synthetic chunks, unfiltered and filtered
  chat         `assay chat` start-up to the first served page, and the first answer over the API

Each phase is a module: growth.py (ingest, re-ingest, latency, quality), chat.py, encoders.py,
store.py; common.py holds the measuring helpers and report.py the verdicts and the table.
"""

from __future__ import annotations

import gc
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from ...ingest.config import quiet_env
from .chat import bench_chat
from .common import DEFAULT_QUESTIONS, DEFAULT_SCALE, ROOT, SHARED, TARGETS, eval_questions, machine, phase, reset_peak_rss, rss_gb
from .encoders import bench_encoders
from .growth import bench_growth
from .report import format_table, verdict
from .store import _drop_server_collections, bench_store

__all__ = ["DEFAULT_SCALE", "ROOT", "SHARED", "format_table", "main", "run_bench"]


def run_bench(
    out: Path | str = "bench-results",
    *,
    quick: bool = False,
    sizes: list[int] | None = None,
    store_sizes: list[int] | None = None,
    distract: list[int] | None = None,
    n_questions: int | None = None,
    scale_dir: Path | str = DEFAULT_SCALE,
    questions_path: Path | str = DEFAULT_QUESTIONS,
    phases: tuple[str, ...] = ("growth", "chat", "encoders", "store"),
    store_budget_s: float = 900.0,
    progress: bool = True,
    log=None,
    chroma_url: str | None = None,
) -> tuple[dict, Path]:
    """Run the benchmark; returns (results, path of the JSON written).

    With `chroma_url` every index of the run lives on that Chroma server, in collections named
    assay-bench-<time>-*, which are deleted at the end (the lexical index stays local).
    """
    from ...ingest.config import Settings

    quiet_env()
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    sizes = sizes or ([40, 80] if quick else [1000, 5000, 20000])
    store_sizes = store_sizes or ([1000, 2000] if quick else [100000, 500000])
    distract = distract if distract is not None else ([6] if quick else [1000, 5000])
    n_questions = n_questions or (6 if quick else 220)
    scale_dir = Path(scale_dir)
    qpath = Path(questions_path)
    if not qpath.is_file():
        qpath = ROOT / "eval" / "questions.jsonl"
    questions = eval_questions(qpath)
    results: dict = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "params": {"sizes": sizes, "store_sizes": store_sizes, "distract_articles": distract, "n_questions": n_questions,
                   "scale_dir": str(scale_dir), "questions": str(qpath), "phases": list(phases),
                   "chroma": chroma_url or "embedded"},
        "machine": machine(Settings()),
        "targets": TARGETS,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}{'-quick' if quick else ''}.json"
    work = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    settings = Settings(index_dir=work / "index", chroma_url=chroma_url or None,
                        collection=f"assay-bench-{path.stem}-index" if chroma_url else "assay")
    results["params"]["collection"] = settings.collection
    t0 = time.perf_counter()

    def save():
        results["seconds"] = round(time.perf_counter() - t0, 1)
        path.write_text(json.dumps({k: v for k, v in results.items() if not k.startswith("_")}, indent=2))

    try:
        if "growth" in phases:
            with phase(results, "growth", log):
                bench_growth(settings, work, scale_dir, questions, sizes, distract, n_questions, progress, log, results, quick, save)
            save()
        if "chat" in phases and results.get("_largest_index"):
            with phase(results, "chat", log):
                results["chat"] = bench_chat(results["_largest_index"], results["_largest_sample_question"], log, settings=settings)
            save()
        if "encoders" in phases:
            with phase(results, "encoders", log):
                results["encoders"] = bench_encoders(settings, work, questions, 24 if quick else 192, progress, log, quick)
            save()
        if "store" in phases:
            with phase(results, "store", log):
                gc.collect()
                reset_peak_rss()
                results["store"] = bench_store(work, store_sizes, scale_dir, 10 if quick else 100, progress, log, store_budget_s,
                                               n_vocab_files=40 if quick else 400, chroma_url=chroma_url, prefix=f"assay-bench-{path.stem}")
                results["store"]["peak_gb"] = rss_gb()["peak_gb"]
            save()
        results["verdict"] = verdict(results)
    finally:
        results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        save()
        shutil.rmtree(work, ignore_errors=True)
        if chroma_url:
            _drop_server_collections(chroma_url, f"assay-bench-{path.stem}")
    return results, path


def main(argv: list[str] | None = None) -> int:
    from ..cli import bench_cmd

    return bench_cmd.main(args=argv, prog_name="python -m assay.eval.bench", standalone_mode=True) or 0


if __name__ == "__main__":
    sys.exit(main())
