"""LLM plumbing: parse ASSAY_LLM specs, build LangChain chat models, stream grounded answers."""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..ingest.config import Settings, redact, scrub_url
from .prompts import ANSWER_SYSTEM, ANSWER_USER, CANNOT_ANSWER, CONDENSE, CONDENSE_USER, format_passages
from .schema import Passage

log = logging.getLogger(__name__)

PROVIDERS = ("openai", "ollama", "local")
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"
NO_KEY = "sk-no-key"
TIMEOUT = 120.0  # seconds to wait for a reply; CPU-only models can be slow
CONNECT_TIMEOUT = 5.0
EXAMPLES = (
    "openai:gpt-4o-mini, openai:qwen2.5@http://127.0.0.1:8080/v1, "
    "ollama:llama3.2, ollama:llama3.2@http://127.0.0.1:11434, local:/models/model.gguf"
)
_SPEC = re.compile(r"(?P<model>[^@\s]+)(?:@(?P<url>\S+))?")


class LLMError(RuntimeError):
    """The LLM endpoint failed; the message says what to do and never contains a key."""


@dataclass(frozen=True)
class LLMSpec:
    provider: str  # openai | ollama | local
    model: str  # model name; for local, the .gguf path
    base_url: str | None = None  # None: the provider's default

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}" + (f"@{self.base_url}" if self.base_url else "")


def parse_spec(spec: str) -> LLMSpec:
    """Parse `openai:MODEL[@URL]`, `ollama:MODEL[@URL]` or `local:/path/model.gguf`."""
    provider, sep, rest = (spec or "").strip().partition(":")
    provider = provider.lower()
    if not sep or provider not in PROVIDERS or not rest.strip():
        raise ValueError(f"invalid LLM spec {redact(spec)!r}; expected e.g. {EXAMPLES}")
    if provider == "local":
        path = os.path.expanduser(rest.strip())
        if not path.lower().endswith(".gguf"):
            raise ValueError(f"invalid LLM spec {redact(spec)!r}: local needs a .gguf file, e.g. local:/models/model.gguf")
        return LLMSpec("local", path)
    m = _SPEC.fullmatch(rest.strip())
    if not m:
        raise ValueError(f"invalid LLM spec {redact(spec)!r}; expected e.g. {EXAMPLES}")
    url = m["url"]
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"invalid LLM URL in {redact(spec)!r}; expected e.g. {provider}:MODEL@http://127.0.0.1:8080/v1")
        if parts.username or parts.password:
            raise ValueError("put credentials in ASSAY_LLM_API_KEY, not in the LLM URL")
        url = url.rstrip("/")
    return LLMSpec(provider, m["model"], url)


def display_spec(spec: str | None) -> str:
    """`spec` as safe to show in a UI or report: no credentials, query string or fragment in the URL."""
    if not spec:
        return ""
    try:
        parsed = parse_spec(spec)
    except ValueError:
        provider = (spec or "").partition(":")[0].strip().lower()
        return f"{provider if provider in PROVIDERS else 'unknown'} (invalid spec)"
    if parsed.base_url:
        parsed = LLMSpec(parsed.provider, parsed.model, scrub_url(parsed.base_url))
    return str(parsed)


def _endpoint(spec: LLMSpec, settings: Settings | None = None) -> str:
    settings = settings or Settings.from_env()
    if spec.provider == "openai":
        return spec.base_url or (settings.openai_base_url or "").rstrip("/") or OPENAI_DEFAULT_URL
    if spec.provider == "ollama":
        return spec.base_url or settings.ollama_host or OLLAMA_DEFAULT_URL
    return local_server(spec.model, settings).base_url


def chat_model(spec: LLMSpec, *, temperature: float = 0.0, max_tokens: int = 400, settings: Settings | None = None):
    """A streaming LangChain chat model for `spec` (starts the in-process server for local:)."""
    settings = settings or Settings.from_env()
    if spec.provider == "ollama":
        ChatOllama = _needs("langchain_ollama", "ChatOllama", spec)

        return ChatOllama(
            model=spec.model,
            base_url=spec.base_url,  # None: the ollama client's default, which honours OLLAMA_HOST
            temperature=temperature,
            num_predict=max_tokens,
            client_kwargs={"timeout": TIMEOUT},
        )
    ChatOpenAI = _needs("langchain_openai", "ChatOpenAI", spec)
    import openai

    # Our own in-process server needs no key; never send a real one to it.
    key = NO_KEY if spec.provider == "local" else (settings.llm_key or NO_KEY)
    return ChatOpenAI(
        model=Path(spec.model).stem if spec.provider == "local" else spec.model,
        base_url=_endpoint(spec, settings),
        api_key=key,
        temperature=temperature,
        max_tokens=max_tokens,
        streaming=True,
        timeout=openai.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
        max_retries=1,
    )


