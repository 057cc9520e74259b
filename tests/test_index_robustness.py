"""Damaged or missing index files give a clear message with the rebuild command (or the lexical
index is rebuilt transparently); an embedded index survives a CLI ingest while a chat serves it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_corpus
from tests.live_ingest import ASSAY, PARTNERS, ZORBIUM, assay_env, ingest_while_answering

SMALL = ["2025-11-12-us-expands-partnerships-for-rare-earths.txt", "uscode_42_13344_rare_earth_elements.md",
         "wh_2025-10-20_factsheet_australia_deals.md"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, Path]:
    """(corpus folder, index folder) built once; tests work on copies of the index."""
    from assay.ingest.config import Settings
    from assay.ingest.pipeline import Ingestor

    base = tmp_path_factory.mktemp("robust")
    corpus = base / "corpus"
    corpus.mkdir()
    for name in SMALL:
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    index = base / "index"
    summary = Ingestor(Settings(index_dir=index)).run([corpus], progress=False)
    assert sorted(summary.added) == sorted(SMALL)
    return corpus, index


@pytest.fixture
def index_copy(pristine, tmp_path) -> Path:
    dest = tmp_path / "index"
    shutil.copytree(pristine[1], dest, ignore=shutil.ignore_patterns("write.lock"))
    return dest


def cli(capsys, index: Path, *args) -> tuple[int, str, str]:
    from assay.app.cli import main

    capsys.readouterr()
    rc = main(["--index", str(index), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def assert_answers(capsys, index: Path) -> None:
    rc, out, err = cli(capsys, index, "ask", PARTNERS, "--json")
    assert rc == 0, err
    ans = json.loads(out)
    assert not ans["abstained"] and SMALL[0] in {c["article_id"] for c in ans["citations"]}


def assert_rebuild_fixes(capsys, index: Path, corpus: Path) -> None:
    rc, out, err = cli(capsys, index, "ingest", str(corpus), "--rebuild", "--json")
    assert rc == 0, err
    assert sorted(json.loads(out)["added"]) == sorted(SMALL)
    assert_answers(capsys, index)


def uuid_dirs(index: Path) -> list[Path]:
    return [p for p in index.iterdir() if p.is_dir() and len(p.name) == 36 and p.name.count("-") == 4]


# -- the Chroma files ------------------------------------------------------------------------

def test_missing_sqlite(pristine, index_copy, capsys):
    (index_copy / "chroma.sqlite3").unlink()
    rc, out, err = cli(capsys, index_copy, "ask", PARTNERS)
    assert rc == 2 and "assay ingest corpus/ --rebuild" in err and "chroma.sqlite3" in err
    rc, out, err = cli(capsys, index_copy, "index", "stats")
    assert rc == 2 and "--rebuild" in err
    assert_rebuild_fixes(capsys, index_copy, pristine[0])


@pytest.mark.parametrize("how", ["half", "garbage"])
def test_damaged_sqlite(pristine, index_copy, capsys, how):
    db = index_copy / "chroma.sqlite3"
    if how == "half":
        with open(db, "r+b") as f:
            f.truncate(db.stat().st_size // 2)
    else:
        db.write_bytes(os.urandom(64 * 1024))
    for args in (["ask", PARTNERS], ["ingest", str(pristine[0])], ["index", "stats"]):
        rc, out, err = cli(capsys, index_copy, *args)
        assert rc == 2, (args, out, err)
        assert "cannot be read" in err and "assay ingest corpus/ --rebuild" in err
    assert_rebuild_fixes(capsys, index_copy, pristine[0])


def test_empty_sqlite_file(pristine, index_copy, capsys):
    with open(index_copy / "chroma.sqlite3", "r+b") as f:
        f.truncate(0)
    rc, out, err = cli(capsys, index_copy, "ask", PARTNERS)
    assert rc == 2 and "--rebuild" in err
    assert_rebuild_fixes(capsys, index_copy, pristine[0])


FILL = """
import sys, numpy as np, chromadb
from chromadb.config import Settings
col = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False)).get_collection("assay", embedding_function=None)
v = np.random.default_rng(0).normal(size=(1500, 384)).astype("float32")
v /= np.linalg.norm(v, axis=1, keepdims=True)
col.add(ids=[f"filler-{i}" for i in range(1500)], embeddings=v.tolist(), documents=["filler"] * 1500,
        metadatas=[{"article_id": "filler"}] * 1500)
