"""SIGKILL `assay ingest` at several points of a real ingest of the bundled corpus, re-run it, and
check the index equals a clean ingest: same chunk ids (and vectors), same manifest, no orphans, a
current BM25; and `assay ask` works afterwards.

Kill points:
  * timed, on the unmodified CLI: as soon as the progress bar shows the first file (model just loaded);
  * hooked (a launcher patches one library call, then runs the real CLI `main`, and the process
    SIGKILLs itself at that exact point — no test hooks in production code):
      encode      half of the first embedding batch computed, nothing written yet
      chunks:2    the 2nd flush's chunks upserted (ASSAY_FLUSH_CHUNKS=64: the first flush is
                  complete), its stale-chunk delete and manifest records not done
      records:2   right after the 2nd flush's manifest records (later flushes unwritten)
      bm25        the lexical index's new files written, its state.json not yet swapped in
      update      re-indexing an edited article over an index with a saved BM25, killed after its new
                  chunks (stale chunks and old record still there) or after its new record (BM25 not
                  yet refreshed); checked against an uninterrupted incremental run
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assay.ingest.config import Settings
from assay.ingest.index import Index
from assay.ingest.lexical import LexicalIndex

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ASSAY = str(Path(sys.executable).parent / "assay")
EDITED = "uscode_42_13344_rare_earth_elements.md"

_LAUNCHER = r"""
import os, signal, sys

point = os.environ["ASSAY_CRASH_AT"]
kind, _, n = point.partition(":")
n = int(n or 1)


