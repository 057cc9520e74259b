"""Shared fixtures: real Chroma in tmp dirs, the real packaged model, the shared corpora."""

import os
from contextlib import contextmanager
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
    from assay.app.retrieve import Engine
    from assay.ingest.config import Settings
    from assay.ingest.pipeline import Ingestor

    settings = Settings(index_dir=tmp_path_factory.mktemp("corpus-index") / "index")
    summary = Ingestor(settings).run([ROOT / "corpus"], progress=False)
    assert not summary.failed, summary.failed
    return Engine(settings)


CHROMIUM = os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def write_corpus(folder: Path, docs: dict[str, str]) -> Path:
    """A folder of articles {file name: text}, created; returns it."""
    folder.mkdir(parents=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_corpus(base: Path):
    """The bundled corpus ingested into base/index and the chat launched on a free loopback port.

    Returns (demo, url, engine); uploads go to base/corpus. Callers close `demo`.
    """
    from assay.app.retrieve import Engine
    from assay.app.chat import launch
    from assay.ingest.config import Settings
    from assay.ingest.pipeline import Ingestor

    settings = Settings.from_env(index_dir=base / "index")
    engine = Engine(settings)
    summary = Ingestor(settings, index=engine.index).run([ROOT / "corpus"], progress=False)
    assert not summary.failed, summary.failed
    engine.embed(["warm up"], cache="q")
    demo, url = launch(settings, port=free_port(), engine=engine, corpus_dir=base / "corpus", block=False, quiet=True)
    return demo, url, engine


@contextmanager
def chromium():
    """Debian's chromium, headless, driven by playwright; skips when it is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def chromium_browser():
    """The one headless Debian chromium of the test session, driven by playwright.

    Session-wide and shared by every browser test: only one sync playwright may run per thread,
    so two fixtures that each started one failed depending on test order.
    """
    with chromium() as b:
        yield b


@pytest.fixture
def loopback_port():
    """A free TCP port on 127.0.0.1 (nothing listens on it when the test starts)."""
    return free_port()
