"""The incremental lexical index: after any sequence of adds, edits and deletes it scores exactly
as a full rebuild; deleted articles stop matching at once; a reader applies only what changed
(from the change log), embedded and against a real `chroma run`; the server-BM25 switch falls
back to the local cache when the server has no sparse index."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import numpy as np
import pytest

from assay.ingest.article import Article
from assay.ingest.config import Settings
from assay.ingest.index import Index, IndexMismatch
from assay.ingest.lexical import ArticleText, ChunkText, LexicalIndex, tokenize
from assay.ingest.split import Chunk
from tests.conftest import ROOT

QUERIES = ["rare earth magnets", "Department of Defense price floor", "China export controls gallium", "Australia critical minerals",
           "processing plant Texas", "neodymium praseodymium oxide", "recycling", "tariff 2025", "Lynas MP Materials", "zorbium"]


def paragraphs() -> list[str]:
    """Real prose: the bundled corpus's paragraphs."""
    out = []
    for p in sorted((ROOT / "corpus").glob("*")):
        if p.suffix in (".md", ".txt"):
            out += [x.strip() for x in p.read_text(encoding="utf-8").split("\n\n") if len(x.split()) >= 12]
    return out


def reference_bm25(docs: dict[str, str], query: str, k1: float = 1.5, b: float = 0.75) -> dict[str, float]:
    """Textbook Lucene BM25 over `docs`, computed directly (no index)."""
    toks = {cid: tokenize(t) for cid, t in docs.items()}
    n = len(toks)
    avgdl = sum(map(len, toks.values())) / n
    out = {cid: 0.0 for cid in toks}
    for term in tokenize(query):
        df = sum(term in t for t in toks.values())
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for cid, t in toks.items():
            tf = t.count(term)
            out[cid] += idf * tf / (tf + k1 * (1 - b + b * len(t) / avgdl))
    return {cid: s for cid, s in out.items() if s > 0}


def scores(lex: LexicalIndex, query: str) -> dict[str, float]:
    return {lex.ids[h.row]: h.score for h in lex.search(query, 10_000)}


def assert_same(a: LexicalIndex, b: LexicalIndex, what: str) -> None:
    assert sorted(a.chunk_ids()) == sorted(b.chunk_ids()), f"{what}: different live chunks"
    assert a.n_docs == b.n_docs and a.total_len == b.total_len, what
    for q in QUERIES:
        sa, sb = scores(a, q), scores(b, q)
        assert sa.keys() == sb.keys(), f"{what}: {q!r} matches different chunks"
        for cid in sa:
            assert sa[cid] == pytest.approx(sb[cid], rel=1e-5, abs=1e-6), f"{what}: {q!r} scores {cid} differently"
        for t in tokenize(q):
            assert a.idf(t) == pytest.approx(b.idf(t), rel=1e-9), f"{what}: idf({t})"
    assert dict(a.entities) == dict(b.entities), f"{what}: entity vocabulary"
    assert dict(a.capitals) == dict(b.capitals), f"{what}: capitalisation statistics"
    assert dict(a.words) == dict(b.words), f"{what}: speller vocabulary"


# -- the index on its own (fast) --------------------------------------------------------------

def test_scores_are_textbook_bm25():
    paras = paragraphs()[:60]
    docs = {f"c{i}": t for i, t in enumerate(paras)}
    lex = LexicalIndex.build([ArticleText(f"a{i // 3}", "h", [ChunkText(cid, t, t)]) for i, (cid, t) in enumerate(docs.items())])
    for q in QUERIES:
        want = reference_bm25(docs, q)
        got = scores(lex, q)
        assert got.keys() == want.keys(), q
        for cid in want:
            assert got[cid] == pytest.approx(want[cid], rel=1e-5), (q, cid)


def _article(rng: random.Random, paras: list[str], aid: str, version: int) -> ArticleText:
    chunks = []
    for j in range(rng.randint(0, 4)):  # an article may have no chunks at all
        body = rng.choice(paras)
        words = [(m.start(), m.end()) for m in re.finditer(r"[A-Z][a-z]+", body)][:3]
        ents = tuple((a, b, rng.choice(["ORG", "GPE", "PERSON"])) for a, b in words)
        chunks.append(ChunkText(f"{aid}-v{version}-{j}", f"Title {aid} {body}", body, rng.choice([0, 20250101, 20251111]), ents))
    return ArticleText(aid, f"{aid}-{version}", chunks)