"""


@pytest.mark.slow
def test_garbage_in_vector_segment(pristine, index_copy, capsys):
    # enough vectors that Chroma persists its HNSW segment files (small ones live in the log)
    subprocess.run([sys.executable, "-c", FILL, str(index_copy)], check=True, timeout=300)
    damaged = 0
    for seg in uuid_dirs(index_copy):
        for f in seg.iterdir():
            f.write_bytes(os.urandom(1000))
            damaged += 1
    assert damaged
    rc, out, err = cli(capsys, index_copy, "ask", PARTNERS)
    assert rc == 2, out
    assert "cannot be read" in err and "assay ingest corpus/ --rebuild" in err
    assert_rebuild_fixes(capsys, index_copy, pristine[0])


# -- the lexical index is rebuilt transparently ---------------------------------------------

def test_lexical_folder_deleted(index_copy, capsys):
    shutil.rmtree(index_copy / "lexical")
    assert_answers(capsys, index_copy)
    assert (index_copy / "lexical" / "state.json").exists()


@pytest.mark.parametrize("damage", ["state-garbage", "state-truncated", "arrays-garbage", "vocabulary-cut"])
def test_lexical_files_corrupt(index_copy, capsys, damage):
    folder = index_copy / "lexical"
    state = folder / "state.json"
    if damage == "state-garbage":
        state.write_bytes(os.urandom(300))
    elif damage == "state-truncated":
        state.write_text(state.read_text()[:50])
    elif damage == "arrays-garbage":
        for f in folder.glob("seg-*/*.npy"):
            f.write_bytes(b"\x00garbage" * 10)
    else:
        for f in folder.glob("terms-*.txt"):
            f.write_text("just\nthree\nwords\n")
    assert_answers(capsys, index_copy)
    json.loads(state.read_text())  # rewritten whole


# -- embedded index: CLI ingest while a chat process serves it --------------------------------


def test_cli_ingest_refused_while_another_process_writes(index_copy, tmp_path):
    from assay.ingest.config import Settings
    from assay.ingest.index import Index

    extra = write_corpus(tmp_path / "extra", {"zorbium.md": ZORBIUM})
    with Index(Settings(index_dir=index_copy)).writer():  # e.g. the chat indexing an upload
        done = subprocess.run([str(ASSAY), "--index", str(index_copy), "ingest", str(extra)], capture_output=True, text=True,
                              env=assay_env(ASSAY_LOCK_TIMEOUT="0.5"), cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert "another Assay process is writing" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_cli_ingest_while_chat_serves_embedded_index(index_copy, tmp_path):
    """The chat's Engine keeps answering during an `assay ingest` in another process, then sees the
    new article (dense and lexical) without restart; its own upload afterwards is consistent."""
    from assay.app.answer import answer
    from assay.app.retrieve import Engine
    from assay.ingest.config import Settings
    from assay.ingest.pipeline import Ingestor

    settings = Settings(index_dir=index_copy)
    engine = Engine(settings)
    engine.index.stale_check_seconds = 0.2
    assert answer("Where is the Zorbium refinery?", [], engine=engine).abstained  # HNSW now loaded in memory

    ingest_while_answering(engine, ["--index", str(index_copy)], tmp_path / "extra")

    # the chat's own upload after the external write goes through a fresh view: nothing lost
    upload = tmp_path / "uploads"
    upload.mkdir()
    (upload / "quill.md").write_text("# Quill valley\n\nThe Quill valley co-operative recycles magnets from wind turbines.\n")
    s = Ingestor(settings, index=engine.index).run([upload], progress=False)
    assert s.added == ["quill.md"]

    stats = subprocess.run([str(ASSAY), "--index", str(index_copy), "index", "stats", "--json"], capture_output=True, text=True,
                           env=assay_env(), cwd=ROOT, timeout=120)
    assert stats.returncode == 0, stats.stderr
    st = json.loads(stats.stdout)
    assert sorted(st["items"]) == sorted([*SMALL, "zorbium.md", "quill.md"])
    assert st["chunks"] == sum(int(r["n_chunks"]) for r in st["items"].values())
    asked = subprocess.run([str(ASSAY), "--index", str(index_copy), "ask", "Where is the Zorbium refinery?", "--json"],
                           capture_output=True, text=True, env=assay_env(), cwd=ROOT, timeout=300)
    assert asked.returncode == 0, asked.stderr
    assert "zorbium.md" in {c["article_id"] for c in json.loads(asked.stdout)["citations"]}
