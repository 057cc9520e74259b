"""`assay chat`: the Gradio web UI. The only module that imports gradio.

The UI only formats what `stream_answer()` returns; retrieval and answering live in
`app.answer` / `app.retrieve`.

How citations work
------------------
Every assistant message is HTML built here (the Chatbot runs with ``render_markdown=False``
and ``sanitize_html=True``). All text that comes from articles, file names, questions or
errors goes through `html.escape()`, so markup in a document is shown literally and markdown
syntax is never interpreted. Each ``[n]`` marker is a ``<button class="assay-cite assay-n-N">``;
the passage behind it travels in the same message as a hidden ``<div class="assay-src
assay-n-N">`` (title, date, publisher, source link, passage with the supporting sentences in
``<mark>``). A small document-level click handler (passed through ``launch(head=...)``) copies
that hidden block into the "Sources" panel beside the chat. Gradio's sanitizer drops
``data-*`` attributes, hence the class names.

HTTP API
--------
``ask`` — a stable named endpoint returning the structured answer (``Answer.to_dict()``)::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")            # auth=("user", "pass") if enabled
    result = client.predict(
        "Which countries is the US partnering with on rare earths?",   # question
        [],                                                  # history: earlier user questions
        6,                                                   # k: passages to retrieve
        api_name="/ask",
    )
    result["text"], result["citations"][0]["quote"], result["abstained"]

``history`` is a list of earlier user questions (oldest first) or the same list as a JSON
string; chat-style ``[{"role": "user", "content": ...}, ...]`` lists are accepted too (only
user turns are used). Optional trailing arguments: ``articles`` (list of article ids),
``since`` / ``until`` (YYYY[-MM[-DD]]).

Limits and security
-------------------
``ASSAY_QUEUE_SIZE`` (default 64) bounds the request queue: beyond it Gradio answers "Queue is full"
(HTTP 503) instead of piling up work; ``ASSAY_CONCURRENCY`` (default 2) answers run at once. Uploads
go through `save_uploads()` (safe names, size/count limits, type checked by content, written only
inside ``<corpus>/uploads``). See SECURITY.md for the threat model and the tests behind it.
"""

from __future__ import annotations

import html
import json
import os
import queue as queue_mod
import re
import shutil
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import gradio as gr  # noqa: E402

from ..ingest.config import Settings  # noqa: E402
from ..ingest.load import SUPPORTED_SUFFIXES  # noqa: E402

from .answer import stream_answer  # noqa: E402
from .llm import display_spec  # noqa: E402
from .retrieve import Engine, Filters  # noqa: E402
from .schema import Answer  # noqa: E402

MAX_UPLOAD_FILES = 20
SHOW_FILES = 5  # per-file lines in an ingest report before "… and N more"
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
DEFAULT_K = 6
OFFLINE = "Offline (extractive quotes)"
EXAMPLES = [
    "Which countries is the US partnering with on rare earths?",
    "What are rare earth elements used for?",
    "What are the main challenges in the rare earth supply chain?",
]
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def esc(value: Any) -> str:
    """Text -> HTML text. Everything that is not our own markup goes through here."""
    return html.escape("" if value is None else str(value), quote=True)


def env_int(name: str, default: int, lo: int, hi: int) -> int:
    """An integer setting from the environment, clamped to [lo, hi]; `default` when unset or invalid."""
    try:
        return min(hi, max(lo, int(os.environ.get(name, "").strip() or default)))
    except ValueError:
        return default


def corpus_dir_for(settings: Settings, corpus_dir: str | Path | None = None) -> Path:
    """Where uploads are saved (``<corpus>/uploads``): argument, settings, $ASSAY_CORPUS, "corpus"."""
    return Path(corpus_dir or getattr(settings, "corpus_dir", None) or os.environ.get("ASSAY_CORPUS") or "corpus")


# ------------------------------------------------------------------ rendering answers


def _safe_url(url: str) -> str | None:
    try:
        parsed = urlparse((url or "").strip())
    except ValueError:
        return None
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return url.strip()
    return None


def _cite_button(n: int) -> str:
    return f'<button class="assay-cite assay-n-{int(n)}" title="Show source {int(n)}">{int(n)}</button>'


def _highlight(text: str, offset: int, spans: list[list[int]]) -> str:
    """Escape `text` (starting at article offset `offset`) with `spans` (article offsets) in <mark>."""
    rel = sorted((max(0, a - offset), min(len(text), b - offset)) for a, b in spans if b > a)
    merged: list[list[int]] = []
    for a, b in rel:
        if a >= b:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, pos = [], 0
    for a, b in merged:
        out.append(esc(text[pos:a]))
        out.append(f"<mark>{esc(text[a:b])}</mark>")
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


def _meta_line(published: str, publisher: str) -> str:
    bits = [f"Published {esc(published)}" if published else "Undated"]
    if publisher:
        bits.append(esc(publisher))
    return " · ".join(bits)


def _source_block(c: dict) -> str:
    """Hidden per-citation panel content, copied into the Sources panel on click."""
    spans = c.get("spans") or [[c["start"], c["end"]]]
    url = _safe_url(c.get("source_url", ""))
    link = f'<a class="assay-src-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">Open the original source ↗</a>' if url else '<span class="assay-muted">No link to the original source.</span>'
    passage = _highlight(c.get("passage_text", ""), int(c.get("passage_start", 0)), spans)
    return (
        f'<div class="assay-src assay-n-{int(c["n"])}" hidden>'
        f'<div class="assay-src-n">Source [{int(c["n"])}]</div>'
        f'<h3 class="assay-src-title">{esc(c.get("title") or c.get("article_id"))}</h3>'
        f'<div class="assay-src-meta">{_meta_line(c.get("published", ""), c.get("publisher", ""))}</div>'
        f'<div class="assay-src-linkrow">{link}</div>'
        f'<blockquote class="assay-passage">{passage}</blockquote>'
        f'<div class="assay-src-id">{esc(c.get("article_id", ""))} · characters {int(c.get("passage_start", 0))}–{int(c.get("passage_end", 0))}</div>'
        "</div>"
    )


