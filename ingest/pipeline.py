"""`assay ingest`: files -> articles -> chunks -> embeddings -> Chroma + BM25, incrementally."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .article import Article, LoadError
from .files import article_id, iter_article_paths
from .config import Settings
from .index import Index, IndexCorrupt, IndexEmpty, IndexMismatch
from .nlp import entities
from .split import Chunk, TokenCounter, sentence_spans, split_article

def flush_chunks(settings: Settings) -> int:
    """Chunks per flush (ASSAY_FLUSH_CHUNKS): one encode call and a few Chroma writes each.

    256 by default: bounded memory, and long enough for length-sorted batches."""
    if settings.flush_chunks < 1:
        raise ValueError("ASSAY_FLUSH_CHUNKS must be a whole number of chunks of at least 1, e.g. 256")
    return settings.flush_chunks


@dataclass
class Summary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): duplicates
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    chunks_written: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    nlp_seconds: float = 0.0  # named-entity analysis of the chunks (stored with them)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def lines(self) -> list[str]:
        out = [
            f"added: {len(self.added)}  updated: {len(self.updated)}  unchanged: {len(self.unchanged)}  "
            f"removed: {len(self.removed)}  skipped: {len(self.skipped)}  failed: {len(self.failed)}",
            f"chunks written: {self.chunks_written}  in {self.seconds:.1f} s",
        ]
        out += [f"skipped {f}: {why}" for f, why in self.skipped]
        out += [f"FAILED {f}: {why}" for f, why in self.failed]
        return out


@dataclass
class _Pending:
    article: Article
    chunks: list[Chunk]
    status: str  # "added" | "updated"
    file_meta: dict


class Ingestor:
    """Holds the model-side state (tokenizer, counter) so repeated ingests (uploads) reuse it."""

    def __init__(self, settings: Settings, index: Index | None = None, encoder=None):
        from .embed import Encoder

        self.settings = settings
        self.index = index or Index(settings)
        self.encoder = encoder or Encoder.for_settings(settings)
        self._counter: TokenCounter | None = None
        self.record_texts: list[str] | None = None  # set to a list to collect every embedded text (`assay bench`)

    @property
    def counter(self) -> TokenCounter:
        if self._counter is None:
            from .embed import load_model

            model = load_model(self.settings.model)
            self._counter = TokenCounter(model.tokenizer, int(model.max_seq_length))
        return self._counter

    def run(self, inputs: list[str | Path], *, prune: bool = False, rebuild: bool = False, progress: bool = True, on_file=None,
            on_chunks=None) -> Summary:
        """Index `inputs` (files or folders). `on_file(done, total, name)` and `on_chunks(indexed, known)`
        report progress to a UI: files read, and chunks embedded so far out of those split so far."""
        from .load import load_article

        t0 = time.perf_counter()
        s = Summary()  # replaced by the run's own
        files = [(p, r) for p, r in iter_article_paths(inputs) if not _inside(p, self.settings.index_dir)]  # never the index's own files
        with self.index.writer():
            live = self.index
            ids: dict[str, str] = {}
            if rebuild:
                # Built beside the live index and swapped in when complete, so a running chat keeps
                # answering from the old one; an unreadable or missing index is simply replaced.
                # Files keep their ids, and the chat's uploads (beside the index) are rebuilt too.
                try:
                    if live.exists():
                        ids = paths_to_ids(live.manifest())
                        self.index = live.staging()
                except IndexMismatch:  # other model or chunking: the staging index has the new settings
                    self.index = live.staging()
                except (IndexCorrupt, IndexEmpty):  # damaged past reading: nothing to keep answering from
                    self.index = live
                if self.index is live:
                    live.drop()
                uploads = Path(self.settings.uploads_folder)
                if uploads.is_dir() and not any(_inside(uploads, Path(i)) for i in inputs):
                    known = {str(p.resolve()) for p, _ in files}
                    files += [(p, r) for p, r in iter_article_paths([uploads]) if str(p.resolve()) not in known]
            try:
                s = self._run(files, prune, progress, on_file, on_chunks, load_article, t0, ids)
                if self.index is not live:
                    live.swap_in(self.index)
            except BaseException:
                if self.index is not live:  # a failed rebuild leaves the live index as it was, and no staging copy
                    try:
                        self.index.drop(remove_unreadable=False)
                    except Exception:
                        pass
                raise
            finally:
                self.index = live
        if s.chunks_written:
            from .embed import ensure_query_encoder

            ensure_query_encoder(self.settings, log=(lambda m: print(f"assay: {m}", file=sys.stderr)) if progress else None)
        if on_file:
            on_file(len(files), len(files), "")
        s.seconds = time.perf_counter() - t0
        return s

    def _run(self, files, prune, progress, on_file, on_chunks, load_article, t0, ids: dict[str, str] | None = None) -> Summary:
        """One ingest of `files` into self.index (the caller holds the write lock); `ids`: the
        file path -> article id map to keep (a rebuild's, from the index it replaces)."""
        s = Summary()
        self.index.create()
        manifest = self.index.manifest()
        by_hash = {rec.get("content_hash"): aid for aid, rec in manifest.items()}
        by_path = {**(ids or {}), **paths_to_ids(manifest)}
        seen: dict[str, str] = {}
        pending: list[_Pending] = []
        bar = _bar(progress)
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        flush_at = flush_chunks(self.settings)
        read = 0

        def embedded(k: int) -> None:  # the bar counts chunks as they are embedded, not at the end
            bar.update(k)
            bar.set_postfix_str(_files(read, len(files), s))
            if on_chunks:
                on_chunks(int(bar.n), int(bar.total or 0))

        try:
            for n, (path, root) in enumerate(files, 1):
                if on_file:
                    on_file(n - 1, len(files), path.name)
                self._one(path, root, manifest, by_hash, by_path, seen, pending, s, max_bytes, load_article)
                read = n
                bar.total = s.chunks_written + sum(len(p.chunks) for p in pending)
                bar.set_postfix_str(_files(read, len(files), s))
                bar.refresh()
                if sum(len(p.chunks) for p in pending) >= flush_at:
                    self._flush(pending, s, embedded)
            self._flush(pending, s, embedded)
            bar.set_postfix_str(_files(read, len(files), s) + f", {_rate(s, t0)}")
        finally:
            bar.close()
        # One file, one article: a record of a file read in this run under another id (an older
        # index, or the same file reached through another folder) is a stale edition of it.
        for aid in duplicates_of(manifest, _resolved(files), seen):
            self.index.delete_article(aid)
            s.removed.append(aid)
        if prune:
            present = {p.resolve().as_posix() for p, _ in files}
            for aid, rec in manifest.items():
                path = rec.get("path", "")
                if aid not in seen and aid not in s.removed and (not path or not os.path.exists(path)) and path not in present:
                    self.index.delete_article(aid)
                    s.removed.append(aid)
        # Always check: a run killed after its last record but before this refresh left the
        # BM25 behind; refresh() applies the change log (what changed since its watermark).
        self.index.lexical(refresh=True)
        return s

    def _one(self, path: Path, root, manifest, by_hash, by_path, seen, pending, s: Summary, max_bytes: int, load_article) -> None:
        aid = article_id(path, root)
        shown = str(path)
        try:
            known = by_path.get(str(path.resolve()))
        except (OSError, RuntimeError):
            known = None
        if known and known != aid and known not in seen:
            aid = known  # the same file keeps the id it was first indexed under, whichever folder is passed
        if aid in seen:
            s.skipped.append((shown, f"same article id {aid!r} as {seen[aid]} — rename one of them"))
            return
        seen[aid] = shown
        try:
            st = path.stat()
        except OSError as e:  # let the loader name the reason (broken symlink, loop, ...)
            try:
                load_article(path, root, max_bytes=max_bytes)
                reason = f"cannot read: {e.strerror or e}"
            except LoadError as le:
                reason = le.reason
            except Exception:
                reason = f"cannot read: {e.strerror or e}"
            s.failed.append((shown, reason))
            return
        file_meta = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        rec = manifest.get(aid)
        abspath = str(path.resolve())
        if rec and rec.get("path") == abspath and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
            s.unchanged.append(aid)
            return
        try:
            article = load_article(path, root, max_bytes=max_bytes)
        except LoadError as e:
            s.failed.append((shown, e.reason))
            return
        except Exception as e:  # a loader bug must not stop the run; say what happened
            s.failed.append((shown, f"could not be read ({type(e).__name__}: {e})"))
            return
        article.path = abspath
        article.id = aid
        article.meta.pop("uploaded", None)  # set here only: a document cannot claim or shed it
        if _inside(path, self.settings.uploads_folder):
            article.meta["uploaded"] = time.strftime("%Y-%m-%d", time.localtime(st.st_mtime))
        h = article.content_hash
        if rec and rec.get("content_hash") == h:
            self.index.touch_article(aid, file_meta)
            s.unchanged.append(aid)
            return
        twin = by_hash.get(h)
        if twin and twin != aid and manifest.get(twin, {}).get("path") != abspath:  # a second record of this file is no twin: replaced
            s.skipped.append((shown, f"same content as {twin} — not indexed twice"))
            return
        try:
            chunks = split_article(article, self.counter, self.settings.chunk_tokens, self.settings.overlap_sentences)
        except Exception as e:
            s.failed.append((shown, f"could not be split ({type(e).__name__}: {e})"))
            return
        if not chunks:
            s.failed.append((shown, "no text to index after cleaning"))
            return
        by_hash[h] = aid
        pending.append(_Pending(article, chunks, "updated" if rec else "added", file_meta))

    def _flush(self, pending: list[_Pending], s: Summary, embedded=None) -> None:
        if not pending:
            return
        texts = [c.embed_text for p in pending for c in p.chunks]
        bodies = [c.text for p in pending for c in p.chunks]
        if self.record_texts is not None:
            self.record_texts.extend(texts)
        # Embedded and analysed one batch at a time, longest first (the order one encode call of
        # them all would use, so padding stays the same), so that progress counts real chunks.
        import numpy as np

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        step = max(1, int(self.settings.batch_size))
        vectors: np.ndarray | None = None
        spans: list = [None] * len(texts)
        sentences: list = [None] * len(texts)  # per chunk: a vector per sentence, from the chunk's own forward pass
        for a in range(0, len(order), step):
            idx = order[a : a + step]
            t = time.perf_counter()
            offsets = [len(texts[i]) - len(bodies[i]) for i in idx]  # the title/heading prefix before the body
            if hasattr(self.encoder, "encode_late"):
                vec, late = self.encoder.encode_late([texts[i] for i in idx],
                                                     [[(o + x, o + y) for x, y in sentence_spans(bodies[i])] if texts[i].endswith(bodies[i]) else []
                                                      for i, o in zip(idx, offsets)])
            else:  # a bare encoder (benchmarks): no sentence vectors, the writer embeds sentences itself
                vec, late = self.encoder.encode([texts[i] for i in idx]), [None] * len(idx)
            vec = np.asarray(vec)
            for i, rows in zip(idx, late):
                sentences[i] = rows
            s.embed_seconds += time.perf_counter() - t
            if vectors is None:
                vectors = np.zeros((len(texts), vec.shape[1]), dtype=vec.dtype)
            vectors[idx] = vec
            t = time.perf_counter()
            for i, sp in zip(idx, entities([bodies[i] for i in idx])):
                spans[i] = sp
            s.nlp_seconds += time.perf_counter() - t
            if embedded:
                embedded(len(idx))
        items, i = [], 0
        for p in pending:
            n = len(p.chunks)
            items.append((p.article, p.chunks, vectors[i : i + n], p.file_meta, spans[i : i + n], sentences[i : i + n]))
            i += n
        self.index.write_articles(items)  # a few Chroma calls per flush, not three per article
        for p in pending:
            getattr(s, p.status).append(p.article.id)
            s.chunks_written += len(p.chunks)
            s.tokens_embedded += sum(c.n_tokens for c in p.chunks)
        pending.clear()


def paths_to_ids(manifest: dict[str, dict]) -> dict[str, str]:
    """Resolved file path -> the article id it was first indexed under (the lowest change-log
    sequence number wins when an older index holds the same file under several ids)."""
    out: dict[str, tuple[int, str]] = {}
    for aid, rec in manifest.items():
        path = rec.get("path") or ""
        if path:
            key = (int(rec.get("assay_seq") or 0), aid)
            if path not in out or key < out[path]:
                out[path] = key
    return {path: aid for path, (_, aid) in out.items()}


def duplicates(manifest: dict[str, dict]) -> dict[str, list[str]]:
    """Resolved path -> the other ids that hold the same file (stale editions), for every such path."""
    first = paths_to_ids(manifest)
    out: dict[str, list[str]] = {}
    for aid, rec in manifest.items():
        path = rec.get("path") or ""
        if path and first[path] != aid:
            out.setdefault(path, []).append(aid)
    return out


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


def _resolved(files) -> set[str]:
    """The resolved paths of the files read in this run."""
    out = set()
    for p, _ in files:
        try:
            out.add(str(p.resolve()))
        except (OSError, RuntimeError):
            pass
    return out


def duplicates_of(manifest: dict[str, dict], paths: set[str], seen: dict[str, str]) -> list[str]:
    """Ids of records that hold one of `paths` under an id other than the one this run used."""
    return sorted(aid for path, aids in duplicates(manifest).items() if path in paths for aid in aids if aid not in seen)


def _bar(enabled: bool):
    """One bar in chunks: its total grows as files are split, its count as chunks are embedded."""
    from tqdm import tqdm

    return tqdm(total=0, unit="chunk", desc="ingest", disable=not enabled, dynamic_ncols=True)


def _files(read: int, total: int, s: Summary) -> str:
    return f"files {read}/{total}, failed {len(s.failed)}"


def _rate(s: Summary, t0: float) -> str:
    dt = max(time.perf_counter() - t0, 1e-6)
    return f"{s.chunks_written} chunks written ({s.chunks_written / dt:.1f}/s)"


def ingest(inputs: list[str | Path], settings: Settings | None = None, **kw) -> Summary:
    """Index files or folders into the index of `settings` (see `Ingestor.run`)."""
    return Ingestor(settings or Settings.from_env()).run(inputs, **kw)


@dataclass
class Health:
    """What `assay index check` found (and, with --fix, repaired)."""

    duplicates: dict[str, list[str]] = field(default_factory=dict)  # file path -> stale ids holding it too
    orphans: list[str] = field(default_factory=list)  # chunk ids whose article has no record
    missing_files: list[str] = field(default_factory=list)  # article ids whose file is gone (`ingest --prune` drops them)
    lexical: str = "ok"  # "ok" | "missing" | "stale (N of M chunks)"
    fixed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.orphans) and self.lexical == "ok"

    def lines(self) -> list[str]:
        out = []
        for path, ids in sorted(self.duplicates.items()):
            out.append(f"duplicate: {path} is indexed again as {', '.join(ids)}")
        if self.orphans:
            out.append(f"orphans: {len(self.orphans)} chunks belong to no article record")
        if self.lexical != "ok":
            out.append(f"lexical index: {self.lexical}")
        for aid in self.missing_files:
            out.append(f"note: the file of {aid} is gone (`assay ingest FOLDER --prune` removes it)")
        out += [f"fixed: {f}" for f in self.fixed]
        if self.ok and not self.fixed:
            out.append("index is consistent: one record per file, every chunk owned, lexical index in step")
        elif not self.fixed:
            out.append("run `assay index check --fix` to repair")
        return out


