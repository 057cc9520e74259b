"""`assay ingest --rebuild` while the chat answers (issue 15): the rebuild fills collections beside
the live ones and swaps them in when complete, so answers keep coming from the old index during
the rebuild and from the new one after it — never "the articles don't say" because of it.
Real embedded Chroma, a real second process, the real model."""

from __future__ import annotations

import shutil
import subprocess
import threading

import pytest

from assay.app.answer import answer
from assay.app.retrieve import Engine
from assay.ingest.config import Settings

from .conftest import ROOT
from .live_ingest import ASSAY, PARTNERS, assay_env

pytestmark = pytest.mark.slow


def test_rebuild_while_answering_never_answers_dont_say(tmp_path, corpus_engine):
    index = tmp_path / "index"
    shutil.copytree(corpus_engine.settings.index_dir, index, ignore=shutil.ignore_patterns("*.lock"))
    engine = Engine(Settings(index_dir=index))
    engine.index.stale_check_seconds = 0.5
    assert not answer(PARTNERS, [], engine=engine).abstained
    proc = subprocess.Popen([str(ASSAY), "--index", str(index), "ingest", str(ROOT / "corpus"), "--rebuild", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=assay_env(ASSAY_STALE_CHECK_SECONDS="0.5"))
    outcomes: list[str] = []

    def keep_asking():
        while proc.poll() is None:
            try:
                a = answer(PARTNERS, [], engine=engine)
                outcomes.append("abstained: " + a.text[:80] if a.abstained else "answered")
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                outcomes.append(f"error: {type(e).__name__}: {e}")

    t = threading.Thread(target=keep_asking)
    t.start()
    out, err = proc.communicate(timeout=600)
    t.join(120)
    assert proc.returncode == 0, err
    assert "added: 15" in out
    assert outcomes and all(o == "answered" for o in outcomes), [o for o in outcomes if o != "answered"][:5]
    after = answer(PARTNERS, [], engine=engine)  # from the new collections now
    assert not after.abstained
    assert sorted(engine.index.chunks.get(include=[])["ids"]) == sorted(corpus_engine.index.chunks.get(include=[])["ids"])
    import chromadb

    names = {c.name for c in chromadb.PersistentClient(str(index)).list_collections()}
    assert names == {"assay", "assay__articles"}  # the staging and the replaced collections are gone