def _sentences_html(a: dict) -> str:
    sentences = a.get("sentences") or []
    if not sentences:  # fall back to the text with its markers
        text = a.get("text", "")
        out, pos = [], 0
        for m in _MARKER.finditer(text):
            out.append(esc(text[pos : m.start()]))
            out.append("".join(_cite_button(int(x)) for x in m.group(1).split(",")))
            pos = m.end()
        out.append(esc(text[pos:]))
        return "".join(out)
    parts = []
    for s in sentences:
        cites = "".join(_cite_button(n) for n in s.get("citations", []))
        cls = "assay-sent" if s.get("supported", True) else "assay-sent assay-unsupported"
        title = "" if s.get("supported", True) else ' title="Not supported by the cited passage"'
        parts.append(f'<span class="{cls}"{title}>{esc(s.get("text", ""))}</span>{cites}')
    return " ".join(parts)


def _query_line(a: dict) -> str:
    q, query = a.get("question", ""), a.get("query", "")
    if query and query.strip() != q.strip():
        return f'<div class="assay-query">searched for: “{esc(query)}”</div>'
    return ""


def _footer(a: dict) -> str:
    t = a.get("timings") or {}
    total = t.get("total")
    bits = [f"writer: {esc(a.get('writer', ''))}"]
    if isinstance(total, (int, float)):
        bits.append(f"{total:.1f} s")
    return f'<div class="assay-footer">{" · ".join(bits)}</div>'


def llm_error(a: dict) -> str | None:
    for f in a.get("flags") or []:
        if str(f).startswith("llm error"):
            return str(f).split(":", 1)[1].strip() if ":" in str(f) else str(f)
    return None


def render_answer(a: dict) -> str:
    """Answer dict (Answer.to_dict()) -> the HTML of one assistant message."""
    if a.get("abstained"):
        return render_abstention(a)
    cits = a.get("citations") or []
    items = []
    for c in cits:
        date = esc(c.get("published") or "undated")
        pub = f" · {esc(c['publisher'])}" if c.get("publisher") else ""
        items.append(f'<li>{_cite_button(c["n"])}<span class="assay-li-title">{esc(c.get("title") or c.get("article_id"))}</span> <span class="assay-muted">— {date}{pub}</span></li>')
    flags = a.get("flags") or []
    warn = ""
    if flags:
        warn = '<div class="assay-flags"><strong>⚠ Checked against the sources:</strong><ul>' + "".join(f"<li>{esc(f)}</li>" for f in flags) + "</ul></div>"
    return (
        '<div class="assay-answer">'
        + _query_line(a)
        + f'<div class="assay-text">{_sentences_html(a)}</div>'
        + warn
        + (f'<div class="assay-sources-title">Sources</div><ol class="assay-sources-list">{"".join(items)}</ol>' if items else "")
        + "".join(_source_block(c) for c in cits)
        + _footer(a)
        + "</div>"
    )


def render_abstention(a: dict) -> str:
    err = llm_error(a)
    if err:
        head = "The answer writer is not reachable"
        body = f"{esc(err)}<br>Choose “{esc(OFFLINE)}” under Settings to answer from the articles without it."
    else:
        head = "The articles don't say"
        body = esc(a.get("text", ""))
    related = a.get("related") or []
    rel = ""
    if related:
        lis = []
        for p in related:
            snippet = p.get("text", "")
            snippet = snippet[:220] + ("…" if len(snippet) > 220 else "")
            lis.append(
                f'<li><span class="assay-li-title">{esc(p.get("title") or p.get("article_id"))}</span> '
                f'<span class="assay-muted">— {esc(p.get("published") or "undated")}</span>'
                f'<div class="assay-related-text">{esc(snippet)}</div></li>'
            )
        rel = f'<div class="assay-sources-title">Related passages (not an answer)</div><ul class="assay-related">{"".join(lis)}</ul>'
    why = f'<div class="assay-muted">Why: {esc(a.get("reason"))}</div>' if a.get("reason") and not err else ""
    return (
        '<div class="assay-answer assay-abstain">'
        + _query_line(a)
        + f'<div class="assay-abstain-head">{esc(head)}</div><div class="assay-text">{body}</div>{why}{rel}'
        + _footer(a)
        + "</div>"
    )


def render_message(text: str, kind: str = "info") -> str:
    return f'<div class="assay-answer assay-{esc(kind)}"><div class="assay-text">{text}</div></div>'


def render_user(question: str) -> str:
    return f'<div class="assay-user">{esc(question)}</div>'


def render_streaming(text: str) -> str:
    body = esc(text) if text else '<span class="assay-muted">Searching the articles…</span>'
    return f'<div class="assay-answer assay-streaming"><div class="assay-text">{body}</div></div>'


# ------------------------------------------------------------------ the library