def test_random_updates_equal_a_full_rebuild(tmp_path):
    """200 random adds, edits and deletes applied one at a time (segments, tombstones, merges,
    saves and reloads along the way) against a full build of the same final articles."""
    rng = random.Random(7)
    paras = paragraphs()
    live: dict[str, ArticleText] = {}
    lex = LexicalIndex()
    version = 0
    for step in range(200):
        version += 1
        op = rng.random()
        if live and op < 0.25:
            aid = rng.choice(sorted(live))
            del live[aid]
            lex.apply([aid], [])
        else:
            aid = rng.choice(sorted(live)) if live and op < 0.55 else f"art{step}"
            live[aid] = _article(rng, paras, aid, version)
            lex.apply([], [live[aid]])
        if step % 37 == 0:  # persist and continue from disk, as another ingest run would
            lex.save(tmp_path / "lex")
            lex = LexicalIndex.load(tmp_path / "lex")
            assert lex is not None
        if step % 50 == 49:
            assert_same(lex, LexicalIndex.build(list(live.values())), f"after step {step}")
    assert len(lex.segments) <= 2 + int(math.log2(max(2, lex.n_docs))), f"{len(lex.segments)} segments: merging does not keep up"
    lex.save(tmp_path / "lex")
    assert_same(LexicalIndex.load(tmp_path / "lex"), LexicalIndex.build(list(live.values())), "reloaded")
    # what is on disk is only what the state names (old segments and tombstone files removed)
    names = {p.name for p in (tmp_path / "lex").iterdir()}
    assert sum(n.startswith("seg-") for n in names) == len(lex.segments)


def test_deleted_article_stops_matching_at_once():
    a = ArticleText("a", "1", [ChunkText("a-0", "Zorbium Quillmark refinery opens", "Zorbium Quillmark refinery opens")])
    b = ArticleText("b", "1", [ChunkText("b-0", "Magnet plant in Texas", "Magnet plant in Texas")])
    lex = LexicalIndex.build([a, b])
    assert [lex.ids[h.row] for h in lex.search("zorbium", 5)] == ["a-0"]
    lex.apply(["a"], [])
    assert lex.search("zorbium", 5) == [] and "zorbium" not in lex
    assert "zorbium" not in lex.words and lex.entity_label("Zorbium") is None
    assert lex.mask(["a"]) is not None and not lex.mask(["a"]).any()


# -- through the Chroma collections and their change log ----------------------------------------

def _write(index: Index, rng: random.Random, paras: list[str], aid: str, version: int) -> None:
    text = "\n\n".join(rng.sample(paras, rng.randint(1, 4))) + f"\n\nrevision {version}"
    art = Article(id=aid, path=f"/corpus/{aid}", text=text, blocks=[], meta={"title": f"Report {aid}", "published": "2025-03-04"})
    parts = text.split("\n\n")
    chunks, spans, at = [], [], 0
    for j, part in enumerate(parts):
        chunks.append(Chunk(id=f"{aid}#{art.content_hash[:10]}-{j}", article_id=aid, index=j, text=part, start=at, end=at + len(part),
                            heading="", embed_text=part, n_tokens=len(part.split())))
        spans.append([(m.start(), m.end(), "ORG") for m in re.finditer(r"[A-Z][a-z]{3,}", part)][:4])
        at += len(part) + 2
    vecs = np.random.default_rng(version).standard_normal((len(chunks), 8)).astype(np.float32)
    index.write_articles([(art, chunks, vecs, {"size": len(text), "mtime_ns": version}, spans)])


def _random_history(writer: Index, reader: Index, steps: int, seed: int) -> None:
    rng = random.Random(seed)
    paras = paragraphs()
    live: list[str] = []
    fetched: list[list[str]] = []
    real_texts = reader._article_texts
    reader._article_texts = lambda records: (fetched.append(sorted(records)), real_texts(records))[1]
    rebuilt = []
    real_build = reader._build_lexical
    reader._build_lexical = lambda: (rebuilt.append(1), real_build())[1]
    with writer.writer():
        for aid in ("seed-a", "seed-b", "seed-c"):
            _write(writer, rng, paras, aid, 0)
            live.append(aid)
    writer.lexical()
    reader.lexical()
    rebuilt.clear()
    for step in range(1, steps + 1):
        op = rng.random()
        changed: list[str] = []
        with writer.writer():
            if live and op < 0.3:
                aid = live.pop(rng.randrange(len(live)))
                writer.delete_article(aid)
            else:
                aid = rng.choice(live) if live and op < 0.6 else f"new-{step}"
                _write(writer, rng, paras, aid, step)
                if aid not in live:
                    live.append(aid)
                changed = [aid]
        fetched.clear()
        lex = reader.lexical()
        assert not rebuilt, f"step {step}: the reader rebuilt instead of applying the change"
        assert fetched in ([], [changed]), f"step {step}: the reader fetched {fetched}, not just {changed}"
        if step % 5 == 0 or step == steps:
            assert_same(lex, writer._build_lexical(), f"step {step}, reader")
            assert_same(writer.lexical(), lex, f"step {step}, writer")
            assert sorted(lex.at) == sorted(live)


