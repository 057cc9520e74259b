"""What the chat does when the user acts: ask, stop, queue, conversations, feedback, exports,
the library (open, delete, restore, re-index, upload, ingest), and the `/ask` API.

`ChatHandlers` holds the per-process state (engine, ingestor, the single-writer lock) and one
method per event; per-tab state is a `Session` (conversations.py). The methods are plain
functions and generators over plain values, so tests call them without launching Gradio;
`layout.py` only wires them to components. Both the chat and `/ask` answer through
`answer_events()`, the one streaming loop.
"""

from __future__ import annotations

import atexit
import json
import queue as queue_mod
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from ...ingest.config import Settings
from ...ingest.index import IndexError_
from ..answer import stream_answer
from ..limits import InputRefused, RateLimiter
from ..retrieve import Engine, Filters
from ..schema import Answer
from . import conversations as C
from . import library as L
from . import render as R
from .uploads import MAX_UPLOAD_FILES, save_uploads, upload_paths

SHOW_FILES = 5  # per-file lines in an ingest report before "… and N more"
DEFAULT_K = 6
REVEAL_SECONDS = 0.08  # pause between the sentences of an answer as they appear one by one
NO_INDEX_HTML = (
    "No articles are indexed yet. Click <strong>Ingest bundled corpus</strong> above, or add your own under "
    "<strong>Library → Add articles</strong>; or run <code>assay ingest corpus/</code> in a terminal."
)
BUSY_HINT = "Writing the answer… Press Enter to queue another question; Stop ends this answer (queued questions come back to the box)."
SKIP = gr.skip


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
    try:
        return Filters.parse(articles, since, until), ""
    except InputRefused as e:
        return None, f"{e}."


class Stopped(Exception):
    """The user stopped the answer (Stop, New chat, another conversation)."""


class WatchedEngine:
    """The shared Engine as one answer sees it: reports the steps of the answer path as they
    happen (retrieval starts and ends; the first embedding after it is the writer checking
    sentences) and stops at the next step once `cancel` is set. Everything else is the Engine's."""

    def __init__(self, engine: Engine, emit, cancel: threading.Event):
        self._engine = engine
        self._emit = emit
        self._cancel = cancel
        self._phase = "start"

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def _check(self) -> None:
        if self._cancel.is_set():
            raise Stopped()

    def retrieve(self, query: str, *args, **kwargs):
        self._check()
        try:
            total = int(self._engine.index.chunks.count())
        except Exception:
            total = 0
        self._emit(("search", {"query": query, "total": total}))
        out = self._engine.retrieve(query, *args, **kwargs)
        self._check()
        self._phase = "read"
        self._emit(("read", {"passages": out}))
        return out

    def embed(self, texts, *args, **kwargs):
        self._check()
        out = self._engine.embed(texts, *args, **kwargs)
        if self._phase == "read":
            self._phase = "check"
            self._emit(("check", {}))
        return out


def _search_step(ev: dict, question: str) -> dict:
    n = ev.get("total") or 0
    query = ev.get("query", "")
    log = f"for “{query}”" + (" (the question rewritten with the conversation)" if query.strip() != question.strip() else "")
    return {"key": "search", "active": f"Searching {n} passages…", "label": f"Searching {n} passages", "summary": f"Searched {n} passages", "log": log}


def _read_step(ev: dict) -> dict:
    ps = ev.get("passages") or []
    titles = list(dict.fromkeys(p.title or p.article_id for p in ps))
    log = "; ".join(titles[:4]) + (f"; and {len(titles) - 4} more" if len(titles) > 4 else "")
    return {"key": "read", "active": f"Reading {len(ps)} passages…", "label": f"Reading {len(ps)} passages", "summary": f"read {len(ps)}", "log": log}


CHECK_STEP = {"key": "check", "active": "Checking the answer…", "label": "Checking the answer against the passages", "summary": "checked"}
WRITE_STEP = {"key": "write", "active": "Writing the answer…", "label": "Writing the answer", "summary": "written"}


