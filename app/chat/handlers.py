"""What the chat does when the user acts: answer, upload, ingest, refresh, and the `/ask` API.

`ChatHandlers` holds the per-process state (engine, ingestor, the single-writer lock) and one
method per event. The methods are plain generators over plain values, so tests call them
without launching Gradio; `layout.py` only wires them to components. Both the chat and `/ask`
answer through `answer_events()`, the one streaming loop.
"""

from __future__ import annotations

import json
import queue as queue_mod
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from ...ingest.config import Settings
from ...ingest.index import IndexError_
from ..answer import stream_answer
from ..retrieve import Engine, Filters
from ..schema import Answer
from . import render as R
from .uploads import MAX_UPLOAD_FILES, save_uploads, upload_paths

SHOW_FILES = 5  # per-file lines in an ingest report before "… and N more"
DEFAULT_K = 6
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
NO_INDEX_HTML = (
    "No articles are indexed yet. Click <strong>Ingest bundled corpus</strong> above, or add your own under "
    "<strong>Library → Add articles</strong>; or run <code>assay ingest corpus/</code> in a terminal."
)


def history_list(history: Any) -> list[str]:
    """The earlier user questions of an API call, from a list, a JSON string or chat-style messages."""
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


def parse_filters(articles: Any, since: str, until: str) -> tuple[Filters | None, str]:
    """(filters, problem): the problem is a sentence for the user when a date does not parse."""
    since, until = (since or "").strip(), (until or "").strip()
    for label, v in (("since", since), ("until", until)):
        if v and not _DATE.match(v):
            return None, f"“{v}” is not a date for “{label}” — use YYYY, YYYY-MM or YYYY-MM-DD."
    arts = [a for a in (articles or []) if a]
    if not (arts or since or until):
        return None, ""
    return Filters(arts or None, since or None, until or None), ""