def _messages(system: str, user: str) -> list:
    from langchain_core.messages import HumanMessage, SystemMessage

    return [SystemMessage(system), HumanMessage(user)]


def stream_answer(
    spec: LLMSpec, question: str, passages: list[Passage], *, temperature: float = 0.0, max_tokens: int = 400,
    settings: Settings | None = None,
) -> Iterator[str]:
    """Yield answer text deltas as the model writes them, grounded in `passages`."""
    if not passages:
        yield CANNOT_ANSWER
        return
    settings = settings or Settings.from_env()
    model = chat_model(spec, temperature=temperature, max_tokens=max_tokens, settings=settings)
    user = ANSWER_USER.format(passages=format_passages(passages), question=question.strip())
    try:
        for chunk in model.stream(_messages(ANSWER_SYSTEM, user)):
            if text := str(chunk.text):
                yield text
    except Exception as exc:
        _raise_llm_error(exc, spec, settings)
        raise


def complete_answer(spec: LLMSpec, question: str, passages: list[Passage], **kw) -> str:
    """The whole answer as one string."""
    return "".join(stream_answer(spec, question, passages, **kw))


_PREFIX = re.compile(r"^(?:standalone\s+|search\s+|rewritten\s+)?(?:query|question)\s*:\s*", re.IGNORECASE)


def condense_question(spec: LLMSpec, question: str, history: list[str], *, max_turns: int = 6, settings: Settings | None = None) -> str:
    """Rewrite a follow-up into a standalone search query; the question itself if there is no history."""
    turns = [h.strip() for h in history if h and h.strip()][-max_turns:]
    if not turns:
        return question
    settings = settings or Settings.from_env()
    user = CONDENSE_USER.format(history="\n".join(f"- {t}" for t in turns), question=question.strip())
    try:
        reply = chat_model(spec, max_tokens=64, settings=settings).invoke(_messages(CONDENSE, user))
    except Exception as exc:
        _raise_llm_error(exc, spec, settings)
        raise
    return _clean_query(str(reply.text), question)


def _clean_query(reply: str, question: str) -> str:
    """First line of `reply` without labels or quotes; `question` if that is empty or absurdly long."""
    lines = [ln.strip() for ln in reply.splitlines() if ln.strip()]
    query = _PREFIX.sub("", lines[0]).strip().strip("\"'`*“”‘’ ").strip() if lines else ""
    return query if query and len(query) <= 300 + len(question) else question


# ---------------------------------------------------------------- errors


def _scrub(text: str, settings: Settings | None = None) -> str:
    return redact(text, (settings or Settings.from_env()).secrets())[:300]


