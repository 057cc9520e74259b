"""The index contract: one Chroma collection of chunks, one of article records, a BM25 beside them.

Write order per article makes crashes harmless: chunks are upserted under ids derived from the
article's content hash, stale chunks of that article are deleted, and only then is the article
record (with its hash) written. A run killed anywhere leaves either the old record (so the next
run redoes the article) or the finished one; ids never collide, so nothing is duplicated.
"""

from __future__ import annotations

import hashlib
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .article import Article
from .config import Settings
from .lexical import LexicalIndex
from .split import Chunk


class IndexError_(RuntimeError):
    """Base for index problems; the message says what to do next."""


class IndexEmpty(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class IndexBusy(IndexError_):
    pass


def date_int(value: str | None) -> int:
    """"2025-11-12" -> 20251112, "2025-01" -> 20250100, else 0."""
    if not value:
        return 0
    digits = value.replace("-", "")[:8]
    if not digits.isdigit() or len(digits) < 4:
        return 0
    return int(digits.ljust(8, "0"))


def _chunk_meta(article: Article, chunk: Chunk) -> dict:
    meta = {k: v for k, v in article.meta.items() if v}
    meta.update(
        article_id=article.id,
        heading=chunk.heading,
        char_start=chunk.start,
        char_end=chunk.end,
        chunk_index=chunk.index,
        n_tokens=chunk.n_tokens,
        published_int=date_int(article.meta.get("published")),
    )
    return meta


@dataclass
class ArticleRecord:
    id: str
    meta: dict  # path, content_hash, size, mtime_ns, n_chunks and the article metadata


class Index:
    """Open (or create) the index described by `settings`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = None
        self._chunks = None
        self._articles = None
        self._lexical: LexicalIndex | None = None
        self._lexical_stamp: str | None = None
        self._lock = threading.RLock()

    # -- connection -------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return self.settings.chroma_url or str(self.settings.index_dir)

    @property
    def client(self):
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            if self.settings.chroma_url:
                url = urlparse(self.settings.chroma_url)
                self._client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                self.settings.index_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(self.settings.index_dir), settings=chroma_settings)
        return self._client

    def _open(self, create: bool) -> None:
        if self._chunks is not None:
            return
        name = self.settings.collection
        existing = {c if isinstance(c, str) else c.name for c in self.client.list_collections()}
        if name not in existing:
            if not create:
                raise IndexEmpty(
                    f"index is empty ({self.where}) — run `assay ingest corpus/` first"
                )
            self._chunks = self.client.create_collection(
                name,
                metadata=self.settings.build_signature(),
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        else:
            self._chunks = self.client.get_collection(name, embedding_function=None)
            self._check_signature(self._chunks.metadata or {})
        self._articles = self.client.get_or_create_collection(
            f"{name}__articles", metadata={"assay_role": "articles"}, embedding_function=None
        )

    def _check_signature(self, found: dict) -> None:
        wanted = self.settings.build_signature()
        diffs = [f"{k.removeprefix('assay_')}: index has {found.get(k)!r}, settings ask {v!r}" for k, v in wanted.items() if str(found.get(k)) != str(v)]
        if diffs:
            raise IndexMismatch(
                f"the index at {self.where} was built with different settings ({'; '.join(diffs)}). "
                "Rebuild it with `assay ingest corpus/ --rebuild`, or use another --index folder."
            )

    @property
    def chunks(self):
        self._open(create=False)
        return self._chunks

    @property
    def articles(self):
        self._open(create=False)
        return self._articles

    def create(self) -> "Index":
        self._open(create=True)
        return self

    def exists(self) -> bool:
        try:
            self._open(create=False)
            return True
        except IndexEmpty:
            return False

    def drop(self) -> None:
        """Delete both collections and the lexical index (used by --rebuild)."""
        names = {c if isinstance(c, str) else c.name for c in self.client.list_collections()}
        for n in (self.settings.collection, f"{self.settings.collection}__articles"):
            if n in names:
                self.client.delete_collection(n)
        self._chunks = self._articles = None
        self._lexical = None
        import shutil

        shutil.rmtree(self.lexical_dir, ignore_errors=True)

    # -- writing ------------------------------------------------------------------------------
    @contextmanager
    def writer(self):
        """Single-writer lock for the embedded index; a Chroma server serialises writes itself."""
        if self.settings.chroma_url:
            yield self
            return
        from filelock import FileLock, Timeout

        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.settings.index_dir / "write.lock"))
        try:
            lock.acquire(timeout=float(os.environ.get("ASSAY_LOCK_TIMEOUT", "2")))
        except Timeout:
            raise IndexBusy(
                f"another Assay process is writing to {self.where} — wait for it to finish, "
                "or add articles through the running chat's upload panel"
            ) from None
        try:
            yield self
        finally:
            lock.release()

    def _batch(self) -> int:
        try:
            return max(1, min(1000, int(self.client.get_max_batch_size())))
        except Exception:
            return 500

    def write_article(self, article: Article, chunks: list[Chunk], embeddings, file_meta: dict) -> None:
        """Replace everything indexed for `article` with `chunks` (idempotent, crash-safe)."""
        col = self.chunks
        ids = [c.id for c in chunks]
        step = self._batch()
        for i in range(0, len(chunks), step):
            part = chunks[i : i + step]
            col.upsert(
                ids=ids[i : i + step],
                embeddings=[list(map(float, e)) for e in embeddings[i : i + step]],
                documents=[c.text for c in part],
                metadatas=[_chunk_meta(article, c) for c in part],
            )
        keep = set(ids)
        old = col.get(where={"article_id": article.id}, include=[])["ids"]
        stale = [x for x in old if x not in keep]
        for i in range(0, len(stale), step):
            col.delete(ids=stale[i : i + step])
        record = {k: v for k, v in article.meta.items() if v}
        record.update(file_meta, article_id=article.id, path=article.path, content_hash=article.content_hash, n_chunks=len(chunks))
        self.articles.upsert(ids=[article.id], embeddings=[[1.0]], documents=[article.text], metadatas=[record])
        self._lexical = None

    def touch_article(self, article_id: str, file_meta: dict) -> None:
        """Record a new size/mtime for an article whose content did not change."""
        got = self.articles.get(ids=[article_id], include=["metadatas"])
        if got["ids"]:
            meta = dict(got["metadatas"][0])
            meta.update(file_meta)
            self.articles.update(ids=[article_id], metadatas=[meta])

    def delete_article(self, article_id: str) -> int:
        col = self.chunks
        ids = col.get(where={"article_id": article_id}, include=[])["ids"]
        step = self._batch()
        for i in range(0, len(ids), step):
            col.delete(ids=ids[i : i + step])
        self.articles.delete(ids=[article_id])
        self._lexical = None
        return len(ids)

    # -- reading ------------------------------------------------------------------------------
    def manifest(self) -> dict[str, dict]:
        """article id -> its record (path, content_hash, size, mtime_ns, n_chunks, metadata)."""
        out: dict[str, dict] = {}
        col = self.articles
        offset, step = 0, 5000
        while True:
            got = col.get(include=["metadatas"], limit=step, offset=offset)
            for aid, meta in zip(got["ids"], got["metadatas"]):
                out[aid] = dict(meta or {})
            if len(got["ids"]) < step:
                return out
            offset += step

    def article_text(self, article_id: str) -> str | None:
        got = self.articles.get(ids=[article_id], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    def stamp(self, manifest: dict[str, dict] | None = None) -> str:
        """Digest of what the collection holds; the lexical index must carry the same one."""
        manifest = self.manifest() if manifest is None else manifest
        h = hashlib.sha256(f"{self.settings.collection}|{self.chunks.count()}".encode())
        for aid in sorted(manifest):
            h.update(f"{aid}\0{manifest[aid].get('content_hash', '')}\n".encode())
        return h.hexdigest()

    @property
    def lexical_dir(self) -> Path:
        if not self.settings.chroma_url:
            return self.settings.index_dir / "lexical"
        key = hashlib.sha1(f"{self.settings.chroma_url}|{self.settings.collection}".encode()).hexdigest()[:16]
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "assay" / "lexical" / key
        return cache

    def lexical(self, refresh: bool = False) -> LexicalIndex:
        """The BM25 index, loaded or rebuilt so that it matches the collection."""
        with self._lock:
            if self._lexical is not None and not refresh:
                return self._lexical
            stamp = self.stamp()
            if self._lexical is not None and self._lexical_stamp == stamp:
                return self._lexical
            lex = LexicalIndex.load(self.lexical_dir, stamp)
            if lex is None:
                lex = self._build_lexical()
                try:
                    lex.save(self.lexical_dir, stamp)
                except OSError:
                    pass  # a read-only index folder still serves queries from memory
            self._lexical, self._lexical_stamp = lex, stamp
            return lex

    def _build_lexical(self) -> LexicalIndex:
        ids, texts, arts, pubs = [], [], [], []
        offset, step = 0, 5000
        while True:
            got = self.chunks.get(include=["documents", "metadatas"], limit=step, offset=offset)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                ids.append(cid)
                texts.append(" ".join(x for x in (meta.get("title", ""), meta.get("heading", ""), doc) if x))
                arts.append(meta.get("article_id", ""))
                pubs.append(int(meta.get("published_int", 0) or 0))
            if len(got["ids"]) < step:
                break
            offset += step
        return LexicalIndex.build(ids, texts, arts, pubs)

    def stats(self) -> dict:
        manifest = self.manifest()
        return {
            "where": self.where,
            "collection": self.settings.collection,
            "model": self.settings.model,
            "articles": len(manifest),
            "chunks": self.chunks.count(),
            "items": manifest,
        }