def _outcome(a: Answer) -> str:
    if a.status == "abstained":
        return "the articles don't say" + (f" ({a.reason})" if a.reason else "")
    if a.status == "partial":
        return "partly answered: " + (a.reason or "the articles do not say everything asked")
    return f"answered with {len(a.citations)} source{'s' if len(a.citations) != 1 else ''}"


class ChatHandlers:
    """Per-process state shared by all sessions, and one method per UI event."""

    def __init__(self, settings: Settings, engine: Engine | None = None, corpus_dir: Path | None = None):
        self.settings = settings
        self.engine = engine or Engine(settings)
        self.corpus_dir = Path(corpus_dir or settings.corpus_dir)
        self.uploads_dir = Path(settings.uploads_folder)
        self.feedback_path = Path(settings.feedback_path)
        self.write_lock = threading.Lock()
        self._feedback_lock = threading.Lock()
        self._ingestor = None
        self._exports: Path | None = None
        self.reveal_seconds = REVEAL_SECONDS  # pause between sentences as they appear
        self.rate: RateLimiter | None = None  # set by launch() when /ask is reachable without a login beyond loopback

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
            return L.mark_uploads(L.split_stats(self.engine.index.stats()), self.uploads_dir), ""
        except IndexError_ as e:
            return None, str(e)
        except Exception as e:  # a broken index must not take the page down
            return None, f"Could not read the index: {type(e).__name__}: {e}"

    def article_choices(self, stats: dict | None = None) -> list[tuple[str, str]]:
        if stats is None:
            stats, _ = self.stats()
        return [(f"{r['title'][:80]} ({r['published'] or 'undated'})", r["id"]) for r in R.library_rows(stats or {})]

    def llm_for(self, writer: str) -> str | None:
        return self.settings.llm if (self.settings.llm and writer and writer != R.OFFLINE) else None

    # -- the one answer loop (chat and /ask) -------------------------------------------------
    def answer_events(self, question: str, history: list[str], k: int, llm: str | None, filters: Filters | None,
                      engine=None) -> Iterator[tuple[str, Any]]:
        """("delta", text so far) while an LLM writes, then ("answer", Answer) or ("error", message)."""
        text = ""
        try:
            k = DEFAULT_K if k is None or k == "" else k  # anything else is checked by the answer path (1-50)
            for event in stream_answer(question, history, k=k, llm=llm, engine=engine or self.engine, filters=filters):
                if isinstance(event, Answer):
                    yield "answer", event
                    return
                text += event
                yield "delta", text
        except Stopped:
            yield "stopped", None
            return
        except IndexError_ as e:  # no index yet, index busy/mismatched: the message says what to do
            yield "error", str(e)
            return
        except Exception as e:
            yield "error", f"Something went wrong while answering ({type(e).__name__}: {e})."
            return
        yield "error", "No answer was produced."

    # -- the chat: one tab's view -------------------------------------------------------------
    def _exports_dir(self) -> Path:
        if self._exports is None:
            self._exports = Path(tempfile.mkdtemp(prefix="assay-export-"))
            atexit.register(shutil.rmtree, self._exports, True)
        return self._exports

    def export_files(self, conv: dict | None) -> tuple[str | None, str | None]:
        """conversation.md and conversation.json of `conv`, written for the download buttons."""
        if not conv or not conv.get("turns"):
            return None, None
        folder = self._exports_dir() / conv["id"]
        folder.mkdir(parents=True, exist_ok=True)
        name = C.slug(C.title_of(conv))
        md, js = folder / f"{name}.md", folder / f"{name}.json"
        md.write_text(C.conversation_markdown(conv), encoding="utf-8")
        js.write_text(json.dumps(C.conversation_json(conv), indent=2, ensure_ascii=False), encoding="utf-8")
        return str(md), str(js)

    def view(self, sess: C.Session, *, panel: str | None = None, settled: bool = True) -> tuple:
        """(chatbot, panel, conversation list, title box, export md, export json, store).

        Not `settled` (an answer streaming): only the chat changes."""
        conv = sess.conv(create=False)
        msgs, ids = C.messages(conv, sess)
        sess.msg_turns = ids
        chat = gr.update(value=msgs, feedback_value=C.feedback_values(conv)) if settled else msgs
        if not settled:
            return chat, SKIP(), SKIP(), SKIP(), SKIP(), SKIP(), SKIP()
        if panel is not None:
            sess.panel = panel
        md, js = self.export_files(conv)
        has = bool(md)
        return (
            chat,
            sess.panel,
            R.render_conversations(sess.conversations, sess.store.get("open"), C.title_of),
            gr.update(value=C.title_of(conv) if conv and conv.get("turns") else "", interactive=bool(conv and conv.get("turns"))),
            gr.update(value=md, interactive=has),
            gr.update(value=js, interactive=has),
            sess.persisted(),
        )

    @staticmethod
    def _buttons(busy: bool) -> tuple:
        """(Ask, Stop, hint): while an answer is written, Ask becomes Stop."""
        return gr.update(visible=not busy), gr.update(visible=busy), (f'<div class="assay-hint">{R.esc(BUSY_HINT)}</div>' if busy else "")

    def load(self, store):
        """Page load: the conversations kept in this browser; the open one with its sources. The
        input opens only now, so that nothing is asked before the stored conversations are there."""
        sess = C.Session(store)
        conv = sess.conv(create=False)
        ready = gr.update(interactive=True, placeholder="Ask a question about the articles…")
        return ready, sess, *self.view(sess, panel=C.last_panel(conv)), *self._buttons(False)

    @staticmethod
    def _session(sess) -> C.Session:
        return sess if isinstance(sess, C.Session) else C.Session()

    def accept(self, question, sess):
        """Enter / Ask: start answering, or queue the question (shown as queued) while an answer
        is being written. Yields (box, sess, *view, ask, stop, hint)."""
        sess = self._session(sess)
        question = (question or "").strip()
        if not question:
            return SKIP(), sess, *([SKIP()] * 7), SKIP(), SKIP(), SKIP()
        with sess.lock:
            if sess.busy:
                sess.queue.append(question)
                return SKIP(), sess, *self.view(sess, settled=False), *self._buttons(True)
            self._begin(sess, question)
        # The box was emptied in the browser when the question was sent (layout.TAKE_QUESTION):
        # whatever is typed there since is the user's next question, never touched from here.
        return SKIP(), sess, *self.view(sess, panel=R.render_panel()), *self._buttons(True)

    def accept_example(self, sess, evt: gr.SelectData):
        v = evt.value
        return self.accept(v.get("text", "") if isinstance(v, dict) else str(v or ""), sess)

    def _begin(self, sess: C.Session, question: str) -> dict:
        """A new turn in the open conversation, now being answered (caller holds sess.lock)."""
        conv = sess.conv()
        turn = {"id": C.new_id(), "question": question, "status": "stopped", "answer": None, "steps": [], "seconds": None,
                "feedback": None, "error": "", "asked": C.now()}
        conv["turns"].append(turn)
        if not conv.get("title") and len(conv["turns"]) == 1:
            conv["title"] = ""  # titled by its first question
        sess.touch(conv)
        sess.current, sess.busy = turn, True
        sess.live = {"steps": [], "text": "", "partial": ""}
        return turn

    def _halt(self, sess: C.Session) -> list[str]:
        """Stop the running answer (caller holds sess.lock); returns the queued questions."""
        queued = list(sess.queue)
        sess.queue.clear()
        sess.run_id += 1
        sess.cancel.set()
        sess.cancel = threading.Event()
        if sess.current is not None:
            sess.current["status"] = "stopped"
            sess.current["steps"] = [dict(s, done=True) for s in sess.live.get("steps", [])]
        sess.current, sess.busy = None, False
        sess.runner = None
        return queued

    @staticmethod
    def _box_with(queued: list[str], box: str):
        """Queued questions go back into the input box (with what is typed there): never lost."""
        if not queued:
            return SKIP()
        return "\n".join([*queued, *([box] if (box or "").strip() else [])])

    def stop(self, sess, box):
        """Stop: the answer being written ends; questions queued behind it come back to the box."""
        sess = self._session(sess)
        with sess.lock:
            queued = self._halt(sess) if sess.busy else []
        return self._box_with(queued, box), sess, *self.view(sess), *self._buttons(False)

    def settle(self, sess):
        """After Stop (and the other ways to stop): Ask/Stop and the hint as they are now, in case
        a reply of the stopped answer arrived after Stop's own."""
        sess = self._session(sess)
        return self._buttons(sess.busy)

    def new_chat(self, sess, box):
        """New chat and the chat's trash icon: a new, empty conversation with no follow-up memory."""
        sess = self._session(sess)
        with sess.lock:
            queued = self._halt(sess) if sess.busy else []
            sess.new_chat()
        return self._box_with(queued, box), sess, *self.view(sess, panel=R.render_panel()), *self._buttons(False)

    def pick(self, sess, box, evt: gr.SelectData):
        """A click in the conversation list: open that conversation."""
        sess = self._session(sess)
        cid = str(evt.value or "")
        with sess.lock:
            if sess.store.get("open") == cid and not sess.busy:
                return SKIP(), sess, *self.view(sess), *self._buttons(False)
            queued = self._halt(sess) if sess.busy else []
            conv = sess.open(cid)
        return self._box_with(queued, box), sess, *self.view(sess, panel=C.last_panel(conv)), *self._buttons(False)

    def rename(self, sess, title):
        sess = self._session(sess)
        with sess.lock:
            conv = sess.conv(create=False)
            if conv is not None and conv.get("turns") and (title or "").strip():
                sess.rename(title)
        return sess, *self.view(sess)

    def delete_conversation(self, sess, box):
        sess = self._session(sess)
        with sess.lock:
            queued = self._halt(sess) if sess.busy else []
            sess.delete()
            conv = sess.conv(create=False)
        return self._box_with(queued, box), sess, *self.view(sess, panel=C.last_panel(conv)), *self._buttons(False)

    def retry(self, sess):
        """Regenerate: the last answer of the open conversation is asked again (its history unchanged)."""
        sess = self._session(sess)
        with sess.lock:
            conv = sess.conv(create=False)
            if sess.busy or not conv or not conv["turns"]:
                return sess, *([SKIP()] * 7), SKIP(), SKIP(), SKIP()
            last = conv["turns"].pop()
            self._begin(sess, last["question"])
        return sess, *self.view(sess, panel=R.render_panel()), *self._buttons(True)

    # -- the answer loop of a tab ---------------------------------------------------------------
    def run(self, sess, k, writer, articles, since, until):
        """Answer the tab's current question, then each queued one. Yields (sess, *view, ask, stop, hint)."""
        idle = (SKIP(),) * 10
        if not isinstance(sess, C.Session):
            yield (SKIP(), *idle)
            return
        token = object()
        with sess.lock:
            other = sess.runner is not None or not sess.busy  # another loop serves this tab (a queued question joins it)
            if not other:
                sess.runner, me = token, sess.run_id
        if other:
            yield (sess, *idle)  # (never yield while holding the lock: the next step may run on another thread)
            return
        try:
            while True:
                with sess.lock:
                    if sess.run_id != me:
                        return
                    if sess.current is None:
                        if not sess.queue:
                            sess.busy, sess.runner = False, None  # together: a question sent now starts a new loop
                            break
                        self._begin(sess, sess.queue.pop(0))
                    turn, cancel = sess.current, sess.cancel
                for update in self._answer_turn(sess, me, turn, cancel, k, writer, articles, since, until):
                    if sess.run_id != me:
                        return  # stopped meanwhile: its Stop already showed what is true now
                    yield (sess, *update, *self._buttons(sess.busy))
            yield (sess, *self.view(sess), *self._buttons(sess.busy))
        finally:
            with sess.lock:
                if sess.runner is token:
                    sess.runner = None

    def _answer_turn(self, sess: C.Session, me: int, turn: dict, cancel: threading.Event, k, writer, articles, since, until):
        """Yields views while one turn is answered: steps, then its sentences one by one."""
        t0 = time.perf_counter()
        conv = sess.conv()
        question = turn["question"]
        live = sess.live

        def finish(status: str, *, answer: dict | None = None, error: str = "", panel: str | None = None):
            with sess.lock:
                if sess.run_id != me:
                    return None
                for s in live["steps"]:
                    s["done"] = True
                turn.update(status=status, answer=answer, error=error, steps=live["steps"], seconds=round(time.perf_counter() - t0, 1))
                sess.current = None
                conv["updated"] = C.now()
            return self.view(sess, panel=panel if panel is not None else R.render_panel())

        filters, problem = parse_filters(articles, since, until)
        if problem or not self.has_index():
            out = finish("error", error=problem or re.sub("<[^>]+>", "", NO_INDEX_HTML))
            if out:
                yield out
            return
        history = C.history_of(conv, before=turn["id"])
        events: queue_mod.Queue = queue_mod.Queue()
        engine = WatchedEngine(self.engine, lambda ev: events.put(("step", ev)), cancel)

        llm = self.llm_for(writer)

        def work():
            try:
                for kind, value in self.answer_events(question, history, k, llm, filters, engine=engine):
                    events.put((kind, value))
            finally:
                events.put(("end", None))

        threading.Thread(target=work, daemon=True, name="assay-answer").start()
        result: Answer | None = None
        last = 0.0
        while True:
            try:
                kind, value = events.get(timeout=0.25)
            except queue_mod.Empty:
                if sess.run_id != me:
                    return
                continue
            if sess.run_id != me:
                return  # stopped: the worker stops at its next step
            if kind == "step":
                name, ev = value
                step = _search_step(ev, question) if name == "search" else _read_step(ev) if name == "read" else dict(CHECK_STEP)
                for s in live["steps"]:
                    s["done"] = True
                if not any(s["key"] == step["key"] for s in live["steps"]):
                    live["steps"].append(step)
                yield self.view(sess, settled=False)
            elif kind == "delta":
                if llm is None:
                    continue  # the extractive writer hands over its whole text at once: shown sentence by sentence below
                if not any(s["key"] == "write" for s in live["steps"]):
                    for s in live["steps"]:
                        s["done"] = True
                    live["steps"].append(dict(WRITE_STEP))
                now = time.monotonic()
                if now - last > 0.1:
                    last = now
                    live["text"], live["partial"] = value, ""
                    yield self.view(sess, settled=False)
            elif kind == "error":
                out = finish("error", error=value)
                if out:
                    yield out
                return
            elif kind == "stopped":
                return
            elif kind == "answer":
                result = value
            elif kind == "end":
                break
        if result is None:
            return
        if live["steps"]:
            live["steps"][-1]["log"] = _outcome(result)
        a = C.trim_answer(result.to_dict())
        # The sentences appear one by one (the extractive writer has them all at once).
        n = len(a.get("sentences") or [])
        if not a.get("abstained") and n > 1:
            for i in range(1, n):
                if sess.run_id != me:
                    return
                live["partial"] = R.render_answer(a, upto=i)
                yield self.view(sess, settled=False)
                time.sleep(self.reveal_seconds)
        cits = a.get("citations") or []
        panel = R.render_panel(cits[0] if cits and not a.get("abstained") else None, question)
        out = finish(result.status if result.status in C.ANSWERED else "answered", answer=a, panel=panel)
        if out:
            yield out

    # -- feedback -------------------------------------------------------------------------------
    def _write_feedback(self, record: dict) -> None:
        self.feedback_path.parent.mkdir(parents=True, exist_ok=True)
        with self._feedback_lock, self.feedback_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def like(self, sess, evt: gr.LikeData):
        """Thumbs up/down on an answer: one line in the feedback file; then an optional comment."""
        sess = self._session(sess)
        idx = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        tid = sess.msg_turns[idx] if isinstance(idx, int) and 0 <= idx < len(sess.msg_turns) else None
        conv, turn = sess.turn(tid)
        if turn is None or turn.get("answer") is None:
            return sess, SKIP(), gr.update(visible=False), SKIP(), SKIP()
        vote = "up" if evt.liked is True else "down" if evt.liked is False else None
        with sess.lock:
            turn["feedback"] = vote
            sess.last_vote = turn["id"] if vote else None
        try:
            self._write_feedback(C.feedback_record(conv, turn, vote))
        except OSError as e:
            return sess, sess.persisted(), gr.update(visible=True), f"Could not save the feedback: {R.esc(e.strerror or e)}", ""
        ask = ("Thanks. What was wrong or missing? (optional — it helps turn this into a test question)" if vote == "down"
               else "Thanks. Anything to add? (optional)")
        return sess, sess.persisted(), gr.update(visible=bool(vote)), R.esc(ask), ""

    def comment(self, sess, text):
        """The optional comment after a vote: appended to the feedback file under the same answer id."""
        sess = self._session(sess)
        conv, turn = sess.turn(sess.last_vote)
        text = (text or "").strip()
        if turn is not None and text:
            try:
                self._write_feedback(C.feedback_record(conv, turn, turn.get("feedback"), comment=text[:4000]))
            except OSError as e:
                return gr.update(visible=True), f"Could not save the comment: {R.esc(e.strerror or e)}", text
        sess.last_vote = None
        return gr.update(visible=False), "", ""

    # -- library, uploads and ingest ---------------------------------------------------------
    def refresh(self, query: str = "", open_id: str | None = None):
        """(library HTML, article filter choices, 'no index' banner visibility, corpus summary)."""
        stats, err = self.stats()
        ok = stats is not None and any(r.get("n_chunks") for r in (stats.get("items") or {}).values())
        return (R.render_library(stats, err, query or "", open_id), gr.update(choices=self.article_choices(stats)),
                gr.update(visible=not ok), R.corpus_summary(stats))

    def _ingest(self, paths: list[Path]) -> Iterator[tuple[str, Any]]:
        """Run the ingestor in a thread; yield ("progress", (done, total, name)), ("chunks", (n, total))
        then ("done", Summary) or ("error", e)."""
        q: queue_mod.Queue = queue_mod.Queue()

        def work():
            try:
                with self.write_lock:
                    s = self.ingestor.run([str(p) for p in paths], progress=False,
                                          on_file=lambda d, t, n: q.put(("progress", (d, t, n))),
                                          on_chunks=lambda n, t: q.put(("chunks", (n, t))))
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
        """Yields (status HTML, library, choices, banner, summary) while `paths` are indexed."""
        keep = (gr.update(), gr.update(), gr.update(), gr.update())
        if not paths:
            yield R.status_html(lines, note="Nothing was ingested."), *self.refresh()
            return
        files, chunks, note = None, None, "Reading…"
        for kind, value in self._ingest(paths):
            if kind == "progress":
                done, total, name = value
                files, note = (done, total), (f"Indexing {labels.get(name, name)}…" if name else "Finishing…")
                yield R.status_html(lines, files, note=note, chunks=chunks), *keep
            elif kind == "chunks":
                chunks = value
                yield R.status_html(lines, files, note=note, chunks=chunks), *keep
            elif kind == "error":
                lines.append(("err", f"Ingest failed: {value}"))
            else:
                lines[:0] = [("info", _summary_line(value))]
                lines += _result_lines(value, labels, self._deleted_titles())
        yield R.status_html(lines, note="Done."), *self.refresh()

    def _deleted_titles(self) -> dict[str, str]:
        stats, _ = self.stats()
        return {aid: rec.get("title") or aid for aid, rec in ((stats or {}).get("deleted") or {}).items()}

    def upload(self, files):
        """Library upload: yields (status, library, choices, banner, summary, file control)."""
        items = upload_paths(files)
        keep = gr.update()
        if not items:
            yield R.status_html([("info", "Choose one or more files first.")]), keep, keep, keep, keep, keep
            return
        if len(items) > MAX_UPLOAD_FILES:
            yield R.status_html([("err", f"{len(items)} files chosen — at most {MAX_UPLOAD_FILES} per upload.")]), keep, keep, keep, keep, None
            return
        dest = self.uploads_dir
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            yield R.status_html([("err", f"Cannot create the uploads folder: {e.strerror or e}")]), keep, keep, keep, keep, keep
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
            yield R.status_html([("err", f"Cannot save the uploads: {e.strerror or e}")]), keep, keep, keep, keep, keep
            return
        before = {rec.get("path") for rec in manifest.values()}
        out = None
        for out in self.ingest_and_report(saved, lines, labels):
            yield *out, keep
        # An upload that was not indexed (unreadable, a twin, a failed ingest) does not stay in the
        # upload folder, where every later ingest would report it again.
        try:
            indexed = {rec.get("path") for rec in self.engine.index.manifest().values()}
        except Exception:
            indexed = None
        if indexed is not None:
            dropped = [p for p in saved if str(p.resolve()) not in indexed | before]
            for p in dropped:
                p.unlink(missing_ok=True)
                lines.append(("info", f"{labels.get(p.name, p.name)} was not indexed, so it was not kept"))
            if dropped:
                out = (R.status_html(lines, note="Done."), *out[1:])
        yield *out, None  # clear the file control for the next upload

    def ingest_bundled(self):
        """The 'Ingest bundled corpus' button: yields (status, library, choices, banner, summary)."""
        corpus = self.corpus_dir
        if not corpus.is_dir():
            yield R.status_html([("err", f"No corpus folder at {corpus} — add articles under Library → Add articles.")]), gr.update(), gr.update(), gr.update(), gr.update()
            return
        from ...ingest.files import iter_article_paths

        files = [p for p, _ in iter_article_paths([corpus])]
        yield from self.ingest_and_report(files, [], {p.name: p.name for p in files})

    # -- the library: open, delete, restore, re-index ---------------------------------------------
    def _article_outputs(self, aid: str | None, status: str = "", query: str = ""):
        """(open id, article HTML, actions row, confirm row, library status, library HTML, choices, banner, summary)."""
        view = None
        if aid:
            try:
                view = L.view(self.engine.index, aid, self.uploads_dir)
            except Exception as e:
                status = status or R.status_html([("err", f"Could not open {aid}: {type(e).__name__}: {e}")])
        if view is not None and view.get("deleted"):
            view = None
        lib, choices, banner, summary = self.refresh(query, view["id"] if view else None)
        return (view["id"] if view else None, R.render_article(view), gr.update(visible=view is not None), gr.update(visible=False),
                status, lib, choices, banner, summary)

    def library_click(self, query, evt: gr.SelectData):
        """A click in the library table: open an article, or restore a deleted one."""
        action, _, aid = str(evt.value or "").partition(":")
        if action == "restore":
            yield from self._reindex(aid, query, "restored")
            return
        yield self._article_outputs(aid, query=query)

    def search(self, query, open_id):
        return self.refresh(query, open_id)[0]

    def close_article(self, query):
        return self._article_outputs(None, query=query)

    def ask_delete(self, aid):
        """The first click on Delete: say what deleting does, and ask to confirm (no browser dialog)."""
        if not aid:
            return gr.update(visible=False), ""
        stats, _ = self.stats()
        rec = ((stats or {}).get("items") or {}).get(aid) or {}
        title = rec.get("title") or aid
        what = ("its uploaded file is deleted too" if rec.get("upload") else
                "its file stays in the corpus folder and is kept out of the index (also by `assay ingest`) until you restore it")
        return gr.update(visible=True), f'<div class="assay-confirm"><strong>Delete “{R.esc(title)}”?</strong> It leaves the index at once; {R.esc(what)}.</div>'

    def delete_article(self, aid, query):
        if not aid:
            return self._article_outputs(None, query=query)
        with self.write_lock:
            try:
                line = ("ok", L.delete(self.engine.index, aid, self.uploads_dir))
            except Exception as e:
                line = ("err", f"Could not delete {aid}: {type(e).__name__}: {e}")
        return self._article_outputs(None, R.status_html([line]), query)

    def _reindex(self, aid: str, query: str, done: str):
        """Re-read, split and embed one article (or index a deleted one again); yields library outputs."""
        with self.write_lock:
            try:
                inputs, problem = L.prepare_reindex(self.engine.index, aid)
            except Exception as e:
                inputs, problem = None, f"Could not re-index {aid}: {type(e).__name__}: {e}"
        if problem:
            yield self._article_outputs(aid, R.status_html([("err", problem)]), query)
            return
        status = ""
        for out in self.ingest_and_report([Path(p) for p in inputs], [("info", f"{aid}: {done}")], {}):
            status = out[0]
            yield (SKIP(), SKIP(), SKIP(), SKIP(), status, SKIP(), SKIP(), SKIP(), SKIP())
        yield self._article_outputs(aid, status, query)

    def reindex(self, aid, query):
        if not aid:
            yield self._article_outputs(None, query=query)
            return
        yield from self._reindex(aid, query, "read, split and embedded again")

    # -- API --------------------------------------------------------------------------------
    def ask(self, question: str, history: list | str | None = None, k: int = DEFAULT_K, articles: list | None = None, since: str = "", until: str = "",
            request: gr.Request = None) -> dict:
        """Answer `question` from the indexed articles; returns Answer.to_dict() (text with [n] markers, citations with quotes and spans, abstained, reason, related).

        history: earlier user questions, oldest first (a list or a JSON string). k: passages to retrieve.
        articles/since/until: optional filters (article ids; YYYY[-MM[-DD]]).
        """
        if self.rate is not None:
            client = getattr(getattr(request, "client", None), "host", None) or "unknown"
            wait = self.rate.wait(client)
            if wait:
                raise gr.Error(f"Too many questions from {client}: at most {self.rate.per_minute} a minute without a login. "
                               f"Try again in {wait:.0f} s (the operator can set ASSAY_AUTH to require a login).")
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