def library_rows(stats: dict) -> list[dict]:
    rows = []
    for aid, rec in (stats.get("items") or {}).items():
        rows.append({
            "id": aid, "title": rec.get("title") or aid, "published": rec.get("published", ""),
            "publisher": rec.get("publisher", ""), "chunks": int(rec.get("n_chunks", 0) or 0),
            "source_url": rec.get("source_url", ""),
        })
    rows.sort(key=lambda r: (r["published"] or "0000", r["title"]), reverse=True)
    return rows


def render_library(stats: dict | None, error: str = "") -> str:
    if error:
        return f'<div class="assay-library"><p class="assay-muted">{esc(error)}</p></div>'
    rows = library_rows(stats or {})
    if not rows:
        return '<div class="assay-library"><p class="assay-muted">No articles indexed yet.</p></div>'
    trs = []
    for r in rows:
        url = _safe_url(r["source_url"])
        title = esc(r["title"])
        if url:
            title = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
        trs.append(
            f"<tr><td>{title}<div class='assay-muted assay-small'>{esc(r['id'])}</div></td>"
            f"<td>{esc(r['published'] or '—')}</td><td>{esc(r['publisher'] or '—')}</td><td class='assay-num'>{r['chunks']}</td></tr>"
        )
    total = sum(r["chunks"] for r in rows)
    return (
        f'<div class="assay-library"><p>{len(rows)} articles, {total} passages.</p>'
        '<table class="assay-table"><thead><tr><th>Title</th><th>Published</th><th>Publisher</th><th>Chunks</th></tr></thead>'
        f'<tbody>{"".join(trs)}</tbody></table></div>'
    )


# ------------------------------------------------------------------ uploads


# Names Windows cannot open (and that confuse tools on shared drives), and the folder notes the
# corpus walker skips (an upload named README.md would silently never be re-indexed).
_RESERVED_STEMS = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_FOLDER_NOTE_NAMES = {"readme.md", "readme.txt", "readme.markdown", "license", "license.md", "license.txt"}
MAX_NAME_STEM = 100


def safe_filename(name: str) -> str:
    """Basename only, safe characters, no leading dots, no reserved names; never '' or a path.

    ``../../x.md`` and ``..\\..\\x.md`` -> ``x.md``; ``/etc/passwd.md`` -> ``passwd.md``; ``.hidden.md`` ->
    ``hidden.md``; ``CON.md`` -> ``CON-upload.md``; ``README.md`` -> ``README-upload.md``; ``""`` -> ``upload``.
    """
    base = unicodedata.normalize("NFKD", str(name or ""))
    base = "".join(ch for ch in base if not unicodedata.combining(ch))  # é -> e
    base = re.split(r"[\\/]", base)[-1].strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip("._-")[:MAX_NAME_STEM].strip("._-")
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()[:10]
    if not stem:
        stem = "upload"
    full = f"{stem}.{suffix}" if suffix else stem
    if stem.split(".")[0].lower() in _RESERVED_STEMS or full.lower() in _FOLDER_NOTE_NAMES:
        stem = f"{stem}-upload"
    return f"{stem}.{suffix}" if suffix else stem


def is_inside(path: Path, folder: Path) -> bool:
    """True when `path` (after resolving symlinks and ..) is inside `folder` (resolved)."""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


# ---- what a file really is, from its first bytes (never trust the name alone)

# Signatures that contain bytes no text file starts with (ASCII-only magics such as "MZ" or "ID3" could
# begin a real article; those files are caught by their NULs and control bytes instead).
_BINARY_MAGIC = (
    b"PK\x03\x04", b"\x7fELF", b"\x89PNG", b"\xff\xd8\xff", b"\x1f\x8b", b"7z\xbc\xaf", b"\xca\xfe\xba\xbe",
    b"\xcf\xfa\xed\xfe", b"\xd0\xcf\x11\xe0", b"\x00asm", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd",
)
_HTML_START = re.compile(rb"^(?:\s|<!--.*?-->)*<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE | re.DOTALL)
_KIND_BY_SUFFIX = {".pdf": "pdf", ".html": "html", ".htm": "html", ".txt": "text", ".md": "text", ".markdown": "text"}
_KIND_LABEL = {"pdf": "a PDF", "html": "an HTML page", "text": "plain text", "binary": "a binary (non-text) file"}
_KIND_SUFFIX = {"pdf": ".pdf", "html": ".html", "text": ".txt or .md"}


def sniff_kind(head: bytes) -> str:
    """'pdf' | 'html' | 'text' | 'binary' from the first few KB of a file."""
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:5] == b"%PDF-":
        return "pdf"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM: text (the loader decodes it)
        body = head[2:]
        try:
            body = body.decode("utf-16-le" if head[:2] == b"\xff\xfe" else "utf-16-be", errors="ignore").encode("utf-8")
        except Exception:
            return "binary"
        return "html" if _HTML_START.match(body) else "text"
    if head.startswith(_BINARY_MAGIC):
        return "binary"
    if b"\x00" in head:
        # UTF-16 without a BOM has a NUL in every other byte; anything else with NULs is binary.
        even, odd = head[0::2], head[1::2]
        if len(head) >= 4 and (even.count(0) > 0.9 * len(even) or odd.count(0) > 0.9 * len(odd)):
            return "text"
        return "binary"
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    if head and controls > 0.05 * len(head):
        return "binary"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    return "html" if _HTML_START.match(body) else "text"


