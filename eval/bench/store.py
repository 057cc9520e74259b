"""Phase `store`: Chroma + BM25 alone at synthetic sizes (real-vocabulary text, random vectors):
unfiltered, article-filtered and date-filtered queries, Chroma's own filter against Assay's."""

from __future__ import annotations

import gc
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

from .common import BUNDLED, bar, scale_files, summary_ms

DIM = 384  # synthetic vectors: the dimension of the default model (no model is loaded here)


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

    from ...ingest.lexical import LexicalIndex, tokenize

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
        progress_bar = bar(size - built, f"store build {size}", progress)
        t0 = time.perf_counter()
        while built < size:
            n = min(batch, size - built)
            vecs = rng.standard_normal((n, DIM)).astype(np.float32)
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
            progress_bar.update(n)
        progress_bar.close()
        dt = time.perf_counter() - t0
        t_build += dt
        t0 = time.perf_counter()
        lex = LexicalIndex.from_texts([f"c{i:07d}" for i in range(built)], texts, arts, pubs)
        lex_build = time.perf_counter() - t0
        out["build"].append({"size": size, "chroma_add_seconds": round(dt, 1), "bm25_build_seconds": round(lex_build, 1)})
        out["build"][-1].update(_lexical_update(lex, work / f"lexical-{size}", built // per_article, per_article, words, prng))
        u = out["build"][-1]
        u["speedup_vs_full_build"] = round(lex_build / max(u["lexical_cold_update_seconds"], 1e-6), 1)
        log(f"   store {size}: chroma add {dt:.0f} s, bm25 build {lex_build:.0f} s; 1 article changed: {u['lexical_update_seconds']:.3f} s "
            f"in process, {u['lexical_cold_update_seconds']:.3f} s loading the saved copy first (full build / cold update: {u['speedup_vs_full_build']}x)")
        out["sizes"][str(size)] = _store_queries(col, lex, tokenize, built, per_article, days, words, n_queries, progress, prng, rng)
        del lex
        gc.collect()
    return out


def _lexical_update(lex, folder: Path, n_articles: int, per_article: int, words: list[str], prng) -> dict:
    """One changed article on an index of this size: apply + save in the process that holds the
    index, and load + apply + save as a fresh `assay ingest` does; next to the full build."""
    from ...ingest.lexical import ArticleText, ChunkText, LexicalIndex

    def edited(version: int) -> ArticleText:
        aid = f"art{prng.randrange(n_articles):06d}"
        texts = [" ".join(prng.choices(words, k=prng.randint(60, 160))) + f" edition{version}marker" for _ in range(per_article)]
        return ArticleText(aid, f"v{version}", [ChunkText(f"{aid}-v{version}-{j}", t) for j, t in enumerate(texts)])

    t = time.perf_counter()
    lex.save(folder)
    full_save = time.perf_counter() - t
    t = time.perf_counter()
    lex.apply([], [edited(1)])
    lex.save(folder)
    warm = time.perf_counter() - t
    t = time.perf_counter()
    again = LexicalIndex.load(folder)
    loaded = time.perf_counter() - t
    again.apply([], [edited(2)])
    again.save(folder)
    cold = time.perf_counter() - t
    assert again.search("edition2marker", 5), "the changed article does not match after the update"
    return {"lexical_full_save_seconds": round(full_save, 2), "lexical_update_seconds": round(warm, 4), "lexical_load_seconds": round(loaded, 3),
            "lexical_cold_update_seconds": round(cold, 3), "segments_after": len(again.segments)}


def _store_queries(col, lex, tokenize, n_rows: int, per_article: int, days, words, n_queries: int, progress: bool, prng, rng) -> dict:
    from ...app.retrieve import Filters, filtered_query

    n_articles = n_rows // per_article
    since = days[int(len(days) * 0.8)]
    results: dict[str, list[float]] = {}

    def rec(name, fn):
        t = time.perf_counter()
        fn()
        results.setdefault(name, []).append(time.perf_counter() - t)

    include = ["documents", "metadatas", "distances"]
    progress_bar = bar(n_queries, f"store queries {n_rows}", progress)
    for _ in range(n_queries):
        base = col.get(ids=[f"c{prng.randrange(n_rows):07d}"], include=["embeddings"])["embeddings"][0]
        qv = np.asarray(base, dtype=np.float32) + 0.05 * rng.standard_normal(DIM).astype(np.float32)
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
        progress_bar.update(1)
    progress_bar.close()
    return {k: summary_ms(v) for k, v in results.items()}


def _server_client(url: str):
    from ...ingest.config import Settings
    from ...ingest.index import Index

    return Index(Settings(chroma_url=url)).client


def _drop_server_collections(url: str, prefix: str) -> None:
    from ...ingest.config import Settings
    from ...ingest.index import Index

    try:
        index = Index(Settings(chroma_url=url))
        for name in index._names():
            if name.startswith(prefix):
                index.client.delete_collection(name)
    except Exception as e:  # the results are saved already; say what is left behind
        print(f"bench: could not delete the {prefix}* collections on {url}: {e}", file=sys.stderr)


