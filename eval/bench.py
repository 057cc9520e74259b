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
"""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_SCALE = SHARED / "corpus-scale"
DEFAULT_QUESTIONS = SHARED / "eval" / "questions.jsonl"
BUNDLED = ROOT / "corpus"

TARGETS = {
    "ingest_ratio_min": 0.9,
    "reingest_share_max": 0.02,
    "fused_p50_ms_max_at_20k": 50.0,
    "answer_p50_ms_max_at_20k": 300.0,
    "store_p50_ms_max_at_500k": 100.0,
    "peak_rss_gb_max": 2.5,
    "hit_at_5_min_at_5k_articles": 0.9,
    "encoder_cosine_min": 0.99,
}


# --- small helpers ---------------------------------------------------------------------------


def pct(values, q) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.percentile(vals, q)) if vals else None


def summary_ms(seconds: list[float]) -> dict:
    return {"n": len(seconds), "p50_ms": _r(pct(seconds, 50), 1000), "p95_ms": _r(pct(seconds, 95), 1000),
            "mean_ms": _r(float(np.mean(seconds)) if seconds else None, 1000)}


def _r(v, scale=1.0, nd=2):
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
    return {"rss_gb": _r(out.get("VmRSS"), 1, 3), "peak_gb": _r(out.get("VmHWM"), 1, 3)}


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


def _bar(total, desc, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True, leave=False)


def eval_questions(path: Path):
    from .questions import load_questions

    if not path or not Path(path).is_file():
        return []
    qs, _errors = load_questions(path)
    return qs


def retrieval_quality(engine, questions, k: int = 6) -> dict:
    """hit@5 and MRR of the answerable questions, through the same query rewrite as answer()."""
    from ..app import rewrite
    from . import metrics as M
    from .run import HIT_K

    hits, mrrs = [], []
    for q in questions:
        if not q.answerable:
            continue
        query = rewrite.standalone(q.question, list(q.history))
        arts = [p.article_id for p in engine.retrieve(query, k=k)]
        hits.append(M.hit_at_k(arts, q.sources, HIT_K))
        mrrs.append(M.mrr(arts, q.sources))
    return {"n": len(hits), "hit_at_5": _r(float(np.mean(hits)) if hits else None, 1, 4),
            "mrr": _r(float(np.mean(mrrs)) if mrrs else None, 1, 4)}


# --- corpus material -------------------------------------------------------------------------


def scale_files(scale_dir: Path, seed: int = 0) -> list[Path]:
    files = sorted(p for p in scale_dir.rglob("*") if p.suffix.lower() in (".md", ".txt", ".html", ".htm") and p.name.lower() not in ("readme.md", "license", "license.md"))
    random.Random(seed).shuffle(files)
    return files


def split_texts(paths: list[Path], settings, root: Path | None = None) -> list:
    """Chunks of `paths` through the real loader and splitter (for encoder comparisons)."""
    from ..ingest.load import load_article
    from ..ingest.pipeline import Ingestor
    from ..ingest.split import split_article

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


# --- 2. encoders -----------------------------------------------------------------------------


def bench_encoders(settings, work: Path, questions, n_texts: int, progress: bool, log, quick: bool) -> dict:
    """Default encode vs candidates: speed ratio on the same texts, cosine, retrieval quality."""
    import torch

    from ..ingest import embed as E

    bundled_files = bundled(quick)
    bundled_chunks = split_texts(bundled_files, settings, BUNDLED)
    scale = scale_files(DEFAULT_SCALE, seed=7)[: 4 if quick else 60] if DEFAULT_SCALE.is_dir() else []
    speed_texts = [c.embed_text for c in bundled_chunks + split_texts(scale, settings)]
    random.Random(3).shuffle(speed_texts)
    speed_texts = speed_texts[:n_texts]
    quality_texts = [c.embed_text for c in bundled_chunks][: 16 if quick else None]
    st = E.load_model(settings.model)
    default_threads = torch.get_num_threads()

    def st_encode(bs):
        return lambda texts: st.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    def presorted(bs):
        def f(texts):
            order = np.argsort([-len(t) for t in texts], kind="stable")
            out = np.zeros((len(texts), 384), dtype=np.float32)
            for i in range(0, len(texts), bs):  # one call per batch: no sorting help from encode()
                idx = order[i : i + bs]
                out[idx] = st_encode(bs)([texts[j] for j in idx])
            return out
        return f

    def unsorted_calls(bs):
        def f(texts):  # what a caller that sends one batch per call gets: no length sorting at all
            return np.concatenate([st_encode(bs)(texts[i : i + bs]) for i in range(0, len(texts), bs)])
        return f

    def threads(n, bs=32):
        def f(texts):
            torch.set_num_threads(n)
            try:
                return st_encode(bs)(texts)
            finally:
                torch.set_num_threads(default_threads)
        return f

    candidates: dict[str, callable] = {"default (torch, bs32)": st_encode(settings.batch_size)}
    for bs in ((64,) if quick else (16, 64, 128)):
        candidates[f"torch bs{bs}"] = st_encode(bs)
    if not quick:
        candidates["torch bs32, one call per batch (unsorted)"] = unsorted_calls(32)
        candidates["torch bs32, presorted, one call per batch"] = presorted(32)
        if default_threads != 1:
            candidates["torch bs32, 1 thread"] = threads(1)
        if os.cpu_count() and os.cpu_count() != default_threads:
            candidates[f"torch bs32, {os.cpu_count()} threads"] = threads(os.cpu_count())
    if E._native_bf16() or not quick:  # bf16 autocast: fast only where the CPU has bf16 instructions
        candidates["torch bf16 autocast bs32"] = lambda texts: E.encode(settings.model, texts, 32, backend="torch", precision="bf16")
    onnx_error = None
    try:
        if E.onnx_encoder(settings.model) is None:
            onnx_error = "model is not a mean-pooling Transformer"
        else:
            for bs in ((32,) if quick else (32, 64)):
                candidates[f"onnx fp32 bs{bs}"] = (lambda b: lambda texts: E.onnx_encoder(settings.model).encode(texts, b))(bs)
            if not quick:
                candidates["onnx int8 (dynamic quantization) bs32"] = lambda texts: E.onnx_encoder(settings.model, quantize=True).encode(texts, 32)
    except Exception as e:  # export failed: record why, keep benchmarking the rest
        onnx_error = f"{type(e).__name__}: {e}"
    for f in candidates.values():  # warm every path (exports, first-call allocations) before timing
        f(speed_texts[:8])

    # Two rounds, interleaved, best of the two: the machine is shared and its load moves.
    times: dict[str, list[float]] = {name: [] for name in candidates}
    vecs_of: dict[str, np.ndarray] = {}
    bar = _bar(2 * len(candidates), "encoders", progress)
    for _round in range(2):
        for name, f in candidates.items():
            t = time.perf_counter()
            vecs_of[name] = f(speed_texts)
            times[name].append(time.perf_counter() - t)
            bar.update(1)
    bar.close()
    base = min(times["default (torch, bs32)"])
    ref_speed = vecs_of["default (torch, bs32)"]
    ref_vecs = None
    rows = {}
    for name, f in candidates.items():
        cos = (vecs_of[name] * ref_speed).sum(axis=1)  # same texts, from the timed runs
        rows[name] = {
            "texts_per_s": round(len(speed_texts) / min(times[name]), 2),
            "speed_vs_default": round(base / min(times[name]), 3),
            "cosine_mean": round(float(cos.mean()), 5),
            "cosine_min": round(float(cos.min()), 5),
        }
        if name.startswith(("onnx", "torch bf16")):  # another runtime or precision: check every bundled-corpus chunk too
            if ref_vecs is None:
                ref_vecs = candidates["default (torch, bs32)"](quality_texts)
            cq = (f(quality_texts) * ref_vecs).sum(axis=1)
            rows[name]["bundled_cosine_mean"] = round(float(cq.mean()), 5)
            rows[name]["bundled_cosine_min"] = round(float(cq.min()), 5)
    # Retrieval quality: the bundled corpus indexed and queried with each backend.
    for backend, name, quant in (("torch", "default (torch, bs32)", False), ("torch-bf16", "torch bf16 autocast bs32", False),
                                 ("onnx", "onnx fp32 bs32", False), ("onnx", "onnx int8 (dynamic quantization) bs32", True)):
        if name not in rows or quick:
            continue
        rows[name]["retrieval"] = _quality_with_backend(settings, work / f"enc-{backend}-{int(quant)}", questions, backend, quant)
    out = {"n_speed_texts": len(speed_texts), "n_quality_texts": len(quality_texts), "torch_threads_default": default_threads,
           "st_sorts_whole_call": _st_sorts_whole_call(), "candidates": rows, "onnx_error": onnx_error}
    ref = rows["default (torch, bs32)"].get("retrieval") or {}
    ok = {n: r for n, r in rows.items() if min(r["cosine_mean"], r.get("bundled_cosine_mean", 1.0)) >= TARGETS["encoder_cosine_min"]
          and (r.get("retrieval") is None or (r["retrieval"]["hit_at_5"] == ref.get("hit_at_5") and r["retrieval"]["mrr"] == ref.get("mrr")))}
    out["fastest_quality_preserving"] = max(ok, key=lambda n: rows[n]["speed_vs_default"]) if ok else None
    return out


def _st_sorts_whole_call() -> bool:
    """Does SentenceTransformer.encode sort all inputs of one call by length (so a flush is sorted)?"""
    import inspect

    from sentence_transformers import SentenceTransformer

    try:
        return "length_sorted_idx" in inspect.getsource(inspect.getmodule(SentenceTransformer))
    except (OSError, TypeError):
        return False


def _quality_with_backend(settings, folder: Path, questions, backend: str, quantize: bool) -> dict:
    from ..app.retrieve import Engine
    from ..ingest import embed as E
    from ..ingest.pipeline import Ingestor

    old = E.encode

    def patched(model, texts, batch_size=32, backend_=None, precision=None):
        if backend == "onnx":
            return E.onnx_encoder(model, quantize=quantize).encode(texts, batch_size)
        return old(model, texts, batch_size, backend="torch", precision="bf16" if backend == "torch-bf16" else "fp32")

    E.encode = patched  # the pipeline and the engine import encode at call time
    try:
        s = scratch(settings, folder.parent, folder.name)
        Ingestor(s).run([BUNDLED], progress=False)
        return retrieval_quality(Engine(s), questions)
    finally:
        E.encode = old


# --- 1, 3, 4, 6, 7. the growing real index -----------------------------------------------------


def make_questions(engine, eval_qs, n: int, seed: int = 11) -> list[str]:
    """Questions from the indexed text: sentences (8-30 words) and titles of random chunks, plus the eval set."""
    from ..ingest.split import sentence_spans

    col = engine.index.chunks
    total = col.count()
    rng = random.Random(seed)
    eval_qs = list(eval_qs)[: max(1, n // 2)] if n < 2 * len(eval_qs) else list(eval_qs)
    want = max(0, n - len(eval_qs))
    out: list[str] = []
    tries = 0
    while len(out) < want and tries < 20 * want + 50:
        tries += 1
        got = col.get(limit=1, offset=rng.randrange(total), include=["documents", "metadatas"])
        if not got["ids"]:
            continue
        doc, meta = got["documents"][0], got["metadatas"][0]
        if rng.random() < 0.3 and meta.get("title"):
            out.append(f"What does “{meta['title'][:120]}” say?")
            continue
        sents = [doc[a:b] for a, b in sentence_spans(doc) if 8 <= len(doc[a:b].split()) <= 30]
        if sents:
            words = rng.choice(sents).rstrip(".!?").split()
            cut = rng.randint(min(len(words), 6), len(words))  # part of a sentence, phrased as a question
            out.append("What about " + " ".join(words[:cut]) + "?")
    return out + [q.question for q in eval_qs]


def measure_latency(engine, questions: list[str], progress: bool, label: str, profile_to: Path | None = None) -> dict:
    """Per question, cold query caches: dense, lexical, fused retrieve, offline answer, query embedding."""
    from ..app.answer import answer

    engine.index.lexical()  # loaded once, as a running server has it
    engine.embed(["warm up"], cache="q")
    times = {"embed_query": [], "dense": [], "lexical": [], "fused": [], "answer": []}
    prof = None
    if profile_to is not None:
        import cProfile

        prof = cProfile.Profile()
    bar = _bar(len(questions), f"latency {label}", progress)
    for q in questions:
        for key, fn in (
            ("embed_query", lambda: engine.embed([q], cache="q")),
            ("dense", lambda: engine.dense(q, 30)),
            ("lexical", lambda: engine.lexical(q, 30)),
            ("fused", lambda: engine.retrieve(q, k=6)),
            ("answer", lambda: answer(q, engine=engine)),
        ):
            engine._qcache.clear()  # a new question: its embedding is not cached
            if key == "answer":
                engine._scache.clear()  # nor are its passages' sentences (worst case)
                if prof:
                    prof.enable()
            t = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t)
            if prof and key == "answer":
                prof.disable()
        bar.update(1)
    bar.close()
    out = {k: summary_ms(v) for k, v in times.items()}
    if prof is not None:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(35)
        profile_to.write_text(buf.getvalue())
        out["profile"] = str(profile_to)
    return out


def plan_checkpoints(sizes: list[int], distract: list[int]) -> list[tuple[str, int]]:
    cps = [("chunks", n) for n in sizes] + [("articles", n) for n in distract]
    return sorted(cps, key=lambda c: c[1] if c[0] == "chunks" else c[1] * 9)  # ~9 chunks per scale article


def bench_growth(settings, work: Path, scale_dir: Path, questions, sizes, distract, n_questions: int, progress: bool, log, results: dict, quick: bool, save=lambda: None) -> None:
    from ..app.retrieve import Engine
    from ..ingest.index import Index
    from ..ingest.pipeline import Ingestor, flush_chunks
    from ..ingest.embed import load_model

    files = scale_files(scale_dir) if scale_dir.is_dir() else []
    docs = work / "docs"
    (docs / "bundled").mkdir(parents=True)
    for p in bundled(quick):
        shutil.copy2(p, docs / "bundled" / p.name)
    index = Index(settings)
    ing = Ingestor(settings, index=index)
    engine = Engine(settings, index=index)
    stages, checkpoints = [], {}
    growth = results.setdefault("ingest", {"stages": []})
    ratio_done = False
    used = 0  # scale files used so far
    chars_per_chunk = 800.0
    total_ingest = 0.0
    cps = plan_checkpoints(sizes, distract)

    def ingest_stage(folder: Path, label: str, measure_ratio: bool) -> dict:
        nonlocal total_ingest
        gc.collect()
        reset_peak_rss()
        ing.record_texts = [] if measure_ratio else None
        s = ing.run([folder], progress=progress)
        rec = {"stage": label, "files": len(s.added) + len(s.updated), "failed": len(s.failed), "chunks": s.chunks_written,
               "tokens": s.tokens_embedded, "seconds": round(s.seconds, 2), "embed_seconds": round(s.embed_seconds, 2),
               "chunks_per_s": _r(s.chunks_written / s.seconds if s.seconds else None),
               "tokens_per_s": _r(s.tokens_embedded / s.seconds if s.seconds else None),
               "index_chunks": index.chunks.count(), **{f"ingest_{k}": v for k, v in rss_gb().items()}}
        total_ingest += s.seconds
        if measure_ratio and ing.record_texts:
            texts = ing.record_texts
            ing.record_texts = None
            st = load_model(settings.model)
            step = flush_chunks()  # same flush size and batch size as the pipeline; one encode() per flush
            from ..ingest.embed import encode as assay_encode, precision_name

            def raw_st() -> float:  # plain SentenceTransformer.encode: float32, no autocast
                t = time.perf_counter()
                bar = _bar(len(texts), "raw encode (same texts)", progress)
                for i in range(0, len(texts), step):
                    st.encode(texts[i : i + step], batch_size=settings.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
                    bar.update(min(step, len(texts) - i))
                bar.close()
                return time.perf_counter() - t

            raw_a = raw_st()
            t = time.perf_counter()
            for i in range(0, len(texts), step):
                assay_encode(settings.model, texts[i : i + step], settings.batch_size)
            raw_cfg = time.perf_counter() - t
            raw_b = raw_st()  # before and after: the machine's load drifts during a long stage
            raw = (raw_a + raw_b) / 2
            same = None
            if precision_name() != "fp32":  # the pipeline's own overhead at the raw encode's settings
                old_env = os.environ.get("ASSAY_EMBED_PRECISION")
                os.environ["ASSAY_EMBED_PRECISION"] = "fp32"
                try:
                    s32 = Ingestor(scratch(settings, work, "ratio-fp32")).run([folder], progress=progress)
                    raw_c = raw_st()
                finally:
                    if old_env is None:
                        os.environ.pop("ASSAY_EMBED_PRECISION", None)
                    else:
                        os.environ["ASSAY_EMBED_PRECISION"] = old_env
                same = {"seconds": round(s32.seconds, 2), "embed_seconds": round(s32.embed_seconds, 2),
                        "st_encode_seconds_after": round(raw_c, 2),
                        "ratio_pipeline_vs_raw_st": round(((raw + raw_c) / 2) / s32.seconds, 3),
                        "pipeline_overhead_share": round(1 - s32.embed_seconds / s32.seconds, 3)}
            rec["raw"] = {"texts": len(texts), "identical_texts": len(texts) == s.chunks_written,
                          "st_encode_seconds": round(raw, 2), "st_encode_runs": [round(raw_a, 2), round(raw_b, 2)],
                          "st_chunks_per_s": _r(len(texts) / raw), "precision": precision_name(),
                          "st_tokens_per_s": _r(s.tokens_embedded / raw),
                          "configured_encode_seconds": round(raw_cfg, 2),
                          "ratio_pipeline_vs_raw_st": round(raw / s.seconds, 3),
                          "ratio_pipeline_vs_configured_encode": round(raw_cfg / s.seconds, 3),
                          "pipeline_embed_share": round(s.embed_seconds / s.seconds, 3),
                          "pipeline_overhead_share": round(1 - s.embed_seconds / s.seconds, 3),
                          "fp32_pipeline": same,  # the same stage ingested again with float32 encode
                          # the same encode() calls inside and outside the pipeline: a gap here is machine noise
                          "raw_st_vs_pipeline_embed": round(raw / s.embed_seconds, 3) if s.embed_seconds else None}
            growth["ratio"] = rec["raw"] | {"stage": label}
        growth["stages"].append(rec)
        log(f"   {label}: +{rec['chunks']} chunks in {rec['seconds']} s ({rec['chunks_per_s']} chunks/s), index {rec['index_chunks']} chunks"
            + (f", pipeline/raw = {rec['raw']['ratio_pipeline_vs_raw_st']}" if "raw" in rec else ""))
        return rec

    first = ingest_stage(docs / "bundled", "bundled corpus", measure_ratio=False)
    bundled_chunks = first["index_chunks"]
    for kind, target in cps:
        if kind == "chunks":
            need_chunks = target - index.chunks.count()
            take = 0
            est = 0.0
            while used + take < len(files) and est < need_chunks:
                est += max(200, files[used + take].stat().st_size - 400) / chars_per_chunk
                take += 1
        else:
            take = max(0, min(target, len(files)) - used)
        if take > 0:
            folder = docs / f"scale-{len(stages) + 1:02d}"
            folder.mkdir()
            batch = files[used : used + take]
            for i, p in enumerate(batch):
                shutil.copy2(p, folder / f"{used + i:05d}-{p.name}")
            chars = sum(max(200, p.stat().st_size - 400) for p in batch)
            rec = ingest_stage(folder, f"+{take} scale articles", measure_ratio=not ratio_done)
            ratio_done = True
            if rec["chunks"]:
                chars_per_chunk = chars / rec["chunks"]
            used += take
            stages.append(folder)
        n_chunks = index.chunks.count()
        key = f"{kind}:{target}"
        cp = checkpoints[key] = {"kind": kind, "target": target, "index_chunks": n_chunks, "scale_articles": used,
                                 "bundled_chunks": bundled_chunks}
        log(f"-- checkpoint {key}: {n_chunks} chunks, {used} scale articles + bundled corpus")
        cp["quality"] = retrieval_quality(engine, questions)
        log(f"   eval questions: hit@5 {cp['quality']['hit_at_5']}  MRR {cp['quality']['mrr']}")
        if kind == "chunks":
            gc.collect()
            reset_peak_rss()
            qs = make_questions(engine, questions, n_questions)
            prof = work / f"profile-{n_chunks}.txt" if target == max(sizes) else None
            cp["latency"] = measure_latency(engine, qs, progress, str(n_chunks), profile_to=prof)
            if prof and prof.exists():
                results.setdefault("profiles", {})[key] = prof.read_text()
            cp["query_peak_gb"] = rss_gb()["peak_gb"]
            lat = cp["latency"]
            log("   " + "  ".join(f"{k} p50 {v['p50_ms']} ms p95 {v['p95_ms']} ms" for k, v in lat.items() if isinstance(v, dict)))
        results["checkpoints"] = checkpoints
        save()  # a long run that is stopped early keeps what it measured
    results["checkpoints"] = checkpoints
    growth["full_ingest_seconds"] = round(total_ingest, 2)
    growth["peak_rss_gb"] = max((s.get("ingest_peak_gb") or 0) for s in growth["stages"])
    growth["chars_per_chunk"] = round(chars_per_chunk, 1)

    # 3. re-ingest of the unchanged corpus (every folder) vs the full ingest time of the same files
    t = time.perf_counter()
    s = ing.run([docs / "bundled", *stages], progress=progress)
    re_s = time.perf_counter() - t
    results["reingest"] = {"seconds": round(re_s, 3), "full_ingest_seconds": round(total_ingest, 2),
                           "share": round(re_s / total_ingest, 5) if total_ingest else None,
                           "unchanged": len(s.unchanged), "written": s.chunks_written}
    log(f"-- re-ingest unchanged: {re_s:.2f} s = {100 * re_s / max(total_ingest, 1e-9):.2f}% of full ingest ({total_ingest:.0f} s)")
    results["_largest_index"] = str(settings.index_dir)
    results["_largest_sample_question"] = questions[0].question if questions else "What are rare earth elements used for?"


# --- 5. store-only scaling -------------------------------------------------------------------


def vocabulary(scale_dir: Path, n_files: int = 400) -> list[str]:
    """A token stream of real words (sampling from it keeps the natural word frequencies)."""
    words: list[str] = []
    for p in scale_files(scale_dir, seed=5)[:n_files] if scale_dir.is_dir() else []:
        words += re.findall(r"[A-Za-z][a-z]+", p.read_text(encoding="utf-8", errors="ignore"))
    if not words:
        for p in BUNDLED.glob("*"):
            words += re.findall(r"[A-Za-z][a-z]+", p.read_text(encoding="utf-8", errors="ignore"))
    return words


def bench_store(work: Path, sizes: list[int], scale_dir: Path, n_queries: int, progress: bool, log, budget_s: float, n_vocab_files: int = 400,
                chroma_url: str | None = None, prefix: str = "assay-bench") -> dict:
    """Chroma + BM25 at synthetic sizes: unfiltered, article-filtered and date-filtered queries."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from ..ingest.lexical import LexicalIndex, tokenize

    rng = np.random.default_rng(0)
    prng = random.Random(0)
    words = vocabulary(scale_dir, n_vocab_files)
    if chroma_url:
        client = _server_client(chroma_url)
    else:
        client = chromadb.PersistentClient(path=str(work / "store"), settings=ChromaSettings(anonymized_telemetry=False))
    col = client.create_collection(f"{prefix}-synthetic" if chroma_url else "synthetic", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    try:
        batch = max(1, min(5000, int(client.get_max_batch_size())))
    except Exception:
        batch = 5000
    per_article = 9
    days = [int(f"{y}{m:02d}{d:02d}") for y in range(2021, 2026) for m in range(1, 13) for d in (1, 8, 15, 22)]
    texts: list[str] = []
    arts: list[str] = []
    pubs: list[int] = []
    out = {"sizes": {}, "build": []}
    built = 0
    t_build = 0.0
    for size in sorted(sizes):
        if built and t_build / built * (size - built) > budget_s:
            out["skipped"] = {"size": size, "reason": f"projected build {t_build / built * (size - built):.0f} s > budget {budget_s:.0f} s"}
            log(f"   store {size}: skipped ({out['skipped']['reason']})")
            continue
        bar = _bar(size - built, f"store build {size}", progress)
        t0 = time.perf_counter()
        while built < size:
            n = min(batch, size - built)
            vecs = rng.standard_normal((n, 384)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            ids = [f"c{built + i:07d}" for i in range(n)]
            docs = [" ".join(prng.choices(words, k=prng.randint(60, 160))) for _ in range(n)]
            a = [f"art{(built + i) // per_article:06d}" for i in range(n)]
            pub = [days[((built + i) // per_article) % len(days)] for i in range(n)]
            metas = [{"article_id": x, "published_int": y, "title": x, "chunk_index": i % per_article} for i, (x, y) in enumerate(zip(a, pub))]
            col.add(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
            texts += docs
            arts += a
            pubs += pub
            built += n
            bar.update(n)
        bar.close()
        dt = time.perf_counter() - t0
        t_build += dt
        t0 = time.perf_counter()
        lex = LexicalIndex.build([f"c{i:07d}" for i in range(built)], texts, arts, pubs)
        lex_build = time.perf_counter() - t0
        out["build"].append({"size": size, "chroma_add_seconds": round(dt, 1), "bm25_build_seconds": round(lex_build, 1)})
        log(f"   store {size}: chroma add {dt:.0f} s, bm25 build {lex_build:.0f} s")
        out["sizes"][str(size)] = _store_queries(col, lex, tokenize, built, per_article, days, words, n_queries, progress, prng, rng)
        del lex
        gc.collect()
    return out


def _store_queries(col, lex, tokenize, n_rows: int, per_article: int, days, words, n_queries: int, progress: bool, prng, rng) -> dict:
    from ..app.retrieve import Filters, filtered_query

    n_articles = n_rows // per_article
    since = days[int(len(days) * 0.8)]
    results: dict[str, list[float]] = {}

    def rec(name, fn):
        t = time.perf_counter()
        fn()
        results.setdefault(name, []).append(time.perf_counter() - t)

    include = ["documents", "metadatas", "distances"]
    bar = _bar(n_queries, f"store queries {n_rows}", progress)
    for _ in range(n_queries):
        base = col.get(ids=[f"c{prng.randrange(n_rows):07d}"], include=["embeddings"])["embeddings"][0]
        qv = np.asarray(base, dtype=np.float32) + 0.05 * rng.standard_normal(384).astype(np.float32)
        qv = (qv / np.linalg.norm(qv)).tolist()
        qtext = " ".join(prng.choices(words, k=prng.randint(3, 8)))
        art_ids = [f"art{prng.randrange(n_articles):06d}" for _ in range(3)]
        f_art = Filters(articles=art_ids)
        f_date = Filters(since=str(since)[:4] + "-" + str(since)[4:6] + "-" + str(since)[6:])
        rec("chroma", lambda: col.query(query_embeddings=[qv], n_results=30, include=include))
        rec("chroma_article_filter", lambda: col.query(query_embeddings=[qv], n_results=30, where=f_art.chroma_where(), include=include))
        rec("chroma_date_filter", lambda: col.query(query_embeddings=[qv], n_results=30, where=f_date.chroma_where(), include=include))
        # after: the filter evaluated on the in-memory lexical metadata (what Engine.dense does now)
        rec("chroma_article_filter_fixed", lambda: filtered_query(col, np.asarray(qv, dtype=np.float32), 30, f_art.chroma_where(), lex, lex.mask(art_ids, None, None), include))
        rec("chroma_date_filter_fixed", lambda: filtered_query(col, np.asarray(qv, dtype=np.float32), 30, f_date.chroma_where(), lex, lex.mask(None, f_date.bounds()[0], None), include))
        rec("bm25", lambda: lex.search(qtext, 30))
        rec("bm25_article_filter", lambda: lex.search(qtext, 30, lex.mask(art_ids, None, None)))
        rec("bm25_date_filter", lambda: lex.search(qtext, 30, lex.mask(None, f_date.bounds()[0], None)))
        bar.update(1)
    bar.close()
    return {k: summary_ms(v) for k, v in results.items()}


# --- 8. chat start-up ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_chat(index_dir: str, question: str, log, timeout: float = 300.0, settings=None) -> dict:
    import urllib.request

    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False", ASSAY_INDEX=index_dir)
    server = ["--chroma-url", settings.chroma_url, "--collection", settings.collection] if settings is not None and settings.chroma_url else []
    cmd = [sys.executable, "-m", "assay.app.cli", "--index", index_dir, *server, "chat", "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out: dict = {"command": " ".join(cmd[1:])}
    try:
        url = f"http://127.0.0.1:{port}/"
        while True:
            if proc.poll() is not None:
                out["error"] = f"chat exited with {proc.returncode}: {(proc.stderr.read() or '')[-500:]}"
                return out
            if time.perf_counter() - t0 > timeout:
                out["error"] = "no page within timeout"
                return out
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.1)
        out["startup_to_first_page_s"] = round(time.perf_counter() - t0, 2)
        t1 = time.perf_counter()
        try:
            from gradio_client import Client

            client = Client(url, verbose=False)
            t2 = time.perf_counter()
            ans = client.predict(question, [], 6, api_name="/ask")
            out["first_answer_s"] = round(time.perf_counter() - t2, 3)
            out["client_connect_s"] = round(t2 - t1, 3)
            t3 = time.perf_counter()
            client.predict(question + " (again)", [], 6, api_name="/ask")
            out["second_answer_s"] = round(time.perf_counter() - t3, 3)
            out["answered"] = bool(ans and not ans.get("abstained")) if isinstance(ans, dict) else None
        except Exception as e:
            out["answer_error"] = f"{type(e).__name__}: {e}"
        log(f"   chat: first page {out.get('startup_to_first_page_s')} s, first answer {out.get('first_answer_s')} s")
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the run ---------------------------------------------------------------------------------


def machine() -> dict:
    import torch

    info = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    from ..ingest.embed import _native_bf16, backend_name, precision_name

    info.update(native_bf16=_native_bf16(), embed_precision=precision_name(), embed_backend=backend_name())
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["mem_gb"] = round(int(mem) / 1024 / 1024, 1)
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
        info["cpu"] = cpu
    except (OSError, ValueError):
        pass
    for pkg in ("sentence_transformers", "chromadb", "bm25s", "onnxruntime", "onnx", "gradio"):
        try:
            info[pkg] = __import__(pkg).__version__
        except Exception:
            info[pkg] = None
    return info


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
    from ..ingest.config import Settings

    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
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
        "machine": machine(),
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


def scratch(settings, work: Path, name: str):
    """Settings for a throw-away index of the run: its own folder, and its own collection on a server."""
    if settings.chroma_url:
        return settings.with_(index_dir=work / name, collection=f"{settings.collection.removesuffix('-index')}-{name}")
    return settings.with_(index_dir=work / name)


def _server_client(url: str):
    from ..ingest.config import Settings
    from ..ingest.index import Index

    return Index(Settings(chroma_url=url)).client


def _drop_server_collections(url: str, prefix: str) -> None:
    from ..ingest.config import Settings
    from ..ingest.index import Index

    try:
        index = Index(Settings(chroma_url=url))
        for name in index._names():
            if name.startswith(prefix):
                index.client.delete_collection(name)
    except Exception as e:  # the results are saved already; say what is left behind
        print(f"bench: could not delete the {prefix}* collections on {url}: {e}", file=sys.stderr)


# --- verdicts and the table ------------------------------------------------------------------


def _largest(results, kind="chunks"):
    cps = [c for c in (results.get("checkpoints") or {}).values() if c["kind"] == kind]
    return max(cps, key=lambda c: c["target"]) if cps else None


def verdict(results: dict) -> dict:
    v = {}
    r = (results.get("ingest") or {}).get("ratio")
    if r:
        v["ingest_ratio"] = {"value": r["ratio_pipeline_vs_raw_st"], "target": f">= {TARGETS['ingest_ratio_min']} x raw default encode", "met": r["ratio_pipeline_vs_raw_st"] >= TARGETS["ingest_ratio_min"]}
        v["ingest_beats_raw_encode"] = {"value": r["ratio_pipeline_vs_raw_st"], "target": "> 1 (faster than raw default encode)", "met": r["ratio_pipeline_vs_raw_st"] > 1}
        if r.get("fp32_pipeline"):
            f = r["fp32_pipeline"]
            v["ingest_ratio_fp32"] = {"value": f["ratio_pipeline_vs_raw_st"], "target": f">= {TARGETS['ingest_ratio_min']} (pipeline with fp32 encode, as raw)",
                                      "met": f["ratio_pipeline_vs_raw_st"] >= TARGETS["ingest_ratio_min"]}
        if r.get("pipeline_overhead_share") is not None:
            v["ingest_overhead_share"] = {"value": r["pipeline_overhead_share"], "target": f"<= {round(1 - TARGETS['ingest_ratio_min'], 2)} (non-embedding share of the pipeline)",
                                          "met": r["pipeline_overhead_share"] <= round(1 - TARGETS["ingest_ratio_min"], 2) + 1e-9}
    re_ = results.get("reingest")
    if re_ and re_.get("share") is not None:
        v["reingest_share"] = {"value": re_["share"], "target": f"<= {TARGETS['reingest_share_max']}", "met": re_["share"] <= TARGETS["reingest_share_max"]}
    big = _largest(results)
    if big and big.get("latency"):
        lat = big["latency"]
        v["fused_p50_ms"] = {"value": lat["fused"]["p50_ms"], "at_chunks": big["index_chunks"], "target": "<= 50 at 20k", "met": lat["fused"]["p50_ms"] <= TARGETS["fused_p50_ms_max_at_20k"]}
        v["answer_p50_ms"] = {"value": lat["answer"]["p50_ms"], "at_chunks": big["index_chunks"], "target": "<= 300 at 20k", "met": lat["answer"]["p50_ms"] <= TARGETS["answer_p50_ms_max_at_20k"]}
    st = results.get("store")
    if st and st.get("sizes"):
        size = max(st["sizes"], key=int)
        used = {k: x for k, x in st["sizes"][size].items() if k not in ("chroma_article_filter", "chroma_date_filter")}
        worst = max(x["p50_ms"] for x in used.values())
        v["store_p50_ms"] = {"value": worst, "at_rows": int(size), "target": "<= 100 at 500k (worst query kind Engine uses)", "met": worst <= TARGETS["store_p50_ms_max_at_500k"]}
    peaks = [(results.get("ingest") or {}).get("peak_rss_gb")] + [c.get("query_peak_gb") for c in (results.get("checkpoints") or {}).values()]
    peaks = [p for p in peaks if p]
    if peaks:
        v["peak_rss_gb"] = {"value": max(peaks), "target": "<= 2.5", "met": max(peaks) <= TARGETS["peak_rss_gb_max"]}
    art = _largest(results, "articles")
    if art:
        q = art["quality"]
        v["hit_at_5_distracted"] = {"value": q["hit_at_5"], "at_articles": art["scale_articles"], "target": ">= 0.9 at 5k articles", "met": (q["hit_at_5"] or 0) >= TARGETS["hit_at_5_min_at_5k_articles"]}
    return v


def format_table(results: dict) -> str:
    lines = []
    m = results.get("machine", {})
    lines.append(f"machine: {m.get('cpus')} CPUs ({m.get('cpu', '')}), {m.get('mem_gb')} GB, torch {m.get('torch')} threads {m.get('torch_threads')}, "
                 f"encode {m.get('embed_backend')} {m.get('embed_precision')} (native bf16: {m.get('native_bf16')})")
    enc = results.get("encoders")
    if enc:
        lines.append("\nencoders (same texts, best of 2 interleaved rounds; speed relative to default):")
        lines.append(f"  {'candidate':<46}{'texts/s':>9}{'speed':>8}{'cos mean':>10}{'cos min':>9}{'hit@5':>7}{'MRR':>7}")
        for name, r in enc["candidates"].items():
            q = r.get("retrieval") or {}
            lines.append(f"  {name:<46}{r['texts_per_s']:>9}{r['speed_vs_default']:>8}{r['cosine_mean']:>10}{r['cosine_min']:>9}{_f(q.get('hit_at_5')):>7}{_f(q.get('mrr')):>7}")
        lines.append(f"  fastest that keeps quality: {enc.get('fastest_quality_preserving')}   (encode() sorts a whole call by length: {enc.get('st_sorts_whole_call')})")
    ing = results.get("ingest")
    if ing:
        lines.append("\ningest stages:")
        for s in ing["stages"]:
            lines.append(f"  {s['stage']:<26} {s['chunks']:>6} chunks {s['seconds']:>8} s  {s['chunks_per_s']} chunks/s  {s['tokens_per_s']} tokens/s  peak RSS {s.get('ingest_peak_gb')} GB")
        r = ing.get("ratio")
        if r:
            lines.append(f"  pipeline vs raw SentenceTransformer.encode (fp32) of the same {r['texts']} texts: {r['ratio_pipeline_vs_raw_st']}  "
                         f"(vs Assay's own encode, {r.get('precision', '?')}: {r['ratio_pipeline_vs_configured_encode']}; embedding is {r['pipeline_embed_share']:.0%} of the pipeline)")
            f = r.get("fp32_pipeline")
            if f:
                lines.append(f"  the same stage with fp32 encode (as raw): pipeline vs raw {f['ratio_pipeline_vs_raw_st']}; embedding is {1 - f['pipeline_overhead_share']:.0%} of the pipeline")
    re_ = results.get("reingest")
    if re_:
        lines.append(f"\nre-ingest unchanged: {re_['seconds']} s of {re_['full_ingest_seconds']} s full ingest = {re_['share'] * 100:.2f}%")
    cps = results.get("checkpoints") or {}
    if cps:
        lines.append("\ncheckpoints (latency ms p50/p95; cold query embedding):")
        lines.append(f"  {'checkpoint':<16}{'chunks':>7}{'articles':>9}{'hit@5':>7}{'MRR':>7}  {'embed q':>12}{'dense':>12}{'lexical':>12}{'fused':>12}{'answer':>13}")
        for key, c in cps.items():
            lat = c.get("latency") or {}

            def cell(k):
                x = lat.get(k)
                return f"{x['p50_ms']:.0f}/{x['p95_ms']:.0f}" if x else "–"

            lines.append(f"  {key:<16}{c['index_chunks']:>7}{c['scale_articles']:>9}{_f(c['quality']['hit_at_5']):>7}{_f(c['quality']['mrr']):>7}  "
                         f"{cell('embed_query'):>12}{cell('dense'):>12}{cell('lexical'):>12}{cell('fused'):>12}{cell('answer'):>13}")
    st = results.get("store")
    if st:
        lines.append("\nstore only (synthetic 384-d vectors + real-vocabulary text), ms p50/p95:")
        kinds = ["chroma", "chroma_article_filter", "chroma_article_filter_fixed", "chroma_date_filter", "chroma_date_filter_fixed", "bm25", "bm25_article_filter", "bm25_date_filter"]
        lines.append("  (*_fixed = the same filtered query through app.retrieve.filtered_query, used by Engine.dense)")
        lines.append(f"  {'rows':>8}" + "".join(f"{k.replace('chroma_', 'c_').replace('_filter', '_f'):>16}" for k in kinds))
        for size, rec in st["sizes"].items():
            lines.append(f"  {size:>8}" + "".join(f"{(str(rec[k]['p50_ms']) + '/' + str(rec[k]['p95_ms'])) if k in rec else '–':>16}" for k in kinds))
        for b in st["build"]:
            lines.append(f"  build {b['size']}: chroma add {b['chroma_add_seconds']} s, bm25 {b['bm25_build_seconds']} s")
        if st.get("skipped"):
            lines.append(f"  skipped {st['skipped']['size']}: {st['skipped']['reason']}")
    ch = results.get("chat")
    if ch:
        lines.append(f"\nchat: first page {ch.get('startup_to_first_page_s')} s, first answer {ch.get('first_answer_s')} s, second {ch.get('second_answer_s')} s {ch.get('error') or ch.get('answer_error') or ''}")
    v = results.get("verdict") or {}
    if v:
        lines.append("\ntargets:")
        for k, x in v.items():
            lines.append(f"  {'MET    ' if x['met'] else 'NOT MET'} {k}: {x['value']} (target {x['target']})")
    return "\n".join(lines)


def _f(v):
    return "–" if v is None else f"{v:.3f}"


def main(argv: list[str] | None = None) -> int:
    from .cli import bench_cmd

    return bench_cmd.main(args=argv, prog_name="python -m assay.eval.bench", standalone_mode=True) or 0


if __name__ == "__main__":
    sys.exit(main())
