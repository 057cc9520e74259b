"""Phase `growth`: the real pipeline on a growing index (bundled corpus + corpus-scale articles):
ingest speed against raw encode of exactly the same chunk texts, re-ingest, latency and retrieval
quality at each checkpoint."""

from __future__ import annotations

import gc
import random
import shutil
import time
from pathlib import Path

from .common import bar, bundled, reset_peak_rss, retrieval_quality, rnd, rss_gb, scale_files, scratch, summary_ms


def make_questions(engine, eval_qs, n: int, seed: int = 11) -> list[str]:
    """Questions from the indexed text: sentences (8-30 words) and titles of random chunks, plus the eval set."""
    from ...ingest.split import sentence_spans

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
    from ...app.answer import answer

    engine.index.lexical()  # loaded once, as a running server has it
    engine.embed(["warm up"], cache="q")
    times = {"embed_query": [], "dense": [], "lexical": [], "fused": [], "answer": []}
    prof = None
    if profile_to is not None:
        import cProfile

        prof = cProfile.Profile()
    progress_bar = bar(len(questions), f"latency {label}", progress)
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
        progress_bar.update(1)
    progress_bar.close()
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
    from ...app.retrieve import Engine
    from ...ingest.index import Index
    from ...ingest.embed import Encoder, load_model
    from ...ingest.pipeline import Ingestor, flush_chunks

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
               "chunks_per_s": rnd(s.chunks_written / s.seconds if s.seconds else None),
               "tokens_per_s": rnd(s.tokens_embedded / s.seconds if s.seconds else None),
               "index_chunks": index.chunks.count(), **{f"ingest_{k}": v for k, v in rss_gb().items()}}
        total_ingest += s.seconds
        if measure_ratio and ing.record_texts:
            texts = ing.record_texts
            ing.record_texts = None
            st = load_model(settings.model)
            step = flush_chunks(settings)  # same flush size and batch size as the pipeline; one encode() per flush

            def raw_st() -> float:  # plain SentenceTransformer.encode: float32, no autocast
                t = time.perf_counter()
                progress_bar = bar(len(texts), "raw encode (same texts)", progress)
                for i in range(0, len(texts), step):
                    st.encode(texts[i : i + step], batch_size=settings.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
                    progress_bar.update(min(step, len(texts) - i))
                progress_bar.close()
                return time.perf_counter() - t

            raw_a = raw_st()
            t = time.perf_counter()
            for i in range(0, len(texts), step):
                ing.encoder.encode(texts[i : i + step])
            raw_cfg = time.perf_counter() - t
            raw_b = raw_st()  # before and after: the machine's load drifts during a long stage
            raw = (raw_a + raw_b) / 2
            same = None
            if ing.encoder.precision != "fp32":  # the pipeline's own overhead at the raw encode's settings
                fp32 = Encoder(settings.model, settings.batch_size, ing.encoder.backend, "fp32", settings.onnx_dir)
                s32 = Ingestor(scratch(settings, work, "ratio-fp32"), encoder=fp32).run([folder], progress=progress)
                raw_c = raw_st()
                same = {"seconds": round(s32.seconds, 2), "embed_seconds": round(s32.embed_seconds, 2),
                        "st_encode_seconds_after": round(raw_c, 2),
                        "ratio_pipeline_vs_raw_st": round(((raw + raw_c) / 2) / s32.seconds, 3),
                        "pipeline_overhead_share": round(1 - s32.embed_seconds / s32.seconds, 3)}
            rec["raw"] = {"texts": len(texts), "identical_texts": len(texts) == s.chunks_written,
                          "st_encode_seconds": round(raw, 2), "st_encode_runs": [round(raw_a, 2), round(raw_b, 2)],
                          "st_chunks_per_s": rnd(len(texts) / raw), "precision": ing.encoder.precision,
                          "st_tokens_per_s": rnd(s.tokens_embedded / raw),
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


