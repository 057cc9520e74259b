"""Conversations: what the browser keeps, what one tab is doing, and their Markdown/JSON exports.

No Gradio here (plain data, unit-tested directly). The chat keeps every conversation in the
browser (`gr.BrowserState`, localStorage key ``STORAGE_KEY``) as a *store*::

    {"version": 1, "open": "<id>", "conversations": [
        {"id", "title", "created", "updated", "turns": [
            {"id", "question", "status", "answer": Answer.to_dict() without its passages,
             "steps": [...], "seconds", "feedback": "up" | "down" | None, "error": ""}]}]}

The open conversation's earlier questions are its follow-up memory, and every answer carries
its own citations (passages, spans), so a reload restores the chat, its sources and what a
follow-up refers to. A `Session` is one browser tab: the store plus what is running (the answer
being written, questions queued behind it, the run to stop).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

from . import render as R

STORAGE_KEY = "assay-conversations"
STORE_VERSION = 1
MAX_CONVERSATIONS = 40  # the oldest are dropped beyond this (localStorage holds ~5 MB per site)
MAX_TURNS = 60  # per conversation
MAX_STORE_CHARS = 2_500_000  # JSON size of the whole store; the oldest conversations go first
ANSWERED = ("answered", "partial", "abstained")  # turns that count as follow-up memory


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def empty_store() -> dict:
    return {"version": STORE_VERSION, "open": None, "conversations": []}


def new_conversation() -> dict:
    t = now()
    return {"id": new_id(), "title": "", "created": t, "updated": t, "turns": []}


def title_of(conv: dict) -> str:
    if conv.get("title"):
        return conv["title"]
    first = next((t.get("question") for t in conv.get("turns", []) if t.get("question")), "")
    return R._short(first, 60) if first else "New chat"


def history_of(conv: dict, before: str | None = None) -> list[str]:
    """The questions a follow-up may refer to: earlier answered turns (up to turn `before`)."""
    out = []
    for t in conv.get("turns", []):
        if before is not None and t.get("id") == before:
            break
        if t.get("status") in ANSWERED and t.get("question"):
            out.append(t["question"])
    return out


def trim_answer(a: dict) -> dict:
    """What a stored turn keeps of Answer.to_dict(): everything shown and exported, not the
    retrieved passages (the citations carry their own passage text and spans)."""
    out = {k: v for k, v in a.items() if k not in ("passages",)}
    out["related"] = [{k: (v[:600] if k == "text" and isinstance(v, str) else v) for k, v in p.items()
                       if k in ("article_id", "title", "published", "publisher", "text", "source_url", "chunk_id")}
                      for p in (a.get("related") or [])[:3]]
    return out


def _clean_turn(t: Any) -> dict | None:
    if not isinstance(t, dict) or not isinstance(t.get("question"), str) or not t["question"].strip():
        return None
    status = t.get("status") if t.get("status") in (*ANSWERED, "error", "stopped") else "stopped"
    answer = t.get("answer") if isinstance(t.get("answer"), dict) else None
    if status in ANSWERED and answer is None:
        status = "stopped"
    steps = [s for s in t.get("steps") or [] if isinstance(s, dict)] if isinstance(t.get("steps"), list) else []
    fb = t.get("feedback") if t.get("feedback") in ("up", "down") else None
    seconds = t.get("seconds") if isinstance(t.get("seconds"), (int, float)) else None
    return {"id": str(t.get("id") or new_id()), "question": t["question"], "status": status, "answer": answer,
            "steps": steps, "seconds": seconds, "feedback": fb, "error": str(t.get("error") or ""),
            "asked": str(t.get("asked") or "")}


def normalise(store: Any) -> dict:
    """A store as read from the browser (which anyone can edit): unknown shapes dropped, limits kept."""
    if not isinstance(store, dict) or not isinstance(store.get("conversations"), list):
        return empty_store()
    convs = []
    for c in store["conversations"]:
        if not isinstance(c, dict):
            continue
        turns = [t for t in (_clean_turn(x) for x in (c.get("turns") or [] if isinstance(c.get("turns"), list) else [])) if t]
        convs.append({"id": str(c.get("id") or new_id()), "title": str(c.get("title") or "")[:200],
                      "created": str(c.get("created") or now()), "updated": str(c.get("updated") or now()),
                      "turns": turns[-MAX_TURNS:]})
    out = {"version": STORE_VERSION, "open": store.get("open"), "conversations": convs[:MAX_CONVERSATIONS]}
    if not any(c["id"] == out["open"] for c in convs):
        out["open"] = convs[0]["id"] if convs else None
    return out


def fit(store: dict) -> dict:
    """Keep the store within the browser's budget: drop the oldest conversations (never the open one)."""
    store["conversations"] = store["conversations"][:MAX_CONVERSATIONS]
    for c in store["conversations"]:
        c["turns"] = c["turns"][-MAX_TURNS:]
    while len(store["conversations"]) > 1 and len(json.dumps(store)) > MAX_STORE_CHARS:
        victims = [c for c in store["conversations"] if c["id"] != store["open"]]
        store["conversations"].remove(victims[-1])
    return store