def content_problem(path: str | Path, shown: str) -> str | None:
    """Why the file's content does not match its suffix (None when it does). Mismatches are refused."""
    suffix = Path(shown).suffix.lower()
    expected = _KIND_BY_SUFFIX.get(suffix)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError as e:
        return f"cannot read the upload: {e.strerror or e}"
    kind = sniff_kind(head)
    if kind == "binary":
        return f"it is named {suffix or 'without a suffix'} but is {_KIND_LABEL[kind]}, not an article"
    if expected is None or kind == expected:
        return None
    if expected == "html" and kind == "text":
        return None  # a fragment of HTML without <html>/<body>; the HTML loader copes with plain text
    return f"it is named {suffix} but its content is {_KIND_LABEL[kind]} — rename it to {_KIND_SUFFIX[kind]} if that is what it is"


def save_uploads(
    items: list[tuple[str, str]],
    dest: Path,
    *,
    max_bytes: int,
    max_files: int = MAX_UPLOAD_FILES,
    taken: Any = (),
    limit_label: str = "",
) -> tuple[list[Path], list[tuple[str, str]], dict[str, str]]:
    """Check and copy uploaded temp files into `dest` (the corpus upload folder) under safe, unique names.

    items: [(temp path, name as the browser sent it)]. taken(name, target) -> True when `name` is
    already used by another article. Returns (saved paths, status lines, {saved name: label}).
    Every refusal is a status line; nothing is ever written outside `dest`.
    """
    lines: list[tuple[str, str]] = []
    saved: list[Path] = []
    labels: dict[str, str] = {}
    if len(items) > max_files:
        return [], [("err", f"{len(items)} files chosen — at most {max_files} per upload.")], {}
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    is_taken = taken if callable(taken) else (lambda n, t: n in set(taken))
    limit_label = limit_label or f"{max_bytes / 1048576:g} MB"
    used: set[str] = set()
    for tmp, orig in items:
        # The name is shown (escaped) as the user sent it, minus any folders.
        shown = re.split(r"[\\/]", str(orig or ""))[-1].strip() or "file"
        shown = shown[:160] + ("…" if len(shown) > 160 else "")
        suffix = Path(re.split(r"[\\/]", str(orig or ""))[-1].strip()).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            lines.append(("err", f"refused {shown}: only {', '.join(UPLOAD_SUFFIXES)} files can be added"))
            continue
        try:
            size = os.path.getsize(tmp)
        except (OSError, TypeError):
            lines.append(("err", f"refused {shown}: the upload did not arrive"))
            continue
        if size > max_bytes:
            lines.append(("err", f"refused {shown}: {size / 1048576:.1f} MB is over the {limit_label} limit"))
            continue
        if size == 0:
            lines.append(("err", f"refused {shown}: the file is empty"))
            continue
        problem = content_problem(tmp, f"x{suffix}")
        if problem:
            lines.append(("err", f"refused {shown}: {problem}"))
            continue
        name = safe_filename(orig)
        if Path(name).suffix.lower() != suffix:  # e.g. a name of only dots: keep the checked suffix
            name = f"upload{suffix}"
        stem, suf = name[: -len(Path(name).suffix)], Path(name).suffix
        target = dest / name
        i = 2
        # Keep ids unique: a name already used by another article (or earlier in this batch) gets a suffix.
        while name in used or is_taken(name, target):
            name = f"{stem}-{i}{suf}"
            target = dest / name
            i += 1
        if target.parent.resolve() != root or not is_inside(target, root) or target.is_symlink():
            lines.append(("err", f"refused {shown}: it would be saved outside the upload folder"))
            continue
        used.add(name)
        part = dest / f".{name}.{os.getpid()}.{threading.get_ident()}.part"
        try:
            shutil.copyfile(tmp, part)
            os.replace(part, target)  # replaces a symlink itself, never writes through one
        except OSError as e:
            part.unlink(missing_ok=True)
            lines.append(("err", f"could not save {shown}: {e.strerror or e}"))
            continue
        labels[name] = shown if shown == name else f"{shown} (saved as {name})"
        saved.append(target)
    return saved, lines, labels


def _upload_paths(files: Any) -> list[tuple[str, str]]:
    """gr.File value -> [(temp path, original name)]."""
    out = []
    for f in files or []:
        if isinstance(f, (str, Path)):
            out.append((str(f), Path(str(f)).name))
        elif isinstance(f, dict):
            out.append((f.get("path") or f.get("name"), f.get("orig_name") or Path(f.get("path") or "").name))
        else:
            path = getattr(f, "path", None) or getattr(f, "name", None)
            out.append((str(path), getattr(f, "orig_name", None) or Path(str(path)).name))
    return out


def _status(lines: list[tuple[str, str]], progress: tuple[int, int] | None = None, note: str = "") -> str:
    """[(kind, text)] -> escaped status HTML; kind in ok|err|info."""
    bar = ""
    if progress:
        done, total = progress
        pct = int(100 * done / max(total, 1))
        bar = f'<div class="assay-progress"><div style="width:{pct}%"></div></div><div class="assay-muted">{done}/{total} files</div>'
    lis = "".join(f'<li class="assay-{esc(k)}">{esc(t)}</li>' for k, t in lines)
    return f'<div class="assay-upload-status">{esc(note)}{bar}<ul>{lis}</ul></div>'


# ------------------------------------------------------------------ the app


