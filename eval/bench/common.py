"""Shared by the bench phases: where the material is, the targets, measuring helpers, corpus material."""

from __future__ import annotations

import os
import platform
import random
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
DEFAULT_SCALE = SHARED / "corpus-scale"
DEFAULT_QUESTIONS = SHARED / "eval" / "questions.jsonl"
BUNDLED = ROOT / "corpus"

TARGETS = {
    "ingest_ratio_min": 0.9,  # the pipeline at the raw encode's own precision: its overhead
    "ingest_ratio_min_bf16": 2.0,  # the pipeline vs raw float32 encode, on a CPU with native bf16
    "ingest_ratio_min_fp32": 1.3,  # ... and without
    "reingest_share_max": 0.02,
    "fused_p50_ms_max_at_20k": 50.0,
    "answer_p50_ms_max_at_20k": 150.0,
    "store_p50_ms_max_at_500k": 100.0,
    "lexical_update_s_max_at_500k": 1.0,
    "cold_ask_s_max": 1.5,
    "cold_ask_rss_mb_max": 300,
    "chat_first_page_s_max": 3.0,
    "chat_first_answer_s_max": 1.0,
    "peak_rss_gb_max": 2.5,
    "hit_at_5_min_at_5k_articles": 0.9,
    "encoder_cosine_min": 0.99,
}


def pct(values, q) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.percentile(vals, q)) if vals else None


def summary_ms(seconds: list[float]) -> dict:
    return {"n": len(seconds), "p50_ms": rnd(pct(seconds, 50), 1000), "p95_ms": rnd(pct(seconds, 95), 1000),
            "mean_ms": rnd(float(np.mean(seconds)) if seconds else None, 1000)}


def rnd(v, scale=1.0, nd=2):
    return None if v is None else round(v * scale, nd)


def loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def rss_gb() -> dict:
    """Current (VmRSS) and peak (VmHWM) resident memory of this process, in GB."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024 / 1024
    except OSError:
        import resource

        out["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    return {"rss_gb": rnd(out.get("VmRSS"), 1, 3), "peak_gb": rnd(out.get("VmHWM"), 1, 3)}


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs 5), so the next peak belongs to one phase."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@contextmanager
def phase(results: dict, name: str, log):
    log(f"== {name} (load average {loadavg()})")
    rec = results.setdefault("phases", {}).setdefault(name, {})
    rec["loadavg_start"] = loadavg()
    t = time.perf_counter()
    try:
        yield rec
    finally:
        rec["seconds"] = round(time.perf_counter() - t, 2)
        rec["loadavg_end"] = loadavg()


def bar(total, desc, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True, leave=False)


def eval_questions(path: Path):
    from ..questions import load_questions

    if not path or not Path(path).is_file():
        return []
    qs, _errors = load_questions(path)
    return qs


def retrieval_quality(engine, questions, k: int = 6) -> dict:
    """hit@5 and MRR of the answerable questions, through the same query rewrite as answer()."""
    from ...app import rewrite
    from .. import metrics as M
    from ..run import HIT_K

    hits, mrrs = [], []
    indexed = {aid.split("/")[-1] for aid in engine.index.manifest()}
    skipped = 0
    for q in questions:
        if not q.answerable:
            continue
        if not {s.split("/")[-1] for s in q.sources} <= indexed:
            skipped += 1  # its gold article is not in this index (quick mode ingests part of the corpus)
            continue
        query = rewrite.standalone(q.question, list(q.history))
        arts = [p.article_id for p in engine.retrieve(query, k=k)]
        hits.append(M.hit_at_k(arts, q.sources, HIT_K))
        mrrs.append(M.mrr(arts, q.sources))
    return {"n": len(hits), "skipped_gold_not_indexed": skipped, "hit_at_5": rnd(float(np.mean(hits)) if hits else None, 1, 4),
            "mrr": rnd(float(np.mean(mrrs)) if mrrs else None, 1, 4)}


def scale_files(scale_dir: Path, seed: int = 0) -> list[Path]:
    files = sorted(p for p in scale_dir.rglob("*") if p.suffix.lower() in (".md", ".txt", ".html", ".htm") and p.name.lower() not in ("readme.md", "license", "license.md"))
    random.Random(seed).shuffle(files)
    return files


def split_texts(paths: list[Path], settings, root: Path | None = None) -> list:
    """Chunks of `paths` through the real loader and splitter (for encoder comparisons)."""
    from ...ingest.load import load_article
    from ...ingest.pipeline import Ingestor
    from ...ingest.split import split_article

    counter = Ingestor(settings).counter
    out = []
    for p in paths:
        try:
            art = load_article(p, root, max_bytes=int(settings.max_file_mb * 1024 * 1024))
        except Exception:
            continue
        out += split_article(art, counter, settings.chunk_tokens, settings.overlap_sentences)
    return out


def bundled(quick: bool = False) -> list[Path]:
    """The bundled corpus files (quick: the three smallest)."""
    files = [p for p in sorted(BUNDLED.iterdir()) if p.is_file() and p.name != "README.md"]
    return sorted(files, key=lambda p: p.stat().st_size)[:3] if quick else files


def scratch(settings, work: Path, name: str):
    """Settings for a throw-away index of the run: its own folder, and its own collection on a server."""
    if settings.chroma_url:
        return settings.with_(index_dir=work / name, collection=f"{settings.collection.removesuffix('-index')}-{name}")
    return settings.with_(index_dir=work / name)


def machine(settings) -> dict:
    import torch

    from ...ingest.embed import Encoder, _native_bf16

    info = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    enc = Encoder.for_settings(settings)
    info.update(native_bf16=_native_bf16(), embed_precision=enc.precision, embed_backend=enc.backend)
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["mem_gb"] = round(int(mem) / 1024 / 1024, 1)
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
        info["cpu"] = cpu
    except (OSError, ValueError):
        pass
    for pkg in ("sentence_transformers", "chromadb", "onnxruntime", "onnx", "gradio"):
        try:
            info[pkg] = __import__(pkg).__version__
        except Exception:
            info[pkg] = None
    return info


