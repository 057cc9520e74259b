"""The Library's article operations: open (cleaned text with its passages), delete, restore,
re-index one. No Gradio here.

Deleting never lets an article come back silently:

- an article uploaded through the chat (its file is in the upload folder, `Settings.uploads_folder`)
  is removed from the index and its file is deleted;
- an article from a corpus folder (e.g. the bundled `corpus/`, which is in git) is removed from the
  index and its record stays behind as a *tombstone* (``deleted: true``, no passages, the same path,
  size and content hash). `assay ingest corpus/` then sees that file as unchanged and skips it, as
  it skips every unchanged file, so it stays out of the index across restarts; the Library lists it
  under "deleted articles" with a Restore button. Only a changed file (new content) is indexed
  again, as an update; `--rebuild` starts from nothing and indexes it again too.
"""

from __future__ import annotations

import time
from pathlib import Path

from .uploads import is_inside


def split_stats(stats: dict) -> dict:
    """Index stats with tombstones moved from `items` to `deleted` (counts fixed)."""
    items = stats.get("items") or {}
    live = {k: v for k, v in items.items() if not v.get("deleted")}
    gone = {k: v for k, v in items.items() if v.get("deleted")}
    return {**stats, "items": live, "deleted": gone, "articles": len(live)}


def is_upload(record: dict, uploads: Path) -> bool:
    path = record.get("path") or ""
    return bool(path) and is_inside(Path(path), uploads)


def mark_uploads(stats: dict, uploads: Path) -> dict:
    for rec in (stats.get("items") or {}).values():
        rec["upload"] = is_upload(rec, uploads)
    return stats


def view(index, aid: str, uploads: Path) -> dict | None:
    """What the article view shows: metadata, the cleaned text and each passage's span."""
    manifest = index.manifest()
    rec = manifest.get(aid)
    if rec is None:
        return None
    text = index.article_text(aid) or ""
    got = index.chunks.get(where={"article_id": aid}, include=["metadatas"])
    chunks = sorted((int(m.get("char_start", 0)), int(m.get("char_end", 0))) for m in got["metadatas"])
    return {"id": aid, "title": rec.get("title") or aid, "published": rec.get("published", ""), "publisher": rec.get("publisher", ""),
            "source_url": rec.get("source_url", ""), "path": rec.get("path", ""), "upload": is_upload(rec, uploads),
            "deleted": bool(rec.get("deleted")), "text": text, "chunks": chunks}


def delete(index, aid: str, uploads: Path) -> str:
    """Take `aid` out of the index for good; returns a sentence for the user. Caller holds the write lock."""
    with index.writer():
        rec = index.manifest().get(aid)
        if rec is None or rec.get("deleted"):
            return f"{aid} is not in the index."
        title = rec.get("title") or aid
        if is_upload(rec, uploads):
            n = index.delete_article(aid)
            try:
                Path(rec["path"]).unlink(missing_ok=True)
            except OSError as e:
                return f"Deleted “{title}” ({n} passages) from the index, but its uploaded file could not be removed: {e.strerror or e}."
            index.lexical(refresh=True)
            return f"Deleted “{title}”: {n} passages and the uploaded file are gone."
        text = index.article_text(aid) or ""
        n = index.delete_article(aid)
        tomb = {k: v for k, v in rec.items() if v is not None}
        tomb.update(deleted=True, n_chunks=0, deleted_at=int(time.time()))
        index.articles.upsert(ids=[aid], embeddings=[[1.0]], documents=[text], metadatas=[tomb])
        index.lexical(refresh=True)
        return (f"Deleted “{title}” ({n} passages). Its file stays in the corpus folder and is kept out of the index, "
                "also by `assay ingest`; restore it under “deleted articles”.")


def _inputs_for(aid: str, path: str) -> list[str]:
    """What to ingest so that the file gets its id `aid` back: the file itself when the id is its
    name, else the folder the id is relative to (its other files are unchanged and skipped)."""
    p = Path(path)
    if aid == p.name:
        return [str(p)]
    parts = Path(aid).parts
    root = p
    for _ in parts:
        root = root.parent
    return [str(root)]


def prepare_reindex(index, aid: str) -> tuple[list[str] | None, str]:
    """Make the next ingest of `aid` read, split and embed it again; (inputs to ingest, problem)."""
    with index.writer():
        rec = index.manifest().get(aid)
        if rec is None:
            return None, f"{aid} is not in the index."
        path = rec.get("path") or ""
        if not path or not Path(path).is_file():
            return None, f"The file of “{rec.get('title') or aid}” is gone ({path or 'no path recorded'}); it stays indexed as it was."
        if rec.get("deleted"):
            index.articles.delete(ids=[aid])  # the tombstone goes; the file is indexed as new
        else:
            index.mark_for_reread(aid)  # unchanged no more: read, split and embedded again
        return _inputs_for(aid, path), ""