class Session:
    """One browser tab: the store, the answer being written and the questions queued behind it.

    Shared by that tab's concurrent events (submit, stop, new chat, the answer loop); `lock`
    guards it. `run_id` changes whenever the running answer is stopped, so a loop that was
    cancelled never writes over what came after it.
    """

    def __init__(self, store: Any = None):
        self.store = normalise(store)
        self.lock = threading.RLock()
        self.busy = False  # an answer is being written (or about to be) for this tab
        self.queue: list[str] = []  # questions sent while busy, asked in order
        self.current: dict | None = None  # the turn being answered
        self.live: dict = {}  # what the running answer shows: {"steps": [...], "partial": html, "text": str}
        self.run_id = 0
        self.runner: object | None = None  # the answer loop serving this tab, if any
        self.cancel = threading.Event()
        self.msg_turns: list[str | None] = []  # chat message index -> turn id (for feedback)
        self.last_vote: str | None = None  # turn id of the last thumbs up/down (the comment goes with it)
        self.panel: str = R.PANEL_EMPTY

    # -- conversations --------------------------------------------------------------------
    @property
    def conversations(self) -> list[dict]:
        return self.store["conversations"]

    def conv(self, create: bool = True) -> dict | None:
        """The open conversation (a new one when none is open and `create`)."""
        cid = self.store.get("open")
        for c in self.conversations:
            if c["id"] == cid:
                return c
        if not create:
            return None
        c = new_conversation()
        self.conversations.insert(0, c)
        self.store["open"] = c["id"]
        return c

    def new_chat(self) -> dict:
        """Open a new, empty conversation (an empty open one is reused): no follow-up memory."""
        cur = self.conv(create=False)
        if cur is not None and not cur["turns"]:
            return cur
        c = new_conversation()
        self.conversations.insert(0, c)
        self.store["open"] = c["id"]
        return c

    def open(self, cid: str) -> dict | None:
        for c in self.conversations:
            if c["id"] == cid:
                self.store["open"] = cid
                return c
        return None

    def rename(self, title: str) -> None:
        c = self.conv()
        c["title"] = " ".join(str(title or "").split())[:200]
        c["updated"] = now()

    def delete(self, cid: str | None = None) -> None:
        cid = cid or self.store.get("open")
        self.store["conversations"] = [c for c in self.conversations if c["id"] != cid]
        if self.store.get("open") == cid:
            self.store["open"] = self.conversations[0]["id"] if self.conversations else None

    def touch(self, conv: dict) -> None:
        """Move `conv` to the top of the list (most recently used first)."""
        conv["updated"] = now()
        if conv in self.conversations:
            self.conversations.remove(conv)
        self.conversations.insert(0, conv)

    def turn(self, tid: str | None) -> tuple[dict | None, dict | None]:
        for c in self.conversations:
            for t in c["turns"]:
                if t["id"] == tid:
                    return c, t
        return None, None

    def persisted(self) -> dict:
        """The store as saved in the browser (within its size budget)."""
        return fit(self.store)


# ---- chat messages of a conversation


def steps_message(steps: list[dict], done: bool, seconds: float | None = None) -> dict:
    meta: dict = {"title": R.steps_title(steps, done), "status": "done" if done else "pending"}
    if done and isinstance(seconds, (int, float)):
        meta["duration"] = round(float(seconds), 1)
    return {"role": "assistant", "content": R.render_steps(steps), "metadata": meta}


