"""A full disk is named as such (issue 15), not as a corrupt index, and the ingest converges to
the clean index once space is freed. A real tmpfs (needs root to mount), the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root")]


def _ingest(index, corpus) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "assay.app.cli", "--index", str(index), "ingest", str(corpus), "-q"],
                          capture_output=True, text=True, env=env, timeout=600)


def test_disk_full_says_so_and_converges_after_space_is_freed(tmp_path, corpus_engine):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        full = _ingest(mnt / "index", ROOT / "corpus")
        assert full.returncode != 0
        assert "disk full at" in full.stderr and "MB free" in full.stderr and "cannot be read" not in full.stderr, full.stderr
        subprocess.run(["mount", "-o", "remount,size=300m", str(mnt)], check=True)  # space freed
        again = _ingest(mnt / "index", ROOT / "corpus")
        assert again.returncode == 0, again.stderr
        from assay.ingest.config import Settings
        from assay.ingest.index import Index
        from assay.ingest.pipeline import check_index

        got = Index(Settings(index_dir=mnt / "index"))
        clean = corpus_engine.index
        assert sorted(got.chunks.get(include=[])["ids"]) == sorted(clean.chunks.get(include=[])["ids"])
        assert check_index(got).ok
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