class _Backend:
    """Per-process state shared by all sessions: the engine and a single-writer lock."""

    def __init__(self, settings: Settings, engine: Engine | None, corpus_dir: Path):
        self.settings = settings
        self.engine = engine or Engine(settings)
        self.corpus_dir = corpus_dir
        self.write_lock = threading.Lock()
        self._ingestor = None

    @property
    def ingestor(self):
        if self._ingestor is None:
            from ..ingest.pipeline import Ingestor

            self._ingestor = Ingestor(self.settings, index=self.engine.index)
        return self._ingestor

    def has_index(self) -> bool:
        try:
            return bool(self.engine.index.exists()) and self.engine.index.chunks.count() > 0
        except Exception:
            return False

    def stats(self) -> tuple[dict | None, str]:
        from ..ingest.index import IndexError_

        try:
            if not self.engine.index.exists():
                return None, "No articles indexed yet — add some under “Add articles”, or ingest the bundled corpus."
            return self.engine.index.stats(), ""
        except IndexError_ as e:
            return None, str(e)
        except Exception as e:  # a broken index must not take the page down
            return None, f"Could not read the index: {type(e).__name__}: {e}"

    def article_choices(self) -> list[tuple[str, str]]:
        stats, _ = self.stats()
        rows = library_rows(stats or {})
        return [(f"{r['title'][:80]} ({r['published'] or 'undated'})", r["id"]) for r in rows]

    def ingest(self, paths: list[Path]) -> Iterator[tuple[str, Any]]:
        """Run the ingestor in a thread; yield ("progress", (done, total, name)) then ("done", Summary)."""
        q: queue_mod.Queue = queue_mod.Queue()

        def work():
            try:
                with self.write_lock:
                    s = self.ingestor.run([str(p) for p in paths], progress=False, on_file=lambda d, t, n: q.put(("progress", (d, t, n))))
                q.put(("done", s))
            except Exception as e:  # IndexBusy, IndexMismatch, disk full...
                q.put(("error", e))

        t = threading.Thread(target=work, daemon=True, name="assay-ingest")
        t.start()
        while True:
            kind, value = q.get()
            yield kind, value
            if kind in ("done", "error"):
                break
        t.join(timeout=5)


def _history_list(history: Any) -> list[str]:
    if history is None or history == "":
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except json.JSONDecodeError:
            return [history]
    if isinstance(history, dict):
        history = [history]
    out = []
    for h in history or []:
        if isinstance(h, dict):
            if h.get("role", "user") == "user" and h.get("content"):
                c = h["content"]
                out.append(c if isinstance(c, str) else json.dumps(c))
        elif isinstance(h, (list, tuple)) and h:
            out.append(str(h[0]))  # (user, assistant) pairs
        elif h:
            out.append(str(h))
    return out


def _filters(articles: Any, since: str, until: str) -> tuple[Filters | None, str]:
    since, until = (since or "").strip(), (until or "").strip()
    for label, v in (("since", since), ("until", until)):
        if v and not _DATE.match(v):
            return None, f"“{v}” is not a date for “{label}” — use YYYY, YYYY-MM or YYYY-MM-DD."
    arts = [a for a in (articles or []) if a]
    if not (arts or since or until):
        return None, ""
    return Filters(arts or None, since or None, until or None), ""


