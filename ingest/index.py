"""The index contract: one Chroma collection of chunks, one of article records, a BM25 beside them.

The write order of each flush makes crashes harmless: chunks are upserted under ids derived from
their article's content hash, stale chunks of those articles are deleted, and only then are the
article records (with their hashes) written. A run killed anywhere leaves each article with
either its old record (so the next run redoes it) or the finished one; ids never collide, so
nothing is duplicated.
"""

from __future__ import annotations

import hashlib
import dataclasses
import os
import re
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from .article import Article
from .config import Settings, quiet_env, scrub_url
from .lexical import ArticleText, ChunkText, LexicalIndex
from .nlp import pack, unpack
from .split import Chunk


class IndexError_(RuntimeError):
    """Base for index problems; the message says what to do next."""


class IndexEmpty(IndexError_):
    pass


class IndexMissing(IndexEmpty):
    """Nothing was ever ingested at this place (reading never creates an index)."""


class IndexMismatch(IndexError_):
    pass


class IndexBusy(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    """Chroma cannot read the index files (truncated database, damaged vector segment ...)."""


class IndexDiskFull(IndexError_):
    """No space left where the index is written."""


class IndexUnreachable(IndexError_):
    """The Chroma server given by --chroma-url / ASSAY_CHROMA_URL does not answer."""


GENERATION_FILE = "generation"
CHANGE_GRACE_US = 300_000_000  # a reader re-reads changes this far (µs) behind its watermark: writes in flight, clock skew
SPARSE_KEY = "assay_bm25"  # the chunk collection's sparse (BM25) index on servers that have one
REBUILD_SUFFIX = "__rebuild"  # collections (and BM25 folder) a --rebuild fills before it swaps them in
REPLACED_SUFFIX = "__replaced"  # the previous collections, deleted once readers have re-opened
DISK_FULL_BYTES = 8 * 1024 * 1024  # less free than this when Chroma fails: the disk is the cause
TOMBSTONE = "assay:deleted:"  # id prefix of a deleted article's change-log record


def _seq() -> int:
    """A change-log sequence number (wall-clock microseconds; readers allow CHANGE_GRACE_US of slack)."""
    return time.time_ns() // 1000
_UUID_DIR = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _is_connection_error(e: BaseException) -> bool:
    try:
        import httpx

        if isinstance(e, httpx.TransportError):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(e, ConnectionError) or "could not connect to a chroma server" in str(e).lower()


def _chroma_cause(e: BaseException) -> BaseException:
    """The Chroma or connection error behind `e` (chromadb sometimes fails while cleaning up
    after the real error, e.g. an AttributeError whose context is 'database disk image is malformed')."""
    seen, cur = 0, e
    while cur is not None and seen < 6:
        mod = type(cur).__module__ or ""
        if mod.startswith("chromadb") or _is_connection_error(cur):
            return cur
        cur, seen = cur.__cause__ or cur.__context__, seen + 1
    return e


class _Guarded:
    """A Chroma collection whose failures become IndexError_ messages (corrupt files, server down).

    Everything else (attributes, argument errors) passes through unchanged.
    """

    def __init__(self, col, index: "Index"):
        self._col = col
        self._index = index

    def __getattr__(self, name):
        attr = getattr(self._col, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except IndexError_:
                raise
            except Exception as e:
                raise self._index._translate(e) from e

        return call

    def __repr__(self) -> str:
        return f"<guarded {self._col!r}>"


def build_signature(settings: Settings) -> dict:
    """What the index records about how it was built; a mismatch refuses to open."""
    from .config import SPLITTER_VERSION
    from .nlp import model_version

    return {
        "assay_model": settings.model,
        "assay_splitter": SPLITTER_VERSION,
        "assay_chunk_tokens": settings.chunk_tokens,
        "assay_overlap": settings.overlap_sentences,
        "assay_nlp": model_version(),
    }


def date_int(value: str | None) -> int:
    """"2025-11-12" -> 20251112, "2025-01" -> 20250100, else 0."""
    if not value:
        return 0
    digits = value.replace("-", "")[:8]
    if not digits.isdigit() or len(digits) < 4:
        return 0
    return int(digits.ljust(8, "0"))


def pack_vectors(rows) -> str:
    """Sentence vectors -> the compact string stored in chunk metadata (float16, base64: 1 KB a sentence)."""
    import base64

    import numpy as np

    return base64.b64encode(np.asarray(rows, dtype=np.float16).tobytes()).decode("ascii")


def unpack_vectors(value: str | None, dim: int):
    """The stored sentence vectors (float32 rows), or None when the chunk has none."""
    if not value:
        return None
    import base64

    import numpy as np

    try:
        return np.frombuffer(base64.b64decode(value), dtype=np.float16).reshape(-1, dim).astype(np.float32)
    except ValueError:
        return None


def _chunk_meta(article: Article, chunk: Chunk, ents: list | None = None, svec=None) -> dict:
    meta = {k: v for k, v in article.meta.items() if v}
    if svec is not None and len(svec):
        meta["svec"] = pack_vectors(svec)  # one vector per sentence_spans(chunk.text), from the chunk's forward pass
    meta.update(
        ents=pack(ents or []),  # named-entity spans in chunk.text (ingest/nlp.py)
        furniture=";".join(f"{a}-{b}" for a, b in getattr(chunk, "furniture", ())),  # never-quoted spans (article offsets)
        article_id=article.id,
        heading=chunk.heading,
        char_start=chunk.start,
        char_end=chunk.end,
        chunk_index=chunk.index,
        n_tokens=chunk.n_tokens,
        published_int=date_int(article.meta.get("published")),
    )
    return meta


class Index:
    """Open (or create) the index described by `settings`.

    One object per process is meant to be shared by its threads. A long-running process (the
    chat) notices writes by other processes through a generation token that every write bumps
    (a small file beside the embedded index; the `{collection}__articles` collection's metadata
    on a Chroma server), checked at most every STALE_CHECK_SECONDS: it then reloads the lexical
    index and, in embedded mode, re-opens Chroma (whose in-memory vector index would be stale).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = None
        self._chunks = None
        self._articles = None
        self._lexical: LexicalIndex | None = None
        self._lexical_behind = False  # the collection changed since the lexical index was synced
        self._sparse: bool | None = None  # whether the server's own BM25 answers lexical queries
        self._lock = threading.RLock()
        self._generation: str | None = None  # the token this object last saw or wrote
        self._checked = 0.0  # monotonic time of the last staleness check
        self.stale_check_seconds = settings.stale_check_seconds  # how often a long-running reader looks for other writers
        self._lexical_dir: Path | None = None  # set for a staging index (--rebuild)

    # -- connection -------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return scrub_url(self.settings.chroma_url) if self.settings.chroma_url else str(self.settings.index_dir)

    def _server_address(self) -> tuple[str, int, bool]:
        raw = self.settings.chroma_url.strip()
        url = urlparse(raw if "://" in raw else f"http://{raw}")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise IndexUnreachable(f"--chroma-url {scrub_url(raw)!r} is not an http://host:port address")
        try:
            port = url.port or (443 if url.scheme == "https" else 8000)
        except ValueError:
            raise IndexUnreachable(f"--chroma-url {scrub_url(raw)!r} has an invalid port") from None
        return url.hostname, port, url.scheme == "https"

    def _unreachable(self) -> IndexUnreachable:
        try:
            port = self._server_address()[1]
        except IndexError_:
            port = 8000
        return IndexUnreachable(
            f"Chroma server at {scrub_url(self.settings.chroma_url)} is not reachable — start it with "
            f"`chroma run --path DIR --port {port}` or unset ASSAY_CHROMA_URL"
        )

    def _corrupt(self, e: BaseException) -> IndexCorrupt:
        return IndexCorrupt(
            f"the index at {self.where} cannot be read ({_short(e)}). Rebuild it with "
            "`assay ingest corpus/ --rebuild` (or use another --index folder)."
        )

    def _translate(self, e: BaseException) -> Exception:
        """A Chroma failure as the IndexError_ that says what to do; other errors unchanged."""
        if isinstance(e, IndexError_):
            return e
        e = _chroma_cause(e)
        if self.settings.chroma_url and _is_connection_error(e):
            return self._unreachable()
        try:
            from chromadb.errors import InternalError, NotFoundError
        except ImportError:  # pragma: no cover
            return e
        if isinstance(e, NotFoundError):
            # the collection went away under us (another process ran --rebuild): re-open next time
            self._reset()
            return IndexEmpty(f"the index at {self.where} was rebuilt or removed by another process — try again ({_short(e)})")
        if not self.settings.chroma_url and (full := self._disk_full(e)):
            return full
        if isinstance(e, InternalError):
            if self.settings.chroma_url:
                return IndexCorrupt(f"the Chroma server at {scrub_url(self.settings.chroma_url)} failed: {_short(e)}")
            return self._corrupt(e)
        return e

    def _disk_full(self, e: BaseException) -> "IndexDiskFull | None":
        """Chroma reports a full disk as a failed compaction or a sqlite error: say what it is."""
        import errno
        import shutil

        folder = self.settings.index_dir
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return None
        said = getattr(e, "errno", None) == errno.ENOSPC or any(w in str(e).lower() for w in ("no space", "disk is full", "database or disk is full"))
        if not said and free >= DISK_FULL_BYTES:  # low free space alone is no proof: only when (almost) none is left
            return None
        return IndexDiskFull(f"disk full at {folder} ({free / 1048576:.0f} MB free): free some space and run the same command "
                             "again — what was indexed before is kept, and the ingest picks up where it stopped")

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        quiet_env()
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.settings.chroma_url:
            host, port, ssl = self._server_address()
            try:
                return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
            except Exception as e:
                if _is_connection_error(e):
                    raise self._unreachable() from None
                raise
        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        try:
            return chromadb.PersistentClient(path=str(self.settings.index_dir), settings=chroma_settings)
        except Exception as e:
            err = self._translate(e)
            if not isinstance(err, (IndexError_, OSError)):
                err = self._corrupt(_chroma_cause(e))  # Chroma could not open the folder at all
            raise err from e

    def _reset(self, reopen: bool = False) -> None:
        """Forget collection handles and the lexical index; `reopen` also drops the embedded client.

        Chroma shares one in-process system per embedded path and keeps its vector index in
        memory, so it would not see vectors another process added: re-opening takes it out of
        that cache (in-flight queries keep their old handles until they finish).
        """
        with self._lock:
            self._chunks = self._articles = None
            self._lexical_behind = True  # kept: the next use applies only what changed
            self._sparse = None
            if reopen and not self.settings.chroma_url:
                old, self._client = self._client, None
                self._forget_shared_system(getattr(old, "_identifier", None))

    def _forget_shared_system(self, ident: str | None = None) -> None:
        """Take this folder's system out of Chroma's per-path cache (also one that a failed open
        left behind, which would keep failing after the files are replaced)."""
        try:
            from chromadb.api.shared_system_client import SharedSystemClient as Shared

            mine = {str(self.settings.index_dir), str(self.settings.index_dir.resolve()), ident}
            with Shared._refcount_lock:
                for key in [k for k in Shared._identifier_to_system if k in mine]:
                    Shared._identifier_to_system.pop(key, None)
                    Shared._identifier_to_refcount.pop(key, None)
        except Exception:  # pragma: no cover - chromadb internals moved: a new client still helps
            pass

    def _names(self) -> set[str]:
        try:
            return {c if isinstance(c, str) else c.name for c in self.client.list_collections()}
        except IndexError_:
            raise
        except Exception as e:
            raise self._translate(e) from e

    def _open(self, create: bool) -> None:
        if self._chunks is not None:
            return
        with self._lock:
            if self._chunks is not None:
                return
            name = self.settings.collection
            if not create and not self.settings.chroma_url and not (self.settings.index_dir / "chroma.sqlite3").is_file():
                self._raise_empty()  # reading never creates: no Chroma client, no files, no model
            gen = self._read_generation()  # before reading data: a write in between shows up later
            existing = self._names()
            try:
                if name not in existing:
                    if not create:
                        self._raise_empty()
                    chunks = self.client.create_collection(
                        name,
                        metadata=build_signature(self.settings),
                        configuration={"hnsw": {"space": "cosine"}},
                        embedding_function=None,
                        **self._sparse_schema(),
                    )
                else:
                    chunks = self.client.get_collection(name, embedding_function=None)
                    self._check_signature(chunks.metadata or {})
                art_name = f"{name}__articles"
                if art_name in existing:
                    articles = self.client.get_collection(art_name, embedding_function=None)
                else:
                    articles = self.client.get_or_create_collection(art_name, metadata={"assay_role": "articles"}, embedding_function=None)
            except IndexError_:
                raise
            except Exception as e:
                raise self._translate(e) from e
            self._chunks, self._articles = _Guarded(chunks, self), _Guarded(articles, self)
            self._generation = gen
            self._checked = time.monotonic()

    def _raise_empty(self):
        if not self.settings.chroma_url:
            folder = self.settings.index_dir
            orphans = [p for p in folder.iterdir() if p.is_dir() and _UUID_DIR.match(p.name)] if folder.is_dir() else []
            if orphans:
                raise IndexCorrupt(
                    f"the index at {folder} has vector files but no collection (chroma.sqlite3 is missing or was reset). "
                    "Rebuild it with `assay ingest corpus/ --rebuild`."
                )
            if not (folder / "chroma.sqlite3").is_file():
                raise IndexMissing(f"no index at {folder} — run `assay ingest corpus/` (or pass --index to the folder you ingested into)")
        raise IndexEmpty(f"index is empty ({self.where}) — run `assay ingest corpus/` first")

    def _check_signature(self, found: dict) -> None:
        wanted = build_signature(self.settings)
        diffs = [f"{k.removeprefix('assay_')}: index has {found.get(k)!r}, settings ask {v!r}" for k, v in wanted.items() if str(found.get(k)) != str(v)]
        if diffs:
            raise IndexMismatch(
                f"the index at {self.where} was built with different settings ({'; '.join(diffs)}). "
                "Rebuild it with `assay ingest corpus/ --rebuild`, or use another --index folder."
            )

    # -- staleness: did another process write? ------------------------------------------------
    _generation_file_override: Path | None = None

    @property
    def _generation_file(self) -> Path:
        if self._generation_file_override is not None:
            return self._generation_file_override
        return self.settings.index_dir / GENERATION_FILE

    def _read_generation(self) -> str | None:
        """The current write token (None when nothing recorded one yet)."""
        if not self.settings.chroma_url:
            try:
                return self._generation_file.read_text().strip() or None
            except OSError:
                return None
        try:
            col = self.client.get_collection(f"{self.settings.collection}__articles", embedding_function=None)
        except IndexError_:
            raise
        except Exception as e:
            err = self._translate(e)
            if isinstance(err, IndexEmpty):
                return None
            raise err from e
        return (col.metadata or {}).get("assay_generation")

    def _bump(self) -> None:
        """Record that this process changed the index (called after every write)."""
        gen = f"{time.time_ns():x}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if self.settings.chroma_url:
            if self._articles is None:
                return  # dropped: readers notice the collection is gone
            self._articles.modify(metadata={"assay_role": "articles", "assay_generation": gen})
        else:
            tmp = self._generation_file.with_name(f".{GENERATION_FILE}.{os.getpid()}.{threading.get_ident()}")
            try:
                tmp.write_text(gen)
                os.replace(tmp, self._generation_file)
            except OSError:
                return
        self._generation = gen

    def refresh_if_stale(self, force: bool = False) -> bool:
        """Re-open if another process changed the index since we looked; True when it had.

        Cheap: at most one file read (embedded) or one small request (server) every
        `stale_check_seconds`, unless `force`.
        """
        if self._chunks is None:
            return False  # nothing open yet: the next access reads the current state
        now = time.monotonic()
        if not force and now - self._checked < self.stale_check_seconds:
            return False
        with self._lock:
            self._checked = now
            gen = self._read_generation()
            if gen == self._generation:
                return False
            self._reset(reopen=True)
            return True

    @property
    def chunks(self):
        self.refresh_if_stale()
        self._open(create=False)
        return self._chunks

    @property
    def articles(self):
        self.refresh_if_stale()
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

    def drop(self, remove_unreadable: bool = True) -> None:
        """Delete both collections and the lexical index (used by --rebuild).

        An embedded index that Chroma cannot read any more is removed file by file instead
        (unless not `remove_unreadable`: a staging index shares the folder with the live one).
        """
        with self._lock:
            try:
                names = self._names()
                for n in (self.settings.collection, f"{self.settings.collection}__articles"):
                    if n in names:
                        self.client.delete_collection(n)
            except IndexCorrupt:
                if self.settings.chroma_url or not remove_unreadable:
                    raise
                self._reset(reopen=True)
                self._remove_chroma_files()
            except IndexError_:
                raise
            except Exception as e:
                err = self._translate(e)
                if self.settings.chroma_url or not isinstance(err, IndexCorrupt) or not remove_unreadable:
                    raise err from e
                self._reset(reopen=True)
                self._remove_chroma_files()
            self._reset()
            self._lexical = None
            shutil.rmtree(self.lexical_dir, ignore_errors=True)
            self._bump()

    def _remove_chroma_files(self) -> None:
        self._forget_shared_system()
        folder = self.settings.index_dir
        for p in folder.iterdir():
            if p.name.startswith("chroma.sqlite3") or p.name == GENERATION_FILE:
                p.unlink(missing_ok=True)
            elif p.is_dir() and _UUID_DIR.match(p.name):
                shutil.rmtree(p, ignore_errors=True)

    # -- writing ------------------------------------------------------------------------------
    @contextmanager
    def writer(self):
        """Single-writer lock for the embedded index; a Chroma server serialises writes itself.

        Whoever takes the lock first re-opens if another process wrote meanwhile, so that nothing
        is ever written through a stale in-memory view of the index.
        """
        if self.settings.chroma_url:
            self.refresh_if_stale(force=True)
            yield self
            return
        from filelock import FileLock, Timeout

        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.settings.index_dir / "write.lock"))
        try:
            lock.acquire(timeout=self.settings.lock_timeout)
        except Timeout:
            raise IndexBusy(
                f"another Assay process is writing to {self.where} — wait for it to finish, "
                "or add articles through the running chat's upload panel"
            ) from None
        try:
            self.refresh_if_stale(force=True)
            yield self
        finally:
            lock.release()

    # -- --rebuild: build beside the live index, then swap ---------------------------------------
    def staging(self) -> "Index":
        """An empty index beside this one (same folder or server, other collection names and BM25
        folder) for `ingest --rebuild`: readers keep answering from this one until `swap_in`."""
        staged = Index(dataclasses.replace(self.settings, collection=self.settings.collection + REBUILD_SUFFIX))
        staged._lexical_dir = self.lexical_dir.with_name(self.lexical_dir.name + REBUILD_SUFFIX)
        staged._generation_file_override = self._generation_file.with_name(GENERATION_FILE + REBUILD_SUFFIX)
        staged.drop(remove_unreadable=False)  # what a killed rebuild left (never the shared folder's files)
        return staged.create()

    def swap_in(self, staged: "Index") -> None:
        """Make the complete `staged` index this one: the live collections are renamed aside, the
        staged ones take their names, the BM25 folder moves into place, readers are told (the
        generation token), and the old collections are deleted once readers have had
        2 × stale_check_seconds to re-open (a question in flight keeps its old handles)."""
        main = self.settings.collection
        old = main + REPLACED_SUFFIX
        pairs_aside = [(main, old), (f"{main}__articles", f"{old}__articles")]
        pairs_in = [(staged.settings.collection, main), (f"{staged.settings.collection}__articles", f"{main}__articles")]
        with self._lock:
            done: list[tuple[str, str]] = []
            try:
                names = self._names()
                for _src, dst in pairs_aside:
                    if dst in names:
                        self.client.delete_collection(dst)
                for src, dst in [*(p for p in pairs_aside if p[0] in names), *pairs_in]:
                    self.client.get_collection(src, embedding_function=None).modify(name=dst)
                    done.append((src, dst))
            except BaseException as e:  # undo the renames made so far: the live index stays as it was
                for src, dst in reversed(done):
                    try:
                        self.client.get_collection(dst, embedding_function=None).modify(name=src)
                    except Exception:  # pragma: no cover - reported below; `index check` shows the state
                        pass
                self._reset(reopen=True)
                if isinstance(e, (IndexError_, KeyboardInterrupt, SystemExit)):
                    raise
                raise self._translate(e) from e
            try:
                shutil.rmtree(self.lexical_dir, ignore_errors=True)
                if staged.lexical_dir.exists():
                    os.replace(staged.lexical_dir, self.lexical_dir)
            except OSError:  # a reader saved meanwhile: the next use rebuilds it (its count disagrees)
                shutil.rmtree(staged.lexical_dir, ignore_errors=True)
            staged._reset()
            self._reset(reopen=True)
            self._lexical = None
            try:
                self._open(create=False)
            finally:
                self._bump()
        time.sleep(2 * max(0.0, float(self.stale_check_seconds)))
        with self._lock:
            names = self._names()
            for _src, dst in pairs_aside:
                if dst in names:
                    try:
                        self.client.delete_collection(dst)
                    except Exception:  # pragma: no cover - left for the next rebuild to delete
                        pass
            staged._generation_file.unlink(missing_ok=True)

    def _batch(self) -> int:
        try:
            return max(1, min(1000, int(self.client.get_max_batch_size())))
        except Exception:
            return 500

    def write_articles(self, items: list[tuple]) -> None:
        """Replace what is indexed for each (article, chunks, embeddings, file_meta[, entity spans per chunk]), in few calls.

        One ingest flush is a handful of Chroma calls, not three per article. The order keeps it
        crash-safe: chunks first, then stale chunks of these articles deleted, then the articles'
        records last. A run killed before the records leaves them old or missing, so the next
        ingest redoes those articles; nothing half-written is ever taken as current.
        """
        if not items:
            return
        import numpy as np

        col = self.chunks
        step = self._batch()
        items = [(*it, None, None)[:6] for it in items]  # (article, chunks, embeddings, file_meta[, entity spans[, sentence vectors]])
        ids = [c.id for _a, chunks, *_ in items for c in chunks]
        docs = [c.text for _a, chunks, *_ in items for c in chunks]
        metas = [_chunk_meta(a, c, sp[j] if sp else None, sv[j] if sv else None)
                 for a, chunks, _e, _m, sp, sv in items for j, c in enumerate(chunks)]
        vecs = np.concatenate([np.asarray(e, dtype=np.float32).reshape(len(chunks), -1) for _a, chunks, e, *_ in items])
        for i in range(0, len(ids), step):
            col.upsert(ids=ids[i : i + step], embeddings=vecs[i : i + step], documents=docs[i : i + step], metadatas=metas[i : i + step])
        keep = set(ids)
        aids = [a.id for a, *_ in items]
        old: list[str] = []
        for i in range(0, len(aids), step):
            part = aids[i : i + step]
            where = {"article_id": part[0]} if len(part) == 1 else {"article_id": {"$in": part}}
            old += col.get(where=where, include=[])["ids"]
        stale = [x for x in old if x not in keep]
        for i in range(0, len(stale), step):
            col.delete(ids=stale[i : i + step])
        records = []
        seq = _seq()
        for article, chunks, _e, file_meta, *_ in items:
            record = {k: v for k, v in article.meta.items() if v}
            record.update(file_meta, article_id=article.id, path=article.path, content_hash=article.content_hash, n_chunks=len(chunks),
                          assay_seq=seq)  # the change log: readers apply records newer than their watermark
            records.append(record)
        for i in range(0, len(items), step):
            self.articles.upsert(ids=aids[i : i + step], embeddings=[[1.0]] * len(aids[i : i + step]),
                                 documents=[a.text for a, *_ in items[i : i + step]], metadatas=records[i : i + step])
            self.articles.delete(ids=[TOMBSTONE + a for a in aids[i : i + step]])  # re-added after a delete
        self._lexical_behind = True
        self._bump()

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
        # the record gives way to a tombstone, so that readers drop the article's rows too
        self.articles.upsert(ids=[TOMBSTONE + article_id], embeddings=[[1.0]], documents=[""],
                             metadatas=[{"article_id": article_id, "assay_deleted": True, "assay_seq": _seq()}])
        self.articles.delete(ids=[article_id])
        self._lexical_behind = True
        self._bump()
        return len(ids)

    def mark_for_reread(self, article_id: str) -> None:
        """The next ingest reads, splits and embeds this article's file again (it is not unchanged)."""
        got = self.articles.get(ids=[article_id], include=["metadatas"])
        if got["ids"]:
            meta = dict(got["metadatas"][0])
            meta.update(content_hash="", mtime_ns=-1)
            self.articles.update(ids=[article_id], metadatas=[meta])
            self._bump()

    def delete_chunks(self, ids: list[str]) -> None:
        """Remove chunks that no article record owns (`assay index check --fix`)."""
        col = self.chunks
        step = self._batch()
        for i in range(0, len(ids), step):
            col.delete(ids=ids[i : i + step])
        self._lexical_behind = True
        self._bump()

    def rebuild_lexical(self) -> LexicalIndex:
        """A full BM25 build from the collection, saved (`assay index check --fix`)."""
        with self._lock:
            self._lexical = self._build_lexical()
            self._save_lexical(self._lexical)
            self._lexical_behind = False
            return self._lexical

    def chunk_owners(self) -> dict[str, str]:
        """chunk id -> its article id, for every chunk (page by page)."""
        out: dict[str, str] = {}
        offset, step = 0, 5000
        while True:
            got = self.chunks.get(include=["metadatas"], limit=step, offset=offset)
            for cid, meta in zip(got["ids"], got["metadatas"]):
                out[cid] = (meta or {}).get("article_id", "")
            if len(got["ids"]) < step:
                return out
            offset += step

    def saved_lexical(self) -> LexicalIndex | None:
        """The BM25 index as saved on disk (None: missing or unreadable), not synced."""
        try:
            return LexicalIndex.load(self.lexical_dir)
        except Exception:
            return None

    # -- reading ------------------------------------------------------------------------------
    def manifest(self) -> dict[str, dict]:
        """article id -> its record (path, content_hash, size, mtime_ns, n_chunks, metadata)."""
        out: dict[str, dict] = {}
        col = self.articles
        offset, step = 0, 5000
        while True:
            got = col.get(include=["metadatas"], limit=step, offset=offset)
            for aid, meta in zip(got["ids"], got["metadatas"]):
                if not (meta or {}).get("assay_deleted"):
                    out[aid] = dict(meta or {})
            if len(got["ids"]) < step:
                return out
            offset += step

    def article_text(self, article_id: str) -> str | None:
        got = self.articles.get(ids=[article_id], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    @property
    def lexical_dir(self) -> Path:
        if self._lexical_dir is not None:
            return self._lexical_dir
        if not self.settings.chroma_url:
            return self.settings.index_dir / "lexical"
        key = hashlib.sha1(f"{self.settings.chroma_url}|{self.settings.collection}".encode()).hexdigest()[:16]
        return self.settings.cache_dir / "assay" / "lexical" / key

    def lexical(self, refresh: bool = False) -> LexicalIndex:
        """The BM25 index, brought up to date with the collection.

        Kept in memory. After a write (this process's or, see `refresh_if_stale`, another's) or on
        `refresh`, it applies the change log: the article records written since its watermark
        (and tombstones of deleted ones) whose content differs from what it holds; their chunks
        are fetched, nothing else. A missing, damaged or unreadable copy, or one whose chunk
        count disagrees with the collection's, is rebuilt from the collection and saved.
        """
        self.refresh_if_stale()
        with self._lock:
            lex = self._lexical
            if lex is not None and not refresh and not self._lexical_behind:
                return lex
            if lex is None:
                try:
                    lex = LexicalIndex.load(self.lexical_dir)
                except Exception:  # damaged files: rebuilt below
                    lex = None
            self._lexical = self._sync_lexical(lex)
            self._lexical_behind = False
            return self._lexical

    def _sync_lexical(self, lex: LexicalIndex | None) -> LexicalIndex:
        count = self.chunks.count()
        if lex is not None:
            changed = self._changes(lex.seq - CHANGE_GRACE_US)
            removed = [aid for aid, rec in changed.items() if rec is None and aid in lex.at]
            updated = {aid: rec for aid, rec in changed.items() if rec is not None and lex.article_hash(aid) != rec.get("content_hash", "")}
            if removed or updated:
                lex.apply(removed, self._article_texts(updated))
            seqs = [int(rec["assay_seq"]) for rec in changed.values() if rec is not None] + list(self._tomb_seqs)
            lex.seq = max([lex.seq, *seqs])
            if lex.n_docs != count:
                lex = None  # chunks without records (a killed write) or a dropped and refilled collection
            elif removed or updated:
                self._save_lexical(lex)
        if lex is None:
            lex = self._build_lexical()
            self._save_lexical(lex)
        return lex

    def _changes(self, since: int) -> dict[str, dict | None]:
        """Article id -> its record (None: deleted) for the change-log entries at or after `since`."""
        out: dict[str, dict | None] = {}
        self._tomb_seqs: list[int] = []
        offset, step = 0, 5000
        while True:
            got = self.articles.get(where={"assay_seq": {"$gte": int(since)}}, include=["metadatas"], limit=step, offset=offset)
            for rid, meta in zip(got["ids"], got["metadatas"]):
                meta = dict(meta or {})
                if meta.get("assay_deleted"):
                    out.setdefault(meta.get("article_id", rid[len(TOMBSTONE):]), None)
                    self._tomb_seqs.append(int(meta.get("assay_seq", 0)))
                else:
                    out[rid] = meta  # a live record wins over a tombstone of the same id
            if len(got["ids"]) < step:
                return out
            offset += step

    def _article_texts(self, records: dict[str, dict]) -> list[ArticleText]:
        """The indexed chunks of these articles, as the lexical index takes them."""
        out = {aid: ArticleText(aid, rec.get("content_hash", "")) for aid, rec in records.items()}
        aids = list(out)
        step = self._batch()
        for i in range(0, len(aids), step):
            part = aids[i : i + step]
            where = {"article_id": part[0]} if len(part) == 1 else {"article_id": {"$in": part}}
            got = self.chunks.get(where=where, include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                if meta.get("article_id") in out:
                    out[meta["article_id"]].chunks.append(_chunk_text(cid, doc, meta))
        for art in out.values():
            art.chunks.sort(key=lambda c: c.id)
        return list(out.values())

    def _save_lexical(self, lex: LexicalIndex) -> None:
        """Save the index's changes (a read-only or contended folder: this process still serves from memory)."""
        try:
            lex.save(self.lexical_dir)
        except (OSError, TimeoutError):
            pass

    def _build_lexical(self) -> LexicalIndex:
        """A full build, page by page (the corpus text is never held in memory at once)."""
        records = self.manifest()
        seq = max([int(r.get("assay_seq", 0)) for r in records.values()] + [0])
        try:
            seq = max([seq, *(int(m.get("assay_seq", 0)) for m in self.articles.get(where={"assay_deleted": True}, include=["metadatas"])["metadatas"])])
        except Exception:
            pass

        def articles():
            offset, step = 0, 2000
            while True:
                got = self.chunks.get(include=["documents", "metadatas"], limit=step, offset=offset)
                for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                    aid = meta.get("article_id", "")
                    yield ArticleText(aid, records.get(aid, {}).get("content_hash", ""), [_chunk_text(cid, doc, meta)])
                if len(got["ids"]) < step:
                    break
                offset += step
            for aid, rec in records.items():  # articles without chunks (empty after cleaning)
                if not rec.get("n_chunks"):
                    yield ArticleText(aid, rec.get("content_hash", ""))

        return LexicalIndex.build(articles(), seq=seq)

    # -- the server's own BM25 ----------------------------------------------------------------
    def _sparse_schema(self) -> dict:
        """create_collection arguments for a sparse BM25 index, when the server has them and the
        settings allow it (ASSAY_LEXICAL auto or server)."""
        if not self.settings.chroma_url or self.settings.lexical == "local" or not self._server_has_sparse():
            return {}
        from chromadb import Schema, SparseVectorIndexConfig
        from chromadb.utils.embedding_functions.chroma_bm25_embedding_function import ChromaBm25EmbeddingFunction

        schema = Schema()
        schema.create_index(key=SPARSE_KEY, config=SparseVectorIndexConfig(source_key="#document", embedding_function=ChromaBm25EmbeddingFunction()))
        return {"schema": schema}

    def _server_has_sparse(self) -> bool:
        """Feature detection: create (and delete) a probe collection with a sparse index.

        Local Chroma and `chroma run` refuse ("Sparse vector indexing is not enabled in local");
        Chroma's distributed and Cloud servers accept.
        """
        from chromadb import Schema, SparseVectorIndexConfig

        probe = f"{self.settings.collection}__probe_{uuid.uuid4().hex[:8]}"
        schema = Schema()
        schema.create_index(key="probe", config=SparseVectorIndexConfig())
        try:
            self.client.create_collection(probe, schema=schema, embedding_function=None)
        except Exception as e:
            if _is_connection_error(e):
                raise self._unreachable() from None
            return False
        try:
            self.client.delete_collection(probe)
        except Exception:
            pass
        return True

    def server_bm25(self) -> bool:
        """Whether lexical search runs on the server's own sparse BM25 index (else on the local
        cache). ASSAY_LEXICAL=server insists, and says so when the server cannot."""
        if self._sparse is None:
            col = self.chunks
            schema = getattr(col, "schema", None)
            keys = getattr(schema, "keys", None) or {}
            self._sparse = bool(self.settings.chroma_url) and self.settings.lexical != "local" and SPARSE_KEY in keys
            if self.settings.lexical == "server" and not self._sparse:
                raise IndexMismatch(
                    f"ASSAY_LEXICAL=server, but the collection at {self.where} has no sparse BM25 index "
                    "(local Chroma and `chroma run` have none). Unset ASSAY_LEXICAL to use the local BM25 cache, "
                    "or re-ingest with --rebuild against a Chroma server that supports sparse vectors."
                )
        return self._sparse

    def server_lexical(self, query: str, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Top-n chunk ids by the server's BM25 (Search API, sparse Knn); scores by rank."""
        from chromadb import K, Knn, Search
        from chromadb.utils.embedding_functions.chroma_bm25_embedding_function import ChromaBm25EmbeddingFunction

        vec = ChromaBm25EmbeddingFunction().embed_query([query])[0]
        search = Search().rank(Knn(query=vec, key=SPARSE_KEY, limit=n)).limit(n).select(K.SCORE)
        if where:
            search = search.where(where)
        got = self.chunks.search(search)
        return [(cid, 1.0 / rank) for rank, cid in enumerate(got["ids"][0], 1)]

    def stats(self) -> dict:
        manifest = self.manifest()
        return {
            "where": self.where,
            "collection": self.settings.collection,
            "model": self.settings.model,
            "articles": len(manifest),
            "chunks": self.chunks.count(),
            "lexical": "server BM25 (sparse index)" if self.server_bm25() else f"local BM25 cache ({self.lexical_dir})",
            "items": manifest,
        }


def _chunk_text(cid: str, doc: str, meta: dict) -> ChunkText:
    """A stored chunk as the lexical index takes it: title and heading count as its words too."""
    text = " ".join(x for x in (meta.get("title", ""), meta.get("heading", ""), doc) if x)
    return ChunkText(cid, text, doc, int(meta.get("published_int", 0) or 0), tuple(unpack(meta.get("ents"))))
