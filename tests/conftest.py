"""Shared fixtures: real Chroma in tmp dirs, the real packaged model, the shared corpora."""

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.llm_fixture"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture(scope="session")
def corpus_engine(tmp_path_factory):
    """The bundled corpus/ ingested once per session into a temp index, with its Engine."""
    from app.retrieve import Engine
    from ingest.config import Settings
    from ingest.pipeline import Ingestor

    settings = Settings(index_dir=tmp_path_factory.mktemp("corpus-index") / "index")
    summary = Ingestor(settings).run([ROOT / "corpus"], progress=False)
    assert not summary.failed, summary.failed
    return Engine(settings)


CHROMIUM = os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium_browser():
    """A headless Debian chromium through playwright, for browser tests outside test_ui.py.

    Module-scoped on purpose: only one sync playwright may run per thread, and test_ui.py starts its
    own session-wide one; this one is closed when its module finishes (test_security.py sorts before it).
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def loopback_port():
    """A free TCP port on 127.0.0.1 (nothing listens on it when the test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