def build_app(settings: Settings | None = None, engine: Engine | None = None, corpus_dir: str | Path | None = None) -> gr.Blocks:
    """The chat UI. Launch with `launch()` (which adds the CSS and the citation click handler)."""
    settings = settings or Settings.from_env()
    backend = _Backend(settings, engine, corpus_dir_for(settings, corpus_dir))
    writers = [OFFLINE] + ([f"LLM: {display_spec(settings.llm)}"] if settings.llm else [])
    has_index = backend.has_index()

    def llm_for(writer: str) -> str | None:
        return settings.llm if (settings.llm and writer and writer != OFFLINE) else None

    # -- chat ---------------------------------------------------------------------------
    def respond(question, messages, turns, k, writer, articles, since, until):
        question = (question or "").strip()
        messages = list(messages or [])
        turns = list(turns or [])
        if not question:
            yield gr.update(), messages, turns
            return
        messages.append({"role": "user", "content": render_user(question)})
        messages.append({"role": "assistant", "content": render_streaming("")})
        yield "", messages, turns
        filters, problem = _filters(articles, since, until)
        if problem:
            messages[-1] = {"role": "assistant", "content": render_message(esc(problem), "error")}
            yield "", messages, turns
            return
        if not backend.has_index():
            messages[-1] = {"role": "assistant", "content": render_message(
                "No articles are indexed yet. Click <strong>Ingest bundled corpus</strong> above, or add your own under "
                "<strong>Library → Add articles</strong>; or run <code>assay ingest corpus/</code> in a terminal.", "error")}
            yield "", messages, turns
            return
        history = [t["question"] for t in turns]
        text, final = "", None
        last = 0.0
        try:
            for event in stream_answer(question, history, k=int(k or DEFAULT_K), llm=llm_for(writer), engine=backend.engine, filters=filters):
                if isinstance(event, Answer):
                    final = event
                    break
                text += event
                now = time.monotonic()
                if now - last > 0.1:
                    last = now
                    messages[-1] = {"role": "assistant", "content": render_streaming(text)}
                    yield "", messages, turns
        except Exception as e:
            from ..ingest.index import IndexError_

            msg = str(e) if isinstance(e, IndexError_) else f"Something went wrong while answering ({type(e).__name__}: {e})."
            messages[-1] = {"role": "assistant", "content": render_message(esc(msg), "error")}
            yield "", messages, turns
            return
        if final is None:
            messages[-1] = {"role": "assistant", "content": render_message("No answer was produced.", "error")}
            yield "", messages, turns
            return
        a = final.to_dict()
        messages[-1] = {"role": "assistant", "content": render_answer(a)}
        turns.append({"question": question, "query": final.query, "abstained": final.abstained})
        yield "", messages, turns

    def clear_chat():
        return [], [], PANEL_EMPTY

    def pick_example(evt: gr.SelectData):
        v = evt.value
        return v.get("text", "") if isinstance(v, dict) else str(v or "")

    # -- uploads and ingest -------------------------------------------------------------
    def refresh():
        stats, err = backend.stats()
        ok = stats is not None and stats.get("chunks", 0) > 0
        return (
            render_library(stats, err),
            gr.update(choices=backend.article_choices()),
            gr.update(visible=not ok),
        )

    def _ingest_and_report(paths: list[Path], lines: list[tuple[str, str]], labels: dict[str, str]):
        if not paths:
            yield _status(lines, note="Nothing was ingested."), *refresh()
            return
        for kind, value in backend.ingest(paths):
            if kind == "progress":
                done, total, name = value
                yield _status(lines, (done, total), note=f"Indexing {labels.get(name, name)}…" if name else "Finishing…"), gr.update(), gr.update(), gr.update()
            elif kind == "error":
                lines.append(("err", f"Ingest failed: {value}"))
            else:
                s = value
                lines.insert(0, ("info", f"added {len(s.added)}, updated {len(s.updated)}, unchanged {len(s.unchanged)}, "
                                         f"failed {len(s.failed)} — {s.chunks_written} passages indexed in {s.seconds:.1f} s"))
                for verb, ids in (("added", s.added), ("updated", s.updated)):
                    for aid in ids[:SHOW_FILES]:
                        lines.append(("ok", f"{verb} {labels.get(aid, aid)} — searchable now"))
                    if len(ids) > SHOW_FILES:
                        lines.append(("ok", f"… and {len(ids) - SHOW_FILES} more {verb}"))
                if len(s.unchanged) <= SHOW_FILES:
                    for aid in s.unchanged:
                        lines.append(("info", f"unchanged {labels.get(aid, aid)} (already indexed)"))
                for f, why in s.skipped:
                    name = Path(f).name
                    lines.append(("info", f"skipped {labels.get(name, name)}: {why}"))
                for f, why in s.failed:
                    name = Path(f).name
                    lines.append(("err", f"failed {labels.get(name, name)}: {why}"))
        yield _status(lines, note="Done."), *refresh()

    def upload(files):
        items = _upload_paths(files)
        lines: list[tuple[str, str]] = []
        if not items:
            yield _status([("info", "Choose one or more files first.")]), gr.update(), gr.update(), gr.update(), gr.update()
            return
        if len(items) > MAX_UPLOAD_FILES:
            yield _status([("err", f"{len(items)} files chosen — at most {MAX_UPLOAD_FILES} per upload.")]), gr.update(), gr.update(), gr.update(), None
            return
        dest = backend.corpus_dir / "uploads"
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            yield _status([("err", f"Cannot create the uploads folder: {e.strerror or e}")]), gr.update(), gr.update(), gr.update(), gr.update()
            return
        max_bytes = int(settings.max_file_mb * 1024 * 1024)
        try:
            manifest = backend.engine.index.manifest() if backend.engine.index.exists() else {}
        except Exception:
            manifest = {}

        def taken(name: str, target: Path) -> bool:
            return name in manifest and manifest[name].get("path") != str(target.resolve())

        try:
            saved, lines, labels = save_uploads(items, dest, max_bytes=max_bytes, taken=taken, limit_label=f"{settings.max_file_mb:g} MB")
        except OSError as e:
            yield _status([("err", f"Cannot save the uploads: {e.strerror or e}")]), gr.update(), gr.update(), gr.update(), gr.update()
            return
        for out in _ingest_and_report(saved, lines, labels):
            yield *out, gr.update()
        yield *out, None  # clear the file control for the next upload

    def ingest_bundled():
        corpus = backend.corpus_dir
        if not corpus.is_dir():
            yield _status([("err", f"No corpus folder at {corpus} — add articles under Library → Add articles.")]), gr.update(), gr.update(), gr.update()
            return
        from ..ingest.load import iter_article_paths

        files = [p for p, _ in iter_article_paths([corpus])]
        labels = {p.name: p.name for p in files}
        yield from _ingest_and_report(files, [], labels)

    # -- API ------------------------------------------------------------------------------
    def ask(question: str, history: list | str | None = None, k: int = DEFAULT_K, articles: list | None = None, since: str = "", until: str = "") -> dict:
        """Answer `question` from the indexed articles; returns Answer.to_dict() (text with [n] markers, citations with quotes and spans, abstained, reason, related).

        history: earlier user questions, oldest first (a list or a JSON string). k: passages to retrieve.
        articles/since/until: optional filters (article ids; YYYY[-MM[-DD]]).
        """
        filters, problem = _filters(articles, since, until)
        if problem:
            raise gr.Error(problem)
        from ..ingest.index import IndexError_

        final = None
        try:
            for event in stream_answer(question or "", _history_list(history), k=int(k or DEFAULT_K), llm=None, engine=backend.engine, filters=filters):
                if isinstance(event, Answer):
                    final = event
        except IndexError_ as e:  # no index yet, index busy/mismatched: the message says what to do
            raise gr.Error(str(e)) from None
        return final.to_dict() if final else {}

    # -- layout ---------------------------------------------------------------------------
    with gr.Blocks(title="Assay — answers from your articles", fill_width=True) as demo:
        turns = gr.State([])
        gr.HTML(
            '<div class="assay-header"><span class="assay-logo">Assay</span>'
            '<span class="assay-muted">Answers from your articles — every sentence cites the passage it comes from.</span></div>'
        )
        with gr.Row(visible=not has_index, elem_id="assay-noindex") as noindex:
            gr.HTML(
                '<div class="assay-noindex"><strong>No articles are indexed yet.</strong> Ingest the bundled corpus '
                "to try Assay, or add your own articles in the <em>Library</em> tab "
                "(from a terminal: <code>assay ingest corpus/</code>).</div>"
            )
            ingest_btn = gr.Button("Ingest bundled corpus", variant="primary", scale=0, elem_id="assay-ingest-bundled")
        bundled_status = gr.HTML("", elem_id="assay-bundled-status")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        chatbot = gr.Chatbot(
                            elem_id="assay-chat", label="Conversation", show_label=False, height=560,
                            render_markdown=False, sanitize_html=True, latex_delimiters=[], feedback_options=None,
                            buttons=["copy"], layout="panel", allow_file_downloads=False,
                            placeholder="<strong>Ask about the articles.</strong><br>Answers quote the articles; click a number to see the passage.",
                            examples=[{"text": q} for q in EXAMPLES],
                        )
                        with gr.Row():
                            box = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False, scale=6, lines=1, max_lines=4, elem_id="assay-question", autofocus=True)
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="assay-ask")
                            clear = gr.Button("New chat", scale=1, min_width=80, elem_id="assay-clear")
                        with gr.Accordion("Settings", open=False, elem_id="assay-settings"):
                            k = gr.Slider(1, 12, value=DEFAULT_K, step=1, label="Passages to read (k)")
                            writer = gr.Radio(writers, value=writers[-1], label="Answer writer", info="Offline quotes the articles verbatim; an LLM writes freely and is checked sentence by sentence.")
                            articles = gr.Dropdown(choices=backend.article_choices(), multiselect=True, label="Only these articles", info="Empty = all articles.")
                            with gr.Row():
                                since = gr.Textbox(label="Published since", placeholder="YYYY-MM-DD")
                                until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD")
                    with gr.Column(scale=2, min_width=300):
                        panel = gr.HTML(PANEL_EMPTY, elem_id="assay-sources", label="Sources")
            with gr.Tab("Library", id="library"):
                stats, err = backend.stats()
                library = gr.HTML(render_library(stats, err), elem_id="assay-library")
                refresh_btn = gr.Button("Refresh", size="sm", scale=0)
                gr.Markdown(
                    f"### Add articles\n{', '.join(UPLOAD_SUFFIXES)} — up to {MAX_UPLOAD_FILES} files, "
                    f"{settings.max_file_mb:g} MB each. They are saved in the corpus folder's `uploads/` and searchable as soon as they are indexed."
                )
                files = gr.File(file_count="multiple", file_types=list(UPLOAD_SUFFIXES), label="Upload articles", elem_id="assay-upload")
                upload_status = gr.HTML("", elem_id="assay-upload-status")

        chat_inputs = [box, chatbot, turns, k, writer, articles, since, until]
        chat_outputs = [box, chatbot, turns]
        box.submit(respond, chat_inputs, chat_outputs, api_visibility="private")
        send.click(respond, chat_inputs, chat_outputs, api_visibility="private")
        chatbot.example_select(pick_example, None, box, api_visibility="private", queue=False).then(respond, chat_inputs, chat_outputs, api_visibility="private")
        clear.click(clear_chat, None, [chatbot, turns, panel], api_visibility="private", queue=False)
        refresh_outputs = [library, articles, noindex]
        files.upload(upload, files, [upload_status, *refresh_outputs, files], api_visibility="private", concurrency_limit=1, concurrency_id="ingest")
        ingest_btn.click(ingest_bundled, None, [bundled_status, *refresh_outputs], api_visibility="private", concurrency_limit=1, concurrency_id="ingest")
        refresh_btn.click(refresh, None, refresh_outputs, api_visibility="private", queue=False)
        demo.load(refresh, None, refresh_outputs, api_visibility="private", queue=False)
        gr.api(ask, api_name="ask")

    demo.queue(default_concurrency_limit=env_int("ASSAY_CONCURRENCY", 2, 1, 64), max_size=env_int("ASSAY_QUEUE_SIZE", 64, 1, 10_000))
    demo.assay_backend = backend  # for tests and embedding
    return demo