def die():
    sys.stderr.write(f"\nCRASH-HOOK {point}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


if kind == "encode":
    import assay.ingest.embed as embed
    real_encode = embed.Encoder.encode_late

    def encode_late(self, texts, spans):
        real_encode(self, texts[: max(1, len(texts) // 2)], spans[: max(1, len(texts) // 2)])
        die()

    embed.Encoder.encode_late = encode_late
elif kind in ("chunks", "records"):
    from chromadb.api.models.Collection import Collection
    real_upsert = Collection.upsert
    seen = {"chunks": 0, "records": 0}

    def upsert(self, *a, **kw):
        out = real_upsert(self, *a, **kw)
        which = "records" if self.name.endswith("__articles") else "chunks"
        seen[which] += 1
        if which == kind and seen[which] == n:
            die()
        return out

    Collection.upsert = upsert
elif kind == "bm25":
    import assay.ingest.lexical as lexical

    def write_state(folder, state):
        die()

    lexical._write_state = write_state
else:
    raise SystemExit(f"unknown crash point {point}")

from assay.app.cli import main

sys.exit(main(sys.argv[1:]))
"""


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    # Flushes of 64 chunks: the bundled corpus takes several, so kills land between and inside them.
    env.update(ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(ROOT), ASSAY_FLUSH_CHUNKS="64",
               HOME=str(tmp / "home"))
    (tmp / "home").mkdir(exist_ok=True)
    return env


def _ingest(tmp: Path, index: Path, corpus: Path) -> subprocess.CompletedProcess:
    r = subprocess.run([ASSAY, "--index", str(index), "ingest", "-q", str(corpus)], capture_output=True,
                       text=True, env=_env(tmp), timeout=1200)
    assert r.returncode == 0, f"ingest failed ({r.returncode}):\n{r.stdout}\n{r.stderr[-3000:]}"
    return r


def _ingest_killed_by_hook(tmp: Path, index: Path, corpus: Path, point: str) -> None:
    env = _env(tmp) | {"ASSAY_CRASH_AT": point}
    r = subprocess.run([sys.executable, "-c", _LAUNCHER, "--index", str(index), "ingest", "-q", str(corpus)],
                       capture_output=True, text=True, env=env, timeout=1200)
    assert r.returncode == -signal.SIGKILL and f"CRASH-HOOK {point}" in r.stderr, (
        f"the ingest was not killed at {point} (exit {r.returncode}) — did the write/encode path change?\n"
        f"{r.stdout}\n{r.stderr[-3000:]}")


def _ingest_killed_on_progress(tmp: Path, index: Path, corpus: Path, marker: str, delay: float = 0.0) -> str:
    """Run the real CLI with its progress bar; SIGKILL it `delay` s after `marker` shows on stderr."""
    p = subprocess.Popen([ASSAY, "--index", str(index), "ingest", str(corpus)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=_env(tmp))
    seen: list[str] = []
    hit = threading.Event()

    def read():
        buf = ""
        while True:
            ch = p.stderr.read(1)
            if not ch:
                return
            buf += ch.decode("utf-8", "replace")
            if marker in buf[-400:]:
                hit.set()
            seen.append(ch.decode("utf-8", "replace"))

    t = threading.Thread(target=read, daemon=True)
    t.start()
    try:
        assert hit.wait(600), f"never saw {marker!r}: {''.join(seen)[-2000:]}"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        assert p.wait(60) == -signal.SIGKILL, "the ingest finished before it could be killed"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.join(5)
    return "".join(seen)


def _state(index_dir: Path) -> dict:
    """Everything that must match a clean ingest, plus consistency checks of the index on its own."""
    index = Index(Settings(index_dir=index_dir))
    got = index.chunks.get(include=["metadatas", "documents", "embeddings"])
    ids = list(got["ids"])
    assert len(ids) == len(set(ids)) == index.chunks.count(), "duplicate chunk ids"
    manifest = {aid: {k: v for k, v in rec.items() if k != "assay_seq"} for aid, rec in index.manifest().items()}  # seq: when, not what
    per_article: dict[str, int] = {}
    for meta in got["metadatas"]:
        per_article[meta["article_id"]] = per_article.get(meta["article_id"], 0) + 1
    orphans = set(per_article) ^ set(manifest)
    assert not orphans, f"chunks without a manifest record or records without chunks: {sorted(orphans)}"
    for aid, rec in manifest.items():
        assert rec["n_chunks"] == per_article[aid], f"{aid}: record says {rec['n_chunks']}, index has {per_article[aid]}"
    lex = LexicalIndex.load(index.lexical_dir)
    assert lex is not None, "no readable saved BM25 index"
    assert sorted(lex.chunk_ids()) == sorted(ids), "the saved BM25 index does not hold the collection's chunks"
    assert {aid: lex.article_hash(aid) for aid in manifest} == {aid: rec["content_hash"] for aid, rec in manifest.items()}
    vectors = {cid: np.asarray(e, dtype=np.float32) for cid, e in zip(ids, got["embeddings"])}
    docs = dict(zip(ids, got["documents"]))
    article_of = {cid: meta["article_id"] for cid, meta in zip(ids, got["metadatas"])}
    return {"ids": sorted(ids), "manifest": manifest, "vectors": vectors, "docs": docs, "article_of": article_of}


def _assert_same(state: dict, clean: dict, what: str) -> None:
    assert state["ids"] == clean["ids"], f"{what}: chunk ids differ from a clean ingest"
    assert len(state["ids"]) == len(clean["ids"])
    assert state["manifest"] == clean["manifest"], f"{what}: manifest differs from a clean ingest"
    assert state["docs"] == clean["docs"], f"{what}: chunk texts differ"
    worst = max(float(np.abs(state["vectors"][c] - clean["vectors"][c]).max()) for c in clean["ids"])
    assert worst < 1e-3, f"{what}: a chunk's vector differs from the clean ingest by {worst}"


@pytest.fixture(scope="module")
def crash_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crash")
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    t = time.perf_counter()
    _ingest(tmp, tmp / "clean", corpus)
    took = time.perf_counter() - t
    shutil.copytree(tmp / "clean", tmp / "clean-copy")  # for the update scenario, before anyone opens it
    clean = _state(tmp / "clean")
    print(f"\nclean ingest of the corpus: {len(clean['ids'])} chunks, {len(clean['manifest'])} articles, {took:.1f} s")
    return tmp, corpus, clean


@pytest.mark.parametrize("point", ["progress:first-file", "encode", "chunks:2", "records:2", "bm25"])
def test_killed_ingest_completes_to_a_clean_index(crash_env, point):
    tmp, corpus, clean = crash_env
    index = tmp / f"ix-{point.replace(':', '-')}"
    t = time.perf_counter()
    if point == "progress:first-file":
        _ingest_killed_on_progress(tmp, index, corpus, marker="files 1/")
    else:
        _ingest_killed_by_hook(tmp, index, corpus, point)
    killed = time.perf_counter() - t
    t = time.perf_counter()
    _ingest(tmp, index, corpus)
    rerun = time.perf_counter() - t
    print(f"\n{point}: killed after {killed:.1f} s, completed in {rerun:.1f} s")
    _assert_same(_state(index), clean, point)
    # A further run finds nothing to do.
    again = _ingest(tmp, index, corpus)
    assert f"unchanged: {len(clean['manifest'])}" in again.stdout and "chunks written: 0" in again.stdout


@pytest.fixture(scope="module")
def edited_env(crash_env):
    """The corpus with one article edited, and the index an uninterrupted incremental run makes of it."""
    tmp, corpus, clean = crash_env
    edited = tmp / "corpus-edited"
    shutil.copytree(corpus, edited)
    f = edited / EDITED
    f.write_text(f.read_text() + "\n\nA closing paragraph about samarium recycling pilots in Ohio.\n")
    reference = tmp / "ix-update-ref"
    shutil.copytree(tmp / "clean-copy", reference)
    _ingest(tmp, reference, edited)
    return edited, _state(reference)


@pytest.mark.parametrize("point", ["chunks:1", "records:1"])
def test_killed_update_completes_without_stale_chunks_or_stale_bm25(crash_env, edited_env, point):
    """Killed while re-indexing an edited article (over an existing index with a saved BM25)."""
    tmp, corpus, clean = crash_env
    edited, ref = edited_env
    crashed = tmp / f"ix-update-{point.replace(':', '-')}"
    shutil.copytree(tmp / "clean-copy", crashed)
    _ingest_killed_by_hook(tmp, crashed, edited, point)
    _ingest(tmp, crashed, edited)
    got = _state(crashed)
    _assert_same(got, ref, f"update killed at {point}")
    old = {c for c, aid in clean["article_of"].items() if aid == EDITED}
    assert old and not (old & set(got["ids"])), "the edited article's old chunks were left behind"
    assert got["manifest"][EDITED]["content_hash"] != clean["manifest"][EDITED]["content_hash"]
    assert any("samarium recycling pilots in Ohio" in d for d in got["docs"].values())


def test_ask_works_after_recovered_crash(crash_env):
    tmp, corpus, clean = crash_env
    index = tmp / "ix-records-2"
    if not index.exists():
        pytest.skip("needs the records:2 scenario's index")
    r = subprocess.run([ASSAY, "--index", str(index), "ask", "Which countries is the US partnering with on rare earths?"],
                       capture_output=True, text=True, env=_env(tmp), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Sources:" in r.stdout and "[1]" in r.stdout, r.stdout
