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