PANEL_EMPTY = (
    '<div class="assay-panel"><div class="assay-panel-title">Sources</div>'
    '<div id="assay-panel-body"><p class="assay-muted">Click a numbered marker in an answer to see the passage it '
    "comes from, with the supporting sentences highlighted.</p></div></div>"
)

CSS = """
.assay-header{display:flex;gap:.8em;align-items:baseline;padding:.2em 0 .4em}
.assay-logo{font-size:1.5em;font-weight:700;letter-spacing:.02em}
.assay-muted{color:var(--body-text-color-subdued);}
.assay-small{font-size:.85em}
.assay-noindex{padding:.8em 1em;border-radius:8px;background:var(--color-accent-soft);}
.assay-user{white-space:pre-wrap}
.assay-answer .assay-text{line-height:1.6}
.assay-cite{display:inline-block;min-width:1.5em;margin:0 .15em;padding:0 .35em;border-radius:.6em;border:1px solid var(--color-accent);
  background:var(--color-accent-soft);color:var(--body-text-color);font-size:.75em;font-weight:600;line-height:1.5;vertical-align:super;cursor:pointer}
.assay-cite:hover,.assay-cite.assay-active{background:var(--color-accent);color:white}
.assay-query{font-size:.8em;color:var(--body-text-color-subdued);margin-bottom:.35em}
.assay-sources-title{font-size:.8em;font-weight:600;text-transform:uppercase;letter-spacing:.04em;margin-top:.7em;color:var(--body-text-color-subdued)}
ol.assay-sources-list,ul.assay-related{margin:.2em 0 0 0;padding-left:0;list-style:none;font-size:.88em}
ol.assay-sources-list li{margin:.15em 0}
ol.assay-sources-list .assay-cite{vertical-align:baseline}
.assay-li-title{font-weight:500}
.assay-footer{font-size:.72em;color:var(--body-text-color-subdued);margin-top:.5em}
.assay-abstain{border-left:4px solid var(--border-color-primary);padding-left:.8em;color:var(--body-text-color-subdued)}
.assay-abstain-head{font-weight:600;font-style:italic;margin-bottom:.2em}
.assay-related li{margin:.4em 0}
.assay-related-text{font-size:.9em;opacity:.85}
.assay-unsupported{text-decoration:underline wavy #d97706;}
.assay-flags{margin-top:.5em;padding:.4em .6em;border-radius:6px;background:#fef3c7;color:#78350f;font-size:.85em}
.assay-error .assay-text{color:#b91c1c}
.assay-streaming .assay-text{opacity:.8}
.assay-panel{padding:.3em .2em}
.assay-panel-title{font-weight:700;font-size:1.1em;margin-bottom:.4em}
#assay-panel-body .assay-src-n{font-size:.8em;color:var(--body-text-color-subdued)}
#assay-panel-body .assay-src-title{margin:.1em 0 .2em;font-size:1.05em}
#assay-panel-body .assay-src-meta{font-size:.85em;color:var(--body-text-color-subdued)}
#assay-panel-body .assay-passage{margin:.6em 0;padding:.6em .8em;border-left:3px solid var(--color-accent);white-space:pre-wrap;line-height:1.55;font-size:.92em}
#assay-panel-body mark{background:#fde68a;color:#111;padding:0 .1em;border-radius:2px}
#assay-panel-body .assay-src-id{font-size:.75em;color:var(--body-text-color-subdued)}
.assay-table{width:100%;border-collapse:collapse;font-size:.9em}
.assay-table th,.assay-table td{text-align:left;padding:.35em .5em;border-bottom:1px solid var(--border-color-primary);vertical-align:top}
.assay-num{text-align:right}
.assay-table td:nth-child(2){white-space:nowrap}
.assay-upload-status ul{list-style:none;padding-left:0}
.assay-upload-status .assay-err{color:#b91c1c}
.assay-upload-status .assay-ok{color:#15803d}
.assay-progress{height:6px;background:var(--border-color-primary);border-radius:3px;overflow:hidden;margin:.3em 0}
.assay-progress div{height:100%;background:var(--color-accent)}
"""