def test_change_log_sync_equals_rebuild_embedded(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", stale_check_seconds=0)
    writer = Index(settings).create()
    reader = Index(settings)  # another process's view: it sees the writes through the generation file
    _random_history(writer, reader, steps=20, seed=3)
    # a new process loads the saved copy and applies nothing
    fresh = Index(settings)
    fresh._build_lexical = lambda: pytest.fail("rebuilt although the saved copy is current")
    assert_same(fresh.lexical(), writer._build_lexical(), "fresh process")


def test_change_log_sync_equals_rebuild_against_chroma_server(tmp_path):
    from tests.test_server_mode import start_chroma, stop
    from tests.conftest import free_port

    port = free_port()
    proc = start_chroma(tmp_path / "data", port)
    try:
        url = f"http://127.0.0.1:{port}"
        writer = Index(Settings(chroma_url=url, collection="lexsync", cache_dir=tmp_path / "cache-w", stale_check_seconds=0)).create()
        reader = Index(Settings(chroma_url=url, collection="lexsync", cache_dir=tmp_path / "cache-r", stale_check_seconds=0))
        _random_history(writer, reader, steps=12, seed=11)
        assert not reader.server_bm25(), "chroma run has no sparse index: the local cache must answer"
    finally:
        stop(proc)


def test_server_bm25_switch_falls_back_on_chroma_run(tmp_path):
    """auto: feature detection finds no sparse index on `chroma run` and serves BM25 from the local
    cache; server: a clear refusal naming the setting."""
    from tests.conftest import free_port
    from tests.test_server_mode import start_chroma, stop

    port = free_port()
    proc = start_chroma(tmp_path / "data", port)
    try:
        url = f"http://127.0.0.1:{port}"
        auto = Index(Settings(chroma_url=url, collection="switch", cache_dir=tmp_path / "cache"))
        assert auto._server_has_sparse() is False
        auto.create()
        with auto.writer():
            _write(auto, random.Random(1), paragraphs(), "only", 1)
        assert auto.server_bm25() is False
        assert auto.lexical().n_docs == auto.chunks.count() > 0
        assert "probe" not in " ".join(auto._names()), "the probe collection was left behind"
        strict = Index(Settings(chroma_url=url, collection="switch", cache_dir=tmp_path / "cache", lexical="server"))
        with pytest.raises(IndexMismatch, match="ASSAY_LEXICAL"):
            strict.server_bm25()
    finally:
        stop(proc)


def test_embedded_index_never_uses_server_bm25(tmp_path):
    index = Index(Settings(index_dir=tmp_path / "index", lexical="auto")).create()
    assert index.server_bm25() is False and index._sparse_schema() == {}
    with pytest.raises(IndexMismatch, match="ASSAY_LEXICAL"):
        Index(Settings(index_dir=tmp_path / "index", lexical="server")).server_bm25()


def test_bad_lexical_setting_is_refused():
    with pytest.raises(ValueError, match="ASSAY_LEXICAL"):
        Settings(lexical="bm25")


def test_lexical_folder_holds_nothing_but_the_current_state(tmp_path: Path):
    settings = Settings(index_dir=tmp_path / "index", stale_check_seconds=0)
    index = Index(settings).create()
    rng = random.Random(2)
    for step in range(6):
        with index.writer():
            _write(index, rng, paragraphs(), f"a{step % 3}", step)
        index.lexical()
    folder = index.lexical_dir
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], "temporary files left behind"
    assert LexicalIndex.load(folder).seq >= max(int(r["assay_seq"]) for r in index.manifest().values())


def test_a_fiscal_year_written_fy2022_matches_fiscal_year_2022():
    from assay.ingest.lexical import tokenize

    assert "2022" in tokenize("How much was authorized for FY2022?")
    assert set(tokenize("FY2022")) <= set(tokenize("fiscal year 2022 (FY 2022)"))
