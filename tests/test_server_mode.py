"""Assay against a real `chroma run` server: every command through the CLI, and a chat-side Engine
that notices what another process ingested (dense and lexical side) without a restart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from tests.live_ingest import ASSAY, PARTNERS, assay_env, ingest_while_answering

pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).with_name("chroma")
SMALL = ["2025-11-12-us-expands-partnerships-for-rare-earths.txt", "uscode_42_13344_rare_earth_elements.md",
         "wh_2025-10-20_factsheet_australia_deals.md"]




def start_chroma(path: Path, port: int, timeout: float = 60.0) -> subprocess.Popen:
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed in the venv")
    log = open(path.parent / f"chroma-{port}.log", "wb")
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited with {proc.returncode}: {(path.parent / f'chroma-{port}.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma run did not answer its heartbeat in time")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    proc = start_chroma(tmp / "data", port)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """Isolate the lexical cache (~/.cache/assay/lexical) of this test and its subprocesses."""
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def small_corpus(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in SMALL:
        shutil.copy(ROOT / "corpus" / name, dest / name)
    return dest


def run_cli(capsys, *args) -> tuple[int, str, str]:
    from assay.app.cli import main

    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err



def article_of(engine, chunk_id: str) -> str:
    return engine.index.chunks.get(ids=[chunk_id], include=["metadatas"])["metadatas"][0]["article_id"]


def test_cli_round_trip_against_server(server, tmp_path, cache_home, capsys):
    """ingest -> ask -> re-ingest (nothing written) -> edit + delete -> ingest --prune -> ask."""
    import chromadb

    corpus = small_corpus(tmp_path / "corpus")
    g = ["--chroma-url", server, "--collection", "roundtrip"]

    rc, out, err = run_cli(capsys, *g, "ingest", str(corpus), "--json")
    assert rc == 0, err
    first = json.loads(out)
    assert sorted(first["added"]) == sorted(SMALL) and first["chunks_written"] > 0

    rc, out, err = run_cli(capsys, *g, "ask", PARTNERS, "--json")
    assert rc == 0, err
    ans = json.loads(out)
    assert not ans["abstained"]
    assert SMALL[0] in {c["article_id"] for c in ans["citations"]}
    assert "Canada" in ans["text"]

    rc, out, err = run_cli(capsys, *g, "ingest", str(corpus), "--json")
    again = json.loads(out)
    assert rc == 0 and sorted(again["unchanged"]) == sorted(SMALL) and again["chunks_written"] == 0

    edited, gone = corpus / SMALL[1], corpus / SMALL[2]
    edited.write_text(edited.read_text() + "\n\nThe Quillmark amendment adds a yearly rare earth stockpile review.\n")
    gone.unlink()
    rc, out, err = run_cli(capsys, *g, "ingest", str(corpus), "--prune", "--json")
    pruned = json.loads(out)
    assert rc == 0, err
    assert pruned["updated"] == [SMALL[1]] and pruned["removed"] == [SMALL[2]] and pruned["added"] == []

    host, port = server.removeprefix("http://").split(":")
    raw = chromadb.HttpClient(host=host, port=int(port)).get_collection("roundtrip", embedding_function=None)
    assert raw.get(where={"article_id": SMALL[2]}, include=[])["ids"] == []
    assert raw.get(where={"article_id": SMALL[1]}, include=[])["ids"]

    rc, out, err = run_cli(capsys, *g, "ask", "What does the Quillmark amendment add?", "--json")
    assert rc == 0, err
    ans = json.loads(out)
    assert not ans["abstained"] and SMALL[1] in {c["article_id"] for c in ans["citations"]}
    assert "stockpile" in ans["text"]

    rc, out, err = run_cli(capsys, *g, "index", "stats", "--json")
    assert rc == 0 and json.loads(out)["articles"] == 2

    # the lexical cache lives outside the server; deleting it is harmless (rebuilt on the next ask)
    caches = list((cache_home / "assay" / "lexical").iterdir())
    assert caches and all((c / "state.json").exists() for c in caches)
    for c in caches:
        shutil.rmtree(c)
    rc, out, err = run_cli(capsys, *g, "ask", PARTNERS, "--json")
    assert rc == 0 and not json.loads(out)["abstained"]
    assert any((c / "state.json").exists() for c in (cache_home / "assay" / "lexical").iterdir())

    # eval against the server (--corpus would use a temp embedded index instead)
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "p1", "kind": "partners", "question": PARTNERS, "facts": [["canada"]], "sources": [SMALL[0]]}) + "\n")
    rc, out, err = run_cli(capsys, *g, "eval", str(questions), "--out", str(tmp_path / "run"), "-q")
    assert rc == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["means"]["hit_at_k"] == 1.0 and summary["meta"]["index"] == server

    # --rebuild against a server drops and re-creates the collections
    rc, out, err = run_cli(capsys, *g, "ingest", str(corpus), "--rebuild", "--json")
    assert rc == 0 and sorted(json.loads(out)["added"]) == sorted(SMALL[:2])


def test_unreachable_server_is_one_clear_line(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for args in (["ingest", str(tmp_path)], ["index", "stats"], ["ask", "anything"]):
        rc, out, err = run_cli(capsys, "--chroma-url", url, *args)
        assert rc == 2, (args, out, err)
        assert f"Chroma server at {url} is not reachable" in err and "chroma run --path" in err
        assert "Traceback" not in err
    rc, out, err = run_cli(capsys, "--chroma-url", "ftp://nowhere", "index", "stats")
    assert rc == 2 and "not an http://host:port address" in err


def test_engine_sees_external_ingest_while_answering(server, tmp_path, cache_home):
    """An ingest in another process while this process answers; afterwards the same Engine
    finds the new article on both the dense and the lexical side (no restart)."""
    from assay.app.answer import answer
    from assay.app.retrieve import Engine
    from assay.ingest.config import Settings
    from assay.ingest.pipeline import Ingestor

    settings = Settings(chroma_url=server, collection="live")
    summary = Ingestor(settings).run([small_corpus(tmp_path / "corpus")], progress=False)
    assert not summary.failed
    engine = Engine(settings)
    engine.index.stale_check_seconds = 0.2
    before = answer("Where is the Zorbium refinery?", [], engine=engine)
    assert before.abstained

    extra = tmp_path / "extra"
    ingest_while_answering(engine, ["--chroma-url", server, "--collection", "live"], extra)
    lexical = engine.lexical("Zorbium Quillmark", 5)
    assert lexical and article_of(engine, lexical[0][0]) == "zorbium.md"

    # and the other way round: deleting it from another process is noticed as well
    (extra / "zorbium.md").unlink()
    done = subprocess.run([str(ASSAY), "--chroma-url", server, "--collection", "live", "ingest", str(extra), str(tmp_path / "corpus"),
                           "--prune", "--json"], capture_output=True, text=True, env=assay_env(), cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed"] == ["zorbium.md"]
    time.sleep(0.3)
    assert all(article_of(engine, cid) != "zorbium.md" for cid, _ in engine.lexical("Zorbium Quillmark", 5))
    assert answer("Where is the Zorbium refinery?", [], engine=engine).abstained


@pytest.mark.skipif(not (ROOT.parent / "shared" / "corpus-scale").is_dir(), reason="../shared/corpus-scale is not present")
def test_bench_runs_against_the_server_and_cleans_up(server, tmp_path, cache_home, capsys):
    """`assay --chroma-url URL bench` keeps every index of the run on the server and deletes them after."""
    import chromadb

    host, port = server.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port))
    before = {c.name for c in client.list_collections()}
    rc, out, err = run_cli(capsys, "--chroma-url", server, "bench", "--quick", "--quiet", "--phases", "growth,store", "--out", str(tmp_path))
    assert rc == 0, err[-3000:]
    r = json.loads(next(tmp_path.glob("*-quick.json")).read_text())
    assert r["params"]["chroma"] == server
    cps = [c for c in r["checkpoints"].values() if c.get("latency")]
    assert cps and all(c["index_chunks"] > 0 and c["latency"]["answer"]["n"] > 0 for c in cps)
    assert r["reingest"]["written"] == 0 and r["reingest"]["unchanged"] > 0
    assert r["store"]["sizes"], r["store"]
    assert r["params"]["collection"].startswith("assay-bench-")
    after = {c.name for c in client.list_collections()}
    assert after == before, f"bench left collections behind: {sorted(after - before)}"