# Citation clicks: copy the hidden passage block of the clicked [n] into the Sources panel.
HEAD = """
<script>
(function () {
  function num(el) { var m = (el.getAttribute("class") || "").match(/assay-n-(\\d+)/); return m ? m[1] : null; }
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest(".assay-cite") : null;
    if (!t) return;
    ev.preventDefault();
    ev.stopPropagation();
    var n = num(t), ans = t.closest(".assay-answer"), body = document.getElementById("assay-panel-body");
    if (!n || !ans || !body) return;
    var src = ans.querySelector(".assay-src.assay-n-" + n);
    if (!src) return;
    body.replaceChildren.apply(body, Array.prototype.map.call(src.childNodes, function (c) { return c.cloneNode(true); }));
    document.querySelectorAll(".assay-cite.assay-active").forEach(function (e) { e.classList.remove("assay-active"); });
    ans.querySelectorAll(".assay-cite.assay-n-" + n).forEach(function (e) { e.classList.add("assay-active"); });
    var panel = document.getElementById("assay-sources");
    if (panel && window.innerWidth < 900) panel.scrollIntoView({ behavior: "smooth", block: "start" });
    var mark = body.querySelector("mark");
    if (mark) mark.scrollIntoView({ block: "nearest" });
  }, true);
})();
</script>
"""


def launch_kwargs(settings: Settings) -> dict:
    """Arguments every launch of the app needs (Gradio 6 takes css/head/theme in launch())."""
    return {
        "css": CSS,
        "head": HEAD,
        "theme": gr.themes.Soft(),
        "max_file_size": f"{max(1, int(settings.max_file_mb + 0.999))}mb",
        "footer_links": ["api"],
    } | _no_run_history()


def _no_run_history() -> dict:
    """Answers quote private articles: keep them out of Gradio's run history (browser storage / HF buckets)."""
    import inspect

    return {"run_history": False} if "run_history" in inspect.signature(gr.Blocks.launch).parameters else {}


def _warm(engine: Engine) -> None:
    try:
        engine.embed(["warm up"], cache="q")
    except Exception:
        pass  # the first question reports real problems


def launch(
    settings: Settings | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    auth: tuple[str, str] | None = None,
    *,
    engine: Engine | None = None,
    corpus_dir: str | Path | None = None,
    block: bool = True,
    quiet: bool = False,
):
    """Build and serve the chat. With block=False returns (demo, url) while the server runs in a thread."""
    settings = settings or Settings.from_env()
    engine = engine or Engine(settings)
    # Load the embedding model now, not on the first question.
    threading.Thread(target=lambda: _warm(engine), daemon=True, name="assay-warmup").start()
    demo = build_app(settings, engine=engine, corpus_dir=corpus_dir)
    _app, url, share_url = demo.launch(
        server_name=host, server_port=port, share=share, auth=auth, prevent_thread_lock=not block,
        quiet=quiet, show_error=True, **launch_kwargs(settings),
    )
    return demo, (share_url or url)