def _refused(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _needs(module: str, name: str, spec: LLMSpec):
    """`module.name`, or an LLMError saying what to install (the LLM writers are an extra)."""
    try:
        return getattr(__import__(module), name)
    except ImportError:
        raise LLMError(f"{spec.provider}: writers need {module.replace('_', '-')} — "
                       "install the LLM extra: .venv/bin/pip install -e '.[llm]'") from None


def _optional(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


def _raise_llm_error(exc: Exception, spec: LLMSpec, settings: Settings | None = None) -> None:
    """Raise an actionable LLMError for transport/HTTP failures; return for anything else."""
    if isinstance(exc, LLMError):
        raise exc
    settings = settings or Settings.from_env()

    openai, ollama = _optional("openai"), _optional("ollama")
    # openai>=3 speaks httpx2, ollama httpx; mid-stream read errors surface unwrapped from either
    http = [m for m in (_optional("httpx"), _optional("httpx2")) if m]
    timeouts = tuple(m.TimeoutException for m in http) + ((openai.APITimeoutError,) if openai else ())
    transport = tuple(m.TransportError for m in http) + ((openai.APIConnectionError,) if openai else ())
    url = scrub_url(_local_url(spec.model) if spec.provider == "local" else _endpoint(spec, settings))
    if isinstance(exc, timeouts):
        msg = f"LLM endpoint {url} timed out — check the server load or unset ASSAY_LLM to use the offline writer"
    elif isinstance(exc, transport + (ConnectionError,)):
        why = "connection refused" if _refused(exc) else f"connection failed: {type(exc).__name__}"
        msg = f"LLM endpoint {url} is not reachable ({why}) — start the server or unset ASSAY_LLM to use the offline writer"
    elif openai and isinstance(exc, openai.AuthenticationError):
        msg = f"LLM endpoint {url} rejected the API key (HTTP 401) — set ASSAY_LLM_API_KEY or OPENAI_API_KEY"
    elif openai and isinstance(exc, openai.NotFoundError):
        msg = (
            f"LLM endpoint {url} returned HTTP 404 for model {spec.model!r} — check the model name "
            f"and that the URL ends in /v1 ({_scrub(str(exc), settings)})"
        )
    elif openai and isinstance(exc, openai.APIStatusError):
        msg = f"LLM endpoint {url} returned HTTP {exc.status_code}: {_scrub(str(exc), settings)}"
    elif ollama and isinstance(exc, ollama.ResponseError):
        hint = f" — run `ollama pull {spec.model}`" if exc.status_code == 404 else ""
        msg = f"Ollama at {url} returned HTTP {exc.status_code}: {_scrub(str(exc.error), settings)}{hint}"
    else:
        return
    raise LLMError(msg) from None  # the cause may carry request headers; keep it out of tracebacks


# ---------------------------------------------------------------- local llama.cpp server


@dataclass
class LocalServer:
    """An in-process llama.cpp server (xllamacpp) listening on 127.0.0.1."""

    model_path: str
    base_url: str  # http://127.0.0.1:PORT/v1
    _server: object = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop the server; xllamacpp has no stop(), dropping the last reference joins its threads."""
        self._server = None


def start_local_server(
    model_path: str,
    *,
    n_ctx: int = 8192,
    n_parallel: int = 2,
    n_threads: int | None = None,
    ready_timeout: float = 120.0,
    settings: Settings | None = None,
) -> LocalServer:
    """Start a new in-process llama.cpp server for `model_path` on a free loopback port and wait until ready."""
    path = os.path.abspath(os.path.expanduser(model_path))
    if not os.path.isfile(path):
        raise LLMError(f"GGUF model not found: {path}")
    try:
        import xllamacpp
    except ImportError:
        raise LLMError("local: needs xllamacpp — pip install 'assay[llm]'") from None
    params = xllamacpp.CommonParams()
    params.model.path = path
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the OS picks a free port; listening_address reports it
    params.n_ctx = n_ctx
    params.n_parallel = n_parallel
    params.kv_unified = True  # every slot may use the whole context, slots share the cache
    # Half the cores: llama.cpp threads spin-wait, and when another process (or our own torch) holds a
    # core, using all of them made SmolLM2 ~8x slower on 2 vCPUs; ASSAY_LLAMA_THREADS=-1 means all.
    settings = settings or Settings.from_env()
    default = max(1, (os.cpu_count() or 2) // 2)
    threads = n_threads if n_threads is not None else (settings.llama_threads if settings.llama_threads is not None else default)
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = settings.llama_verbosity  # 1 = errors only; llama.cpp logs to stderr
    t0 = time.monotonic()
    log.info("starting llama.cpp server for %s", path)
    try:
        server = xllamacpp.Server(params)  # blocks until the model is loaded
    except Exception as exc:
        raise LLMError(f"llama.cpp could not load {path}: {exc}") from None
    root = server.listening_address.rstrip("/")
    deadline = t0 + ready_timeout
    while True:
        try:
            with urllib.request.urlopen(root + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise LLMError(f"llama.cpp server at {root} not ready after {ready_timeout:.0f}s")
        time.sleep(0.1)
    log.info("llama.cpp server ready at %s in %.1fs", root, time.monotonic() - t0)
    return LocalServer(path, root + "/v1", server)


_servers: dict[str, LocalServer] = {}
_servers_lock = threading.Lock()


def _local_url(model_path: str) -> str:
    srv = _servers.get(os.path.abspath(os.path.expanduser(model_path)))
    return srv.base_url if srv else "local llama.cpp server"


def local_server(model_path: str, settings: Settings | None = None) -> LocalServer:
    """The process-wide server for `model_path`, started on first use."""
    path = os.path.abspath(os.path.expanduser(model_path))
    with _servers_lock:
        if path not in _servers:
            _servers[path] = start_local_server(path, settings=settings)
        return _servers[path]


def stop_local_servers() -> None:
    """Stop every server started by local_server()."""
    with _servers_lock:
        while _servers:
            _servers.popitem()[1].stop()


# Stop servers before interpreter teardown; letting GC destroy them late can crash in native code.
atexit.register(stop_local_servers)