class ChatHandlers:
    """Per-process state shared by all sessions, and one method per UI event."""

    def __init__(self, settings: Settings, engine: Engine | None = None, corpus_dir: Path | None = None):
        self.settings = settings
        self.engine = engine or Engine(settings)
        self.corpus_dir = Path(corpus_dir or settings.corpus_dir)
        self.write_lock = threading.Lock()
        self._ingestor = None

    # -- state ----------------------------------------------------------------------------
    @property
    def ingestor(self):
        if self._ingestor is None:
            from ...ingest.pipeline import Ingestor

            self._ingestor = Ingestor(self.settings, index=self.engine.index, encoder=self.engine.encoder)
        return self._ingestor

    def has_index(self) -> bool:
        try:
            return bool(self.engine.index.exists()) and self.engine.index.chunks.count() > 0
        except Exception:
            return False

    def stats(self) -> tuple[dict | None, str]:
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
        return [(f"{r['title'][:80]} ({r['published'] or 'undated'})", r["id"]) for r in R.library_rows(stats or {})]

    def llm_for(self, writer: str) -> str | None:
        return self.settings.llm if (self.settings.llm and writer and writer != R.OFFLINE) else None

    # -- the one answer loop (chat and /ask) -------------------------------------------------
    def answer_events(self, question: str, history: list[str], k: int, llm: str | None, filters: Filters | None) -> Iterator[tuple[str, Any]]:
        """("delta", text so far) while an LLM writes, then ("answer", Answer) or ("error", message)."""
        text = ""
        try:
            for event in stream_answer(question, history, k=int(k or DEFAULT_K), llm=llm, engine=self.engine, filters=filters):
                if isinstance(event, Answer):
                    yield "answer", event
                    return
                text += event
                yield "delta", text
        except IndexError_ as e:  # no index yet, index busy/mismatched: the message says what to do
            yield "error", str(e)
            return
        except Exception as e:
            yield "error", f"Something went wrong while answering ({type(e).__name__}: {e})."
            return
        yield "error", "No answer was produced."

    # -- chat -----------------------------------------------------------------------------
    def respond(self, question, messages, turns, k, writer, articles, since, until):
        """Chat submit: yields (textbox, messages, turns) as the answer is written."""
        question = (question or "").strip()
        messages = list(messages or [])
        turns = list(turns or [])
        if not question:
            yield gr.update(), messages, turns
            return
        messages.append({"role": "user", "content": R.render_user(question)})
        messages.append({"role": "assistant", "content": R.render_streaming("")})
        yield "", messages, turns
        filters, problem = parse_filters(articles, since, until)
        if problem:
            messages[-1] = {"role": "assistant", "content": R.render_message(R.esc(problem), "error")}
            yield "", messages, turns
            return
        if not self.has_index():
            messages[-1] = {"role": "assistant", "content": R.render_message(NO_INDEX_HTML, "error")}
            yield "", messages, turns
            return
        last = 0.0
        history = [t["question"] for t in turns]
        for kind, value in self.answer_events(question, history, k, self.llm_for(writer), filters):
            if kind == "delta":
                now = time.monotonic()
                if now - last > 0.1:
                    last = now
                    messages[-1] = {"role": "assistant", "content": R.render_streaming(value)}
                    yield "", messages, turns
            elif kind == "error":
                messages[-1] = {"role": "assistant", "content": R.render_message(R.esc(value), "error")}
                yield "", messages, turns
            else:
                messages[-1] = {"role": "assistant", "content": R.render_answer(value.to_dict())}
                turns.append({"question": question, "query": value.query, "abstained": value.abstained})
                yield "", messages, turns

    def clear_chat(self):
        return [], [], R.PANEL_EMPTY

    @staticmethod
    def pick_example(evt: gr.SelectData):
        v = evt.value
        return v.get("text", "") if isinstance(v, dict) else str(v or "")

    # -- library, uploads and ingest ---------------------------------------------------------
    def refresh(self):
        """(library HTML, article filter choices, 'no index' banner visibility)."""
        stats, err = self.stats()
        ok = stats is not None and stats.get("chunks", 0) > 0
        return R.render_library(stats, err), gr.update(choices=self.article_choices()), gr.update(visible=not ok)

    def _ingest(self, paths: list[Path]) -> Iterator[tuple[str, Any]]:
        """Run the ingestor in a thread; yield ("progress", (done, total, name)) then ("done", Summary) or ("error", e)."""
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

    def ingest_and_report(self, paths: list[Path], lines: list[tuple[str, str]], labels: dict[str, str]):
        """Yields (status HTML, library, choices, banner) while `paths` are indexed."""
        if not paths:
            yield R.status_html(lines, note="Nothing was ingested."), *self.refresh()
            return
        for kind, value in self._ingest(paths):
            if kind == "progress":
                done, total, name = value
                yield R.status_html(lines, (done, total), note=f"Indexing {labels.get(name, name)}…" if name else "Finishing…"), gr.update(), gr.update(), gr.update()
            elif kind == "error":
                lines.append(("err", f"Ingest failed: {value}"))
            else:
                lines[:0] = [("info", _summary_line(value))]
                lines += _result_lines(value, labels)
        yield R.status_html(lines, note="Done."), *self.refresh()

    def upload(self, files):
        """Library upload: yields (status, library, choices, banner, file control)."""
        items = upload_paths(files)
        keep = gr.update()
        if not items:
            yield R.status_html([("info", "Choose one or more files first.")]), keep, keep, keep, keep
            return
        if len(items) > MAX_UPLOAD_FILES:
            yield R.status_html([("err", f"{len(items)} files chosen — at most {MAX_UPLOAD_FILES} per upload.")]), keep, keep, keep, None
            return
        dest = self.corpus_dir / "uploads"
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            yield R.status_html([("err", f"Cannot create the uploads folder: {e.strerror or e}")]), keep, keep, keep, keep
            return
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        try:
            manifest = self.engine.index.manifest() if self.engine.index.exists() else {}
        except Exception:
            manifest = {}

        def taken(name: str, target: Path) -> bool:
            return name in manifest and manifest[name].get("path") != str(target.resolve())

        try:
            saved, lines, labels = save_uploads(items, dest, max_bytes=max_bytes, taken=taken, limit_label=f"{self.settings.max_file_mb:g} MB")
        except OSError as e:
            yield R.status_html([("err", f"Cannot save the uploads: {e.strerror or e}")]), keep, keep, keep, keep
            return
        out = None
        for out in self.ingest_and_report(saved, lines, labels):
            yield *out, keep
        yield *out, None  # clear the file control for the next upload

    def ingest_bundled(self):
        """The 'Ingest bundled corpus' button: yields (status, library, choices, banner)."""
        corpus = self.corpus_dir
        if not corpus.is_dir():
            yield R.status_html([("err", f"No corpus folder at {corpus} — add articles under Library → Add articles.")]), gr.update(), gr.update(), gr.update()
            return
        from ...ingest.files import iter_article_paths

        files = [p for p, _ in iter_article_paths([corpus])]
        yield from self.ingest_and_report(files, [], {p.name: p.name for p in files})

    # -- API --------------------------------------------------------------------------------
    def ask(self, question: str, history: list | str | None = None, k: int = DEFAULT_K, articles: list | None = None, since: str = "", until: str = "") -> dict:
        """Answer `question` from the indexed articles; returns Answer.to_dict() (text with [n] markers, citations with quotes and spans, abstained, reason, related).

        history: earlier user questions, oldest first (a list or a JSON string). k: passages to retrieve.
        articles/since/until: optional filters (article ids; YYYY[-MM[-DD]]).
        """
        filters, problem = parse_filters(articles, since, until)
        if problem:
            raise gr.Error(problem)
        for kind, value in self.answer_events(question or "", history_list(history), k, None, filters):
            if kind == "answer":
                return value.to_dict()
            if kind == "error":
                raise gr.Error(value)
        return {}


def _summary_line(s) -> str:
    return (f"added {len(s.added)}, updated {len(s.updated)}, unchanged {len(s.unchanged)}, "
            f"failed {len(s.failed)} — {s.chunks_written} passages indexed in {s.seconds:.1f} s")


def _result_lines(s, labels: dict[str, str]) -> list[tuple[str, str]]:
    lines = []
    for verb, ids in (("added", s.added), ("updated", s.updated)):
        for aid in ids[:SHOW_FILES]:
            lines.append(("ok", f"{verb} {labels.get(aid, aid)} — searchable now"))
        if len(ids) > SHOW_FILES:
            lines.append(("ok", f"… and {len(ids) - SHOW_FILES} more {verb}"))
    if len(s.unchanged) <= SHOW_FILES:
        lines += [("info", f"unchanged {labels.get(aid, aid)} (already indexed)") for aid in s.unchanged]
    for f, why in s.skipped:
        name = Path(f).name
        lines.append(("info", f"skipped {labels.get(name, name)}: {why}"))
    for f, why in s.failed:
        name = Path(f).name
        lines.append(("err", f"failed {labels.get(name, name)}: {why}"))
    return lines