def check_index(index: Index, fix: bool = False) -> Health:
    """Duplicates (one file under several ids), orphan chunks, a stale lexical index; `fix` repairs
    them: the later ids of a file are deleted (its first id stays), orphans go, BM25 is rebuilt."""
    h = Health()
    with index.writer() if fix else contextlib.nullcontext():
        manifest = index.manifest()
        h.duplicates = duplicates(manifest)
        live = {aid for aid, rec in manifest.items() if not rec.get("deleted")}
        owners = index.chunk_owners()
        h.orphans = sorted(cid for cid, aid in owners.items() if aid not in live)
        h.missing_files = sorted(aid for aid, rec in manifest.items() if rec.get("path") and not os.path.exists(rec["path"]))
        lex = index.saved_lexical()
        if lex is None:
            h.lexical = "missing"
        elif set(lex.chunk_ids()) != set(owners):
            h.lexical = f"stale ({len(set(lex.chunk_ids()) & set(owners))} of {len(owners)} chunks)"
        if not fix:
            return h
        for path, ids in h.duplicates.items():
            kept = paths_to_ids(manifest)[path]
            newest = max(ids, key=lambda a: int(manifest[a].get("assay_seq") or 0))
            if manifest[newest].get("content_hash") != manifest[kept].get("content_hash"):
                index.mark_for_reread(kept)  # it may hold the older edition: the next ingest reads the file again
                h.fixed.append(f"{kept} will be read again from {path} by the next ingest (its newer edition was {newest})")
            for aid in ids:
                index.delete_article(aid)
                h.fixed.append(f"deleted {aid} (a second record of {path})")
        if h.orphans:
            index.delete_chunks(h.orphans)
            h.fixed.append(f"deleted {len(h.orphans)} orphan chunks")
        if h.duplicates or h.orphans or h.lexical != "ok":
            index.rebuild_lexical()
            h.fixed.append("rebuilt the lexical index")
    return h