def messages(conv: dict | None, session: Session | None = None) -> tuple[list[dict], list[str | None]]:
    """Chat messages of `conv` (and, from `session`, the answer being written and the queue),
    with the turn id of each message."""
    out: list[dict] = []
    ids: list[str | None] = []

    def add(msg: dict, tid: str | None) -> None:
        out.append(msg)
        ids.append(tid)

    current = session.current if session else None
    for t in (conv or {}).get("turns", []):
        add({"role": "user", "content": R.render_user(t["question"])}, t["id"])
        if current is not None and t is current:
            live = session.live
            add(steps_message(live.get("steps", []), False), t["id"])
            add({"role": "assistant", "content": live.get("partial") or R.render_streaming(live.get("text", ""))}, t["id"])
            continue
        if t.get("steps"):
            add(steps_message(t["steps"], True, t.get("seconds")), t["id"])
        if t["status"] in ANSWERED and t.get("answer"):
            add({"role": "assistant", "content": R.render_answer(t["answer"])}, t["id"])
        elif t["status"] == "error":
            add({"role": "assistant", "content": R.render_message(R.esc(t.get("error") or "Something went wrong."), "error")}, t["id"])
        else:
            add({"role": "assistant", "content": R.render_stopped()}, t["id"])
    if session is not None and session.queue and conv is session.conv(create=False):
        for q in session.queue:
            add({"role": "user", "content": R.render_user(q, queued=True)}, None)
    return out, ids


def feedback_values(conv: dict | None) -> list[str | None]:
    """The Chatbot's feedback_value: one entry per assistant message group, in order."""
    out: list[str | None] = []
    for t in (conv or {}).get("turns", []):
        out.append({"up": "Like", "down": "Dislike"}.get(t.get("feedback") or ""))
    return out


def last_panel(conv: dict | None) -> str:
    """The Sources panel for a conversation: the last answer's first source, or empty."""
    for t in reversed((conv or {}).get("turns", [])):
        a = t.get("answer") or {}
        if t.get("status") in ANSWERED:
            cits = a.get("citations") or []
            return R.render_panel(cits[0] if cits and not a.get("abstained") else None, a.get("question", ""))
    return R.render_panel()


# ---- exports


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60].strip("-")
    return s or "conversation"


def conversation_markdown(conv: dict) -> str:
    lines = [f"# {R.md_text(title_of(conv))}", "", f"*Exported from Assay on {now()[:10]}. Answers quote the indexed articles; [n] marks the source of each sentence.*", ""]
    for i, t in enumerate(conv.get("turns", []), 1):
        lines += [f"## {i}. {R.md_text(t['question'])}", ""]
        a = t.get("answer") or {}
        if a.get("query") and a.get("query", "").strip() != t["question"].strip():
            lines += [f"*Searched for: {R.md_text(a['query'])}*", ""]
        if t["status"] in ANSWERED and a:
            if t["status"] == "partial":
                lines += ["*Partly answered.*", ""]
            lines += [R.answer_markdown(a), ""]
        elif t["status"] == "error":
            lines += [f"*Error: {R.md_text(t.get('error'))}*", ""]
        else:
            lines += ["*Stopped before the answer was finished.*", ""]
    return "\n".join(lines).rstrip() + "\n"


_CITATION_FIELDS = ("n", "article_id", "title", "published", "publisher", "source_url", "uploaded", "chunk_id", "start", "end",
                    "quote", "passage_start", "passage_end", "spans")


def conversation_json(conv: dict) -> dict:
    """Questions, answers, statuses and citations with their exact spans (machine-readable)."""
    turns = []
    for t in conv.get("turns", []):
        a = t.get("answer") or {}
        turns.append({
            "question": t["question"],
            "query": a.get("query", ""),
            "status": t["status"],
            "answer": a.get("text", "") if a else "",
            "sentences": [{k: s.get(k) for k in ("text", "kind", "citations", "start", "end", "article_id")} for s in a.get("sentences") or []],
            "citations": [{k: c.get(k) for k in _CITATION_FIELDS} for c in a.get("citations") or []],
            "missing": a.get("missing") or [],
            "reason": a.get("reason", ""),
            "writer": a.get("writer", ""),
            "feedback": t.get("feedback"),
            "error": t.get("error") or "",
        })
    return {"title": title_of(conv), "id": conv.get("id"), "created": conv.get("created"), "exported": now(),
            "format": "assay-conversation/1", "turns": turns}


# ---- feedback


def feedback_record(conv: dict, turn: dict, vote: str | None, comment: str = "") -> dict:
    """One line of the feedback JSONL: the vote, the question with its history, the answer given."""
    a = turn.get("answer") or {}
    return {
        "id": turn["id"],
        "time": now(),
        "vote": vote,  # "up" | "down" | None (vote withdrawn)
        "comment": comment,
        "question": turn["question"],
        "history": history_of(conv, before=turn["id"]),
        "query": a.get("query", ""),
        "status": turn.get("status"),
        "answer": a.get("text", ""),
        "missing": a.get("missing") or [],
        "citations": [{k: c.get(k) for k in ("n", "article_id", "title", "quote", "start", "end")} for c in a.get("citations") or []],
        "writer": a.get("writer", ""),
        "conversation": conv.get("id"),
    }
