"""Shared by the embedded-index and the Chroma-server tests: an `assay ingest` in another process
while a chat's Engine keeps answering, and what the chat must see afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import ROOT, write_corpus

ASSAY = Path(sys.executable).with_name("assay")
PARTNERS = "Which countries is the US partnering with on rare earths?"
ZORBIUM = """---
title: The Zorbium refinery opens in Quillmark
date: 2025-12-01
publisher: Assay test desk
---

# Zorbium refinery

The Zorbium refinery in Quillmark separates 4,321 tonnes of neodymium oxide per year.
It is the first heavy rare earth separation plant built in the Quillmark valley.
"""


def assay_env(**extra) -> dict:
    """The environment for a child `assay`: offline, no telemetry, no index settings inherited."""
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False", HF_HUB_OFFLINE="1", **extra)
    for k in ("ASSAY_CHROMA_URL", "ASSAY_INDEX"):
        env.pop(k, None)
    return env


def ingest_while_answering(engine, target: list[str], folder: Path) -> None:
    """Write the Zorbium article to `folder`, run `assay <target> ingest folder` in another process
    while `engine` keeps answering; every answer during the ingest must succeed, and afterwards
    the engine must find and cite the new article (dense side) without a restart."""
    from assay.app.answer import answer

    write_corpus(folder, {"zorbium.md": ZORBIUM})
    proc = subprocess.Popen([str(ASSAY), *target, "ingest", str(folder), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=assay_env(), cwd=ROOT)
    answered, errors = [], []

    def keep_asking():
        while proc.poll() is None:
            try:
                answered.append(not answer(PARTNERS, [], engine=engine).abstained)
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(e))

    t = threading.Thread(target=keep_asking)
    t.start()
    out, err = proc.communicate(timeout=300)
    t.join(60)
    assert proc.returncode == 0, err
    assert json.loads(out)["added"] == ["zorbium.md"]
    assert not errors, errors
    assert answered and all(answered)

    deadline = time.monotonic() + 10  # the reader looks every stale_check_seconds: seconds, not a restart
    while True:
        time.sleep(0.3)
        dense = engine.dense("Zorbium refinery in Quillmark neodymium", 3)
        if any(p.article_id == "zorbium.md" for p, _ in dense) or time.monotonic() > deadline:
            break
    assert any(p.article_id == "zorbium.md" for p, _ in dense), "the chat's vector index is stale"
    after = answer("Where is the Zorbium refinery?", [], engine=engine)
    assert not after.abstained and "zorbium.md" in {c.article_id for c in after.citations}