def _result_lines(s, labels: dict[str, str], deleted: dict[str, str] | None = None) -> list[tuple[str, str]]:
    deleted = deleted or {}
    lines = []
    for verb, ids in (("added", s.added), ("updated", s.updated)):
        for aid in ids[:SHOW_FILES]:
            lines.append(("ok", f"{verb} {labels.get(aid, aid)} — searchable now"))
        if len(ids) > SHOW_FILES:
            lines.append(("ok", f"… and {len(ids) - SHOW_FILES} more {verb}"))
    if len(s.unchanged) <= SHOW_FILES:
        for aid in s.unchanged:
            if aid in deleted:
                lines.append(("info", f"kept out {labels.get(aid, aid)}: deleted in the Library (restore it there)"))
            else:
                lines.append(("info", f"unchanged {labels.get(aid, aid)} (already indexed)"))
    for f, why in s.skipped:
        name = Path(f).name
        twin = re.search(r"same content as (.+?) — ", why)
        if twin and twin.group(1) in deleted:
            why = f"it is the deleted article “{deleted[twin.group(1)]}” — restore that one in the Library instead"
        lines.append(("info", f"skipped {labels.get(name, name)}: {why}"))
    for f, why in s.failed:
        name = Path(f).name
        lines.append(("err", f"failed {labels.get(name, name)}: {why}"))
    return lines
