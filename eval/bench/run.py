"""`run_bench`: every phase of `assay bench` in one run, its JSON written as it goes."""

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
from .chat import bench_chat, bench_cold
from .common import DEFAULT_QUESTIONS, DEFAULT_SCALE, ROOT, TARGETS, eval_questions, machine, phase, reset_peak_rss, rss_gb
from .encoders import bench_encoders
from .growth import bench_growth
from .report import verdict
from .store import _drop_server_collections, bench_store

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
    store_sizes = store_sizes or ([1000, 2000] if quick else [20000, 100000, 500000])
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
                results["cold"] = bench_cold(results["_largest_index"], results["_largest_sample_question"], log, settings=settings)
                results["chat"] = bench_chat(results["_largest_index"], results["_largest_sample_question"], log, settings=settings)
                ref = results["cold"]["import_chromadb"]["wall_s"]
                for key, ratio in (("startup_to_first_page_s", "first_page_vs_import_chromadb"), ("first_answer_s", "first_answer_vs_import_chromadb")):
                    if results["chat"].get(key) is not None:
                        results["chat"][ratio] = round(results["chat"][key] / ref, 2)
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


