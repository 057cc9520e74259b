"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused by reciprocal rank, de-duplicated."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..ingest.config import Settings
from ..ingest.index import Index, date_int, unpack_vectors
from ..ingest.nlp import unpack

from .schema import Passage

RRF_K = 60
_SPECIFIC = re.compile(r"\d|\b[A-Z][a-z]*[A-Z]\w*|\b[A-Z]{2,}\b|(?<!^)(?<![.?!] )\b[A-Z][a-z]+")
_WORDS = re.compile(r"\w+")


MAX_FILTER_ARTICLES = 1000


@dataclass
class Filters:
    articles: list[str] | None = None  # article ids to search in
    since: str | None = None  # YYYY-MM-DD, inclusive
    until: str | None = None

    @classmethod
    def parse(cls, articles=None, since=None, until=None) -> "Filters | None":
        """Filters from user input (CLI flags, API fields), None when there are none. Raises
        InputRefused naming the field for a value that is not a real date (YYYY, YYYY-MM or YYYY-MM-DD)."""
        from .limits import InputRefused

        for label, v in (("since", since), ("until", until)):
            if v is not None and not isinstance(v, str):
                raise InputRefused(f"“{label}” must be a date string (YYYY, YYYY-MM or YYYY-MM-DD), not {type(v).__name__}")
            if v and v.strip() and not _real_date(v.strip()):
                raise InputRefused(f"“{v.strip()[:40]}” is not a date for “{label}” — use YYYY, YYYY-MM or YYYY-MM-DD")
        if articles is not None and not isinstance(articles, (list, tuple)):
            raise InputRefused("“articles” must be a list of article ids")
        if articles and (len(articles) > MAX_FILTER_ARTICLES or not all(isinstance(a, str) for a in articles)):
            raise InputRefused(f"“articles” must be at most {MAX_FILTER_ARTICLES:,} article ids (strings)")
        arts = [a for a in (articles or []) if a]
        since, until = (since or "").strip() or None, (until or "").strip() or None
        if since and until and date_int(since) > _end_of(until):
            raise InputRefused(f"“since” {since} is after “until” {until}")
        return cls(arts or None, since, until) if (arts or since or until) else None

    def chroma_where(self) -> dict | None:
        clauses = []
        if self.articles:
            clauses.append({"article_id": {"$in": list(self.articles)}})
        if self.since:
            clauses.append({"published_int": {"$gte": date_int(self.since)}})
        if self.until:
            clauses.append({"published_int": {"$lte": _end_of(self.until)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def bounds(self) -> tuple[int | None, int | None]:
        return (date_int(self.since) or None, _end_of(self.until) if self.until else None)


def _real_date(v: str) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD naming a day that exists (no 2025-13-45, no 2025-02-30)."""
    import datetime
    import re

    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", v)
    if not m:
        return False
    try:
        datetime.date(int(m[1]), int(m[2] or 1), int(m[3] or 1))
    except ValueError:
        return False
    return True


def _end_of(day: str) -> int:
    """Inclusive upper bound: "2024" -> 20241299, "2024-06" -> 20240699."""
    n = date_int(day)
    digits = day.replace("-", "")
    if len(digits) <= 4:
        return n + 1299
    if len(digits) <= 6:
        return n + 99
    return n


def _passage(cid: str, doc: str, meta: dict) -> Passage:
    return Passage(
        chunk_id=cid,
        article_id=meta.get("article_id", ""),
        text=doc,
        char_start=int(meta.get("char_start", 0)),
        char_end=int(meta.get("char_end", 0)),
        title=meta.get("title", ""),
        heading=meta.get("heading", ""),
        published=meta.get("published", ""),
        publisher=meta.get("publisher", ""),
        source_url=meta.get("source_url", ""),
        author=meta.get("author", ""),
        uploaded=meta.get("uploaded", ""),
        ents=unpack(meta.get("ents")),
        furniture=_spans(meta.get("furniture")),
    )


def next_chunk_id(chunk_id: str) -> str | None:
    """The id of the article's next chunk: chunk ids end in their index in the article ("…-0006")."""
    stem, _, index = chunk_id.rpartition("-")
    return f"{stem}-{int(index) + 1:0{len(index)}d}" if stem and index.isdigit() else None


def _spans(value: str | None) -> list[tuple[int, int]]:
    """"12-40;90-120" (article offsets, as the index stores them) -> [(12, 40), (90, 120)]."""
    if not value:
        return []
    return [tuple(int(x) for x in part.split("-", 1)) for part in value.split(";")]


def _shingles(text: str) -> set:
    words = _WORDS.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


PREFILTER_MAX = 4000  # a filter matching at most this many chunks is scored exactly, in numpy
OVERFETCH_MAX = 1000  # a broader filter over-fetches up to this many unfiltered hits, then filters


def filtered_query(col, qv: np.ndarray, n: int, where: dict, lex, mask: np.ndarray, include: list[str]) -> dict:
    """Dense top-n under a filter without Chroma's filtered search (slow on large collections).

    The filter is evaluated on the lexical index's in-memory metadata (same chunks, same fields):
    a small matching set is fetched by id and scored exactly; a broad one is served by an
    unfiltered query over-fetched by 1/selectivity and filtered here; if that does not yield
    n hits, Chroma's own filtered query answers. Returns Chroma's query() layout for one query.
    """
    rows = np.flatnonzero(mask)
    qv = np.asarray(qv, dtype=np.float32)
    qlist = qv.tolist()
    empty = {"ids": [[]], "documents": [[]], "metadatas": [[]], "distances": [[]]}
    if len(rows) == 0:
        return empty
    if len(rows) <= PREFILTER_MAX:
        ids = [lex.ids[i] for i in rows]
        got = col.get(ids=ids, include=["embeddings"])
        if len(got["ids"]) == len(ids):
            vecs = np.asarray(got["embeddings"], dtype=np.float32)
            sims = vecs @ qv
            top = np.argsort(-sims, kind="stable")[:n]
            return _fill(col, [got["ids"][i] for i in top], [1.0 - float(sims[i]) for i in top], include)
    else:
        share = len(rows) / max(1, len(mask))
        fetch = int(n / share * 2) + n
        if fetch <= OVERFETCH_MAX:
            res = col.query(query_embeddings=[qlist], n_results=min(fetch, len(mask)), include=["distances"])
            keep = [(cid, d) for cid, d in zip(res["ids"][0], res["distances"][0]) if (r := lex.row_of.get(cid)) is not None and mask[r]]
            if len(keep) >= n:
                keep = keep[:n]
                return _fill(col, [c for c, _ in keep], [d for _, d in keep], include)
    return col.query(query_embeddings=[qlist], n_results=n, where=where, include=include)


def _fill(col, ids: list[str], distances: list[float], include: list[str]) -> dict:
    want = [x for x in include if x in ("documents", "metadatas")]
    got = col.get(ids=ids, include=want) if want else {"ids": ids}
    at = {cid: i for i, cid in enumerate(got["ids"])}
    out = {"ids": [ids], "distances": [distances]}
    for key in want:
        out[key] = [[got[key][at[cid]] for cid in ids]]
    return out


class Engine:
    """One per process: the index, the model, caches. Safe to share between threads for reading."""

    def __init__(self, settings: Settings | None = None, index: Index | None = None, encoder=None):
        from ..ingest.embed import Encoder  # cheap: the model loads on the first encode

        self.settings = settings or Settings.from_env()
        self.index = index or Index(self.settings)
        self.encoder = encoder or Encoder.for_settings(self.settings, queries=True)
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._scache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._late: OrderedDict[str, str] = OrderedDict()  # chunk id -> its stored sentence vectors (ids change with content)
        self._lock = threading.Lock()

    # -- embeddings with small LRU caches (queries and answer sentences repeat a lot) ------
    def embed(self, texts: list[str], cache: str = "s") -> np.ndarray:
        store = self._qcache if cache == "q" else self._scache
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in store]
        if missing:
            vecs = self.encoder.encode(missing)
            with self._lock:
                for t, v in zip(missing, vecs):
                    store[t] = v
                while len(store) > 20000:
                    store.popitem(last=False)
        with self._lock:
            if texts:
                return np.stack([store[t] for t in texts])
        return np.zeros((0, self.encoder.dim), dtype=np.float32)

    def _passage(self, cid: str, doc: str, meta: dict) -> Passage:
        if meta.get("svec"):
            with self._lock:
                self._late[cid] = meta["svec"]
                while len(self._late) > 5000:
                    self._late.popitem(last=False)
        return _passage(cid, doc, meta)

    def following(self, p: Passage) -> Passage | None:
        """The chunk after `p` in its article (a list that runs past the end of `p` goes on there), or None."""
        cid = next_chunk_id(p.chunk_id)
        if cid is None:
            return None
        got = self.index.chunks.get(ids=[cid], include=["documents", "metadatas"])
        if not got["ids"] or got["metadatas"][0].get("article_id") != p.article_id:
            return None
        return self._passage(cid, got["documents"][0], got["metadatas"][0])

    def sentence_vectors(self, chunk_id: str) -> np.ndarray | None:
        """The chunk's sentence vectors computed at ingest (one per sentence_spans(text)), or None."""
        with self._lock:
            value = self._late.get(chunk_id)
        return unpack_vectors(value, self.encoder.dim) if value else None

    # -- the two sides ---------------------------------------------------------------------
    def dense(self, query: str, n: int, filters: Filters | None = None) -> list[tuple[Passage, float]]:
        qv = self.embed([query], cache="q")[0]
        col = self.index.chunks
        count = col.count()
        if count == 0:
            return []
        where = filters.chroma_where() if filters else None
        include = ["documents", "metadatas", "distances"]
        if where is not None:  # Chroma's filtered search is slow on large collections: see filtered_query
            lex = self.index.lexical()
            since, until = filters.bounds()
            res = filtered_query(col, qv, min(n, count), where, lex, lex.mask(filters.articles, since, until), include)
        else:
            res = col.query(query_embeddings=[qv.tolist()], n_results=min(n, count), include=include)
        return [
            (self._passage(cid, doc, meta), 1.0 - float(dist))
            for cid, doc, meta, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])
        ]

    def lexical(self, query: str, n: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        if self.index.server_bm25():  # a Chroma server with its own sparse BM25 index (ASSAY_LEXICAL)
            return self.index.server_lexical(query, n, filters.chroma_where() if filters else None)
        lex = self.index.lexical()
        mask = None
        if filters:
            since, until = filters.bounds()
            mask = lex.mask(filters.articles, since, until)
        return [(lex.ids[h.row], h.score) for h in lex.search(query, n, mask)]

    # -- fused -------------------------------------------------------------------------------
    def retrieve(self, query: str, k: int = 6, filters: Filters | None = None, fetch: int = 30, timings: dict | None = None) -> list[Passage]:
        """Top-k passages for `query`: RRF of dense and BM25, near-duplicates collapsed, articles mixed."""
        t0 = time.perf_counter()
        if self.index.chunks.count() == 0:  # no index: say so before the model is loaded
            return []
        dense = self.dense(query, fetch, filters)
        t1 = time.perf_counter()
        lexical = self.lexical(query, fetch, filters)
        t2 = time.perf_counter()
        by_id: dict[str, Passage] = {p.chunk_id: p for p, _ in dense}
        fused: dict[str, float] = {}
        # Reciprocal-rank fusion, scaled by each hit's score relative to its side's best, so that
        # a standout exact match (a rare name or number) is not outvoted by mediocre consensus.
        top = max((sc for _p, sc in dense), default=1.0) or 1.0
        for rank, (p, sc) in enumerate(dense, 1):
            p.dense_rank = rank
            fused[p.chunk_id] = fused.get(p.chunk_id, 0.0) + (1.0 + max(sc, 0.0) / top) / (RRF_K + rank)
        # Names and numbers are where embeddings are weakest: trust the exact-term side more then.
        lex_weight = 2.0 if _SPECIFIC.search(query) else 1.0
        lex_rank = {}
        top = max((sc for _c, sc in lexical), default=1.0) or 1.0
        for rank, (cid, sc) in enumerate(lexical, 1):
            lex_rank[cid] = rank
            fused[cid] = fused.get(cid, 0.0) + lex_weight * (1.0 + sc / top) / (RRF_K + rank)
        missing = [cid for cid in lex_rank if cid not in by_id]
        if missing:
            got = self.index.chunks.get(ids=missing, include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                by_id[cid] = self._passage(cid, doc, meta)
        for cid, rank in lex_rank.items():
            if cid in by_id:
                by_id[cid].lexical_rank = rank
        ranked = sorted((c for c in fused if c in by_id), key=lambda c: -fused[c])
        out = self._diversify([by_id[c] for c in ranked], fused, k)
        # Each side's best hit always gets a slot: an exact match on a rare name or number that
        # the embedding misses must not be outvoted by passages both sides find mediocre.
        musts = [m for m in (dense[0][0].chunk_id if dense else None, lexical[0][0] if lexical else None) if m in by_id]
        for must in musts:
            if any(p.chunk_id == must for p in out):
                continue
            by_id[must].score = fused[must]
            if len(out) < k:
                out.append(by_id[must])
            else:  # take the place of the lowest-ranked passage that is not itself guaranteed
                free = [i for i, p in enumerate(out) if p.chunk_id not in musts]
                if free:
                    out[free[-1]] = by_id[must]
        if timings is not None:
            timings["dense"] = t1 - t0
            timings["lexical"] = t2 - t1
            timings["retrieve"] = time.perf_counter() - t0
        return out

    @staticmethod
    def _diversify(candidates: list[Passage], fused: dict[str, float], k: int) -> list[Passage]:
        """Drop near-duplicates (same sentences in two places); nudge repeats of one article down."""
        chosen: list[Passage] = []
        shingles: list[set] = []
        per_article: dict[str, int] = {}
        pool = list(candidates)
        while pool and len(chosen) < k:
            best, best_score = None, -1.0
            for p in pool[: 3 * k]:
                score = fused[p.chunk_id] * (0.9 ** per_article.get(p.article_id, 0))
                if score > best_score:
                    best, best_score = p, score
            pool.remove(best)
            sh = _shingles(best.text)
            if any(len(sh & o) / max(1, min(len(sh), len(o))) > 0.8 for o in shingles):
                continue
            best.score = best_score
            chosen.append(best)
            shingles.append(sh)
            per_article[best.article_id] = per_article.get(best.article_id, 0) + 1
        return chosen
