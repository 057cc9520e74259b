"""The chat's state without a browser (issue 12): answer statuses rendered, Copy's Markdown, the
conversation store kept in the browser, exports, the stop/queue rules of one tab, feedback and
`assay eval import-feedback`. Fast: plain data, and the Gradio handlers called directly."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from tests.test_security import PAYLOADS, live_markup

CIT = {
    "n": 1, "chunk_id": "c1", "article_id": "partners.md", "title": "Rare earth partners", "published": "2025-11-12",
    "publisher": "Assay Desk", "source_url": "https://example.org/partners?a=1&b=(2)", "start": 10, "end": 60,
    "quote": "Australia supplies neodymium.", "passage_start": 0, "passage_end": 120,
    "passage_text": "Intro text. Australia supplies neodymium. Canada mines. India refines. The EU buys.", "spans": [[12, 41]],
}
CIT2 = dict(CIT, n=2, chunk_id="c2", article_id="eu.md", title="EU statement", published="2024-04-05", source_url="", publisher="")


def answered_list() -> dict:
    return {
        "question": "Which countries is the US partnering with?", "query": "Which countries is the US partnering with?",
        "status": "answered", "abstained": False, "writer": "extractive", "timings": {"total": 0.4}, "flags": [],
        "text": "The US works with several countries: [1]\n- Australia supplies neodymium. [1]\n- The EU buys. [2]",
        "sentences": [
            {"text": "The US works with several countries:", "citations": [1], "kind": "answer"},
            {"text": "Australia supplies neodymium.", "citations": [1], "kind": "item"},
            {"text": "The EU buys.", "citations": [2], "kind": "item"},
        ],
        "citations": [CIT, CIT2], "missing": [], "related": [], "passages": [{"text": "x" * 5000}],
    }


def partial() -> dict:
    return {
        "question": "How much is the Department of War investing in the gallium refinery?", "query": "How much …",
        "status": "partial", "abstained": False, "writer": "extractive", "timings": {}, "flags": [],
        "text": "The Department of War will invest in a gallium refinery. [1] They don't say how much (no amount is given).",
        "sentences": [
            {"text": "The Department of War will invest in a gallium refinery.", "citations": [1], "kind": "answer"},
            {"text": "They don't say how much (no amount is given).", "citations": [], "kind": "note"},
        ],
        "citations": [CIT], "missing": ["how much"], "related": [],
    }


class Tree(HTMLParser):
    """Just enough DOM: the elements with their class and text, in order."""

    def __init__(self, html: str):
        super().__init__()
        self.stack: list[dict] = []
        self.all: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "cls": dict(attrs).get("class", "") or "", "attrs": dict(attrs), "text": "", "kids": []}
        if self.stack:
            self.stack[-1]["kids"].append(el)
        self.stack.append(el)
        self.all.append(el)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data

    def find(self, cls: str) -> list[dict]:
        return [e for e in self.all if cls in e["cls"].split()]


def count(el: dict, cls: str) -> int:
    return sum((cls in k["cls"].split()) + count(k, cls) for k in el["kids"])


# ---------------------------------------------------------------- statuses rendered


def test_list_answers_are_bullets_with_one_cited_item_per_line():
    from assay.app.chat.render import render_answer

    t = Tree(render_answer(answered_list()))
    items = [e for e in t.all if e["tag"] == "li" and any("assay-items" in p["cls"] for p in t.all if e in p["kids"])]
    assert [i["text"].strip() for i in items] == ["Australia supplies neodymium.1", "The EU buys.2"]
    assert all(count(i, "assay-cite") == 1 for i in items)
    assert t.find("assay-para")[0]["text"].startswith("The US works with several countries:")
    assert not t.find("assay-note") and not t.find("assay-status")


def test_partial_answers_show_the_quote_and_what_the_articles_dont_say_in_their_own_style():
    from assay.app.chat.render import render_answer

    html = render_answer(partial())
    t = Tree(html)
    assert "assay-partial" in t.all[0]["cls"]
    note = t.find("assay-note")
    assert len(note) == 1 and "They don't say how much" in note[0]["text"] and count(note[0], "assay-cite") == 0
    assert count(t.find("assay-para")[0], "assay-cite") == 1  # the quoted part keeps its citation
    assert t.find("assay-status") and "Partly answered" in t.find("assay-status")[0]["text"]
    from assay.app.chat.assets import CSS

    assert re.search(r"\.assay-note\{[^}]*border-left", CSS) and re.search(r"\.assay-note\{[^}]*font-style:italic", CSS)


def test_abstentions_render_as_before_with_related_passages():
    from assay.app.chat.render import render_answer

    a = {"question": "Mars?", "query": "Mars?", "status": "abstained", "abstained": True, "text": "The articles don't say anything about Mars.",
         "reason": "not mentioned", "related": [{"title": "Tin", "published": "2020-01-01", "text": "Tin is mined."}], "flags": [], "timings": {}}
    t = Tree(render_answer(a))
    assert "assay-abstain" in t.all[0]["cls"] and "The articles don't say" in t.all[0]["text"]
    assert not t.find("assay-cite") and t.find("assay-related")


def test_streaming_answers_show_their_first_sentences_only_and_are_not_final():
    from assay.app.chat.render import render_answer

    t = Tree(render_answer(answered_list(), upto=2))
    assert "assay-streaming" in t.all[0]["cls"]
    assert len(t.find("assay-sent")) == 2 and not t.find("assay-sources-list") and not t.find("assay-copy")
    assert len(t.find("assay-src")) == 2  # the passages are clickable while it is written


# ---------------------------------------------------------------- Copy: clean Markdown


def test_copy_markdown_has_markers_and_a_numbered_source_list_and_no_html():
    from assay.app.chat.render import answer_markdown, render_answer

    md = answer_markdown(answered_list())
    assert md.splitlines()[0] == "The US works with several countries: [1]"
    assert "- Australia supplies neodymium. [1]" in md and "- The EU buys. [2]" in md
    assert "Sources:" in md
    assert "1. [Rare earth partners](<https://example.org/partners?a=1&b=(2)>) — 2025-11-12, Assay Desk" in md
    assert "2. EU statement — 2024-04-05" in md
    assert not re.search(r"<\s*/?\s*[a-zA-Z][^>]*>", md.replace("<https://", "")), md
    # what the Copy button copies is that Markdown, carried (escaped) in the message
    t = Tree(render_answer(answered_list()))
    assert t.find("assay-md")[0]["text"] == md and "hidden" in t.find("assay-md")[0]["attrs"]


def test_copy_markdown_of_partial_and_hostile_text_is_literal():
    from assay.app.chat.render import answer_markdown

    md = answer_markdown(partial())
    assert "*They don't say how much (no amount is given).*" in md
    assert "The Department of War will invest in a gallium refinery. [1]" in md
    hostile = answered_list()
    hostile["sentences"][1]["text"] = "It quotes " + " and ".join(PAYLOADS)
    md = answer_markdown(hostile)
    assert "\\<script\\>alert(1)\\</script\\>" in md and "\\[click\\](javascript:alert(1))" in md  # shown, never live


@pytest.mark.parametrize("payload", PAYLOADS)
def test_new_renderers_escape_every_payload(payload):
    from assay.app.chat import conversations as C
    from assay.app.chat import render as R

    a = answered_list()
    a["sentences"][1]["text"] = payload
    a["question"] = payload
    p = partial()
    p["sentences"][1]["text"] = payload
    conv = {"id": "x", "title": payload, "turns": [], "updated": payload}
    view = {"id": payload, "title": payload, "published": payload, "publisher": payload, "source_url": "javascript:alert(1)",
            "path": payload, "text": f"Text {payload} more", "chunks": [(0, 8), (5, 12)]}
    rendered = {
        "answer": R.render_answer(a), "streaming": R.render_answer(a, upto=1), "partial": R.render_answer(p),
        "queued": R.render_user(payload, queued=True), "steps": R.render_steps([{"label": payload, "log": payload, "done": True}]),
        "panel": R.render_panel(CIT | {"title": payload}, payload), "convs": R.render_conversations([conv], "x", C.title_of),
        "article": R.render_article(view, payload), "summary": R.corpus_summary({"items": {payload: {"title": payload, "published": payload}}}),
        "library": R.render_library({"items": {}, "deleted": {payload: {"title": payload}}}, query=payload),
    }
    for where, html_ in rendered.items():
        assert not live_markup(html_), (where, live_markup(html_))
        assert where == "summary" or R.esc(payload) in html_, where  # (the summary shows counts and months only)


# ---------------------------------------------------------------- the browser's store


def test_store_from_the_browser_is_normalised_and_bounded():
    from assay.app.chat import conversations as C

    assert C.normalise(None) == C.empty_store() and C.normalise("junk") == C.empty_store()
    store = {"open": "nope", "conversations": [
        "junk", {"id": "a", "title": 7, "turns": [{"question": "Q?", "status": "answered", "answer": {"text": "A"}},
                                                  {"question": ""}, {"question": "P?", "status": "answered"}, "x"]}]}
    s = C.normalise(store)
    assert [c["id"] for c in s["conversations"]] == ["a"] and s["open"] == "a"
    turns = s["conversations"][0]["turns"]
    assert [t["question"] for t in turns] == ["Q?", "P?"] and turns[1]["status"] == "stopped"  # no answer: not memory
    assert C.history_of(s["conversations"][0]) == ["Q?"]
    big = {"conversations": [{"id": str(i), "turns": [{"question": "q", "status": "answered", "answer": {"text": "y" * 50_000}}] * 5}
                             for i in range(60)], "open": "59"}
    fitted = C.fit(C.normalise(big))
    assert len(fitted["conversations"]) <= C.MAX_CONVERSATIONS and len(json.dumps(fitted)) <= C.MAX_STORE_CHARS


def test_session_new_chat_open_rename_delete():
    from assay.app.chat import conversations as C

    s = C.Session()
    c1 = s.conv()
    c1["turns"].append({"id": "t1", "question": "Which countries?", "status": "answered", "answer": answered_list()})
    assert C.title_of(c1) == "Which countries?"
    c2 = s.new_chat()
    assert c2 is not c1 and s.conv() is c2 and C.history_of(c2) == []  # no follow-up memory
    assert s.new_chat() is c2  # an empty conversation is reused, not piled up
    s.open(c1["id"])
    s.rename("  Partners   overview ")
    assert C.title_of(c1) == "Partners overview"
    s.delete()
    assert all(c["id"] != c1["id"] for c in s.conversations) and s.store["open"] == c2["id"]


def test_messages_carry_steps_answers_and_queued_questions():
    from assay.app.chat import conversations as C

    s = C.Session()
    conv = s.conv()
    conv["turns"].append({"id": "t1", "question": "Q1", "status": "answered", "answer": answered_list(),
                          "steps": [{"label": "Searching 9 passages", "summary": "Searched 9 passages", "done": True}], "seconds": 1.2})
    s.queue.append("Q2")
    msgs, ids = C.messages(conv, s)
    assert [m["role"] for m in msgs] == ["user", "assistant", "assistant", "user"]
    assert msgs[1]["metadata"] == {"title": "Searched 9 passages", "status": "done", "duration": 1.2}
    assert "assay-queued" in msgs[3]["content"] and ids == ["t1", "t1", "t1", None]
    assert "Rare earth partners" in C.last_panel(conv)  # a reopened conversation shows its last answer's first source


def test_exports_markdown_and_json_with_statuses_and_spans():
    from assay.app.chat import conversations as C

    conv = {"id": "c", "title": "", "turns": [
        {"id": "t1", "question": "Which countries?", "status": "answered", "answer": C.trim_answer(answered_list())},
        {"id": "t2", "question": "How much?", "status": "partial", "answer": partial()},
        {"id": "t3", "question": "Stopped one", "status": "stopped", "answer": None}]}
    md = C.conversation_markdown(conv)
    assert md.startswith("# Which countries?\n") and "## 1. Which countries?" in md and "## 2. How much?" in md
    assert "*Partly answered.*" in md and "*Stopped before the answer was finished.*" in md and "<div" not in md
    js = C.conversation_json(conv)
    assert [t["status"] for t in js["turns"]] == ["answered", "partial", "stopped"]
    c = js["turns"][0]["citations"][0]
    assert c["start"] == 10 and c["end"] == 60 and c["spans"] == [[12, 41]] and c["quote"]
    assert "passages" not in conv["turns"][0]["answer"]  # stored turns do not keep every retrieved passage
    json.dumps(js)


# ---------------------------------------------------------------- one tab: ask, queue, stop


@pytest.fixture()
def handlers(tmp_path):
    from assay.app.chat.handlers import ChatHandlers
    from assay.ingest.config import Settings

    return ChatHandlers(Settings(index_dir=tmp_path / "data" / "index"))


def test_a_question_sent_while_answering_is_queued_and_stop_puts_it_back_in_the_box(handlers):
    from assay.app.chat import conversations as C

    import gradio as gr

    out = handlers.accept("First question?", None)
    sess = out[1]
    assert out[0] == gr.skip() and sess.busy  # (the browser emptied the box when it sent the question) and sess.current["question"] == "First question?"
    assert out[-3]["visible"] is False and out[-2]["visible"] is True  # Ask became Stop
    out = handlers.accept("Second question?", sess)
    assert out[0] == gr.skip() and sess.queue == ["Second question?"]
    assert any("assay-queued" in m["content"] and "Second question?" in m["content"] for m in out[2])  # shown as queued
    out = handlers.stop(sess, "half-typed third")
    assert out[0] == "Second question?\nhalf-typed third"  # never lost: back in the box with what was typed
    assert not sess.busy and sess.queue == [] and sess.conv()["turns"][0]["status"] == "stopped"
    assert out[-3]["visible"] is True and out[-2]["visible"] is False
    assert handlers.stop(sess, "x")[0] == gr.skip()  # stopping when idle leaves the box alone
    stored = C.normalise(out[8])
    assert stored["conversations"][0]["turns"][0]["question"] == "First question?"  # the question was persisted


def test_new_chat_and_the_trash_icon_start_an_empty_conversation_without_memory(handlers):
    from assay.app.chat import conversations as C

    sess = handlers.accept("Which countries is the US partnering with on rare earths?", None)[1]
    with sess.lock:
        sess.current["status"], sess.current["answer"] = "answered", answered_list()
        sess.current, sess.busy = None, False
    out = handlers.new_chat(sess, "")
    conv = sess.conv()
    assert conv["turns"] == [] and C.history_of(conv) == [] and len(sess.conversations) == 2
    assert out[2]["value"] == [] and "Click a numbered marker" in out[3]  # empty chat, empty Sources panel


def test_feedback_is_appended_and_import_feedback_drafts_questions(handlers, tmp_path):
    import gradio as gr
    from click.testing import CliRunner

    from assay.app.cli import cli
    from assay.eval.questions import load_questions

    sess = handlers.accept("Which countries?", None)[1]
    with sess.lock:
        sess.current.update(status="answered", answer=answered_list())
        sess.current, sess.busy = None, False
    sess2 = handlers.accept("And the EU?", sess)[1]
    with sess2.lock:
        sess2.current.update(status="partial", answer=partial())
        sess2.current, sess2.busy = None, False
    handlers.view(sess)  # maps chat messages to turns
    second = max(i for i, t in enumerate(sess.msg_turns) if t == sess.conv()["turns"][1]["id"]) - 1
    out = handlers.like(sess, gr.LikeData(None, {"index": second, "value": "", "liked": False}))
    assert out[2]["visible"] is True and "What was wrong" in out[3]
    handlers.comment(sess, "It should give the amount")
    handlers.like(sess, gr.LikeData(None, {"index": 1, "value": "", "liked": True}))
    lines = [json.loads(x) for x in handlers.feedback_path.read_text().splitlines()]
    assert handlers.feedback_path == tmp_path / "data" / "feedback.jsonl"
    assert [(r["vote"], r["comment"]) for r in lines] == [("down", ""), ("down", "It should give the amount"), ("up", "")]
    assert lines[0]["question"] == "And the EU?" and lines[0]["history"] == ["Which countries?"] and lines[0]["status"] == "partial"
    assert lines[0]["answer"].startswith("The Department of War") and lines[0]["citations"][0]["article_id"] == "partners.md"

    drafts = tmp_path / "drafts.jsonl"
    runner = CliRunner()
    r = runner.invoke(cli, ["eval", "import-feedback", str(handlers.feedback_path), "--out", str(drafts)])
    assert r.exit_code == 0, r.output
    assert "2 rated answers (1 down, 1 up): 1 draft question(s)" in r.output
    rows = [json.loads(x) for x in drafts.read_text().splitlines()]
    assert len(rows) == 1
    d = rows[0]
    assert d["question"] == "And the EU?" and d["history"] == ["Which countries?"] and d["facts"] == [] and d["sources"] == []
    assert d["answer_given"].startswith("The Department of War") and d["comment"] == "It should give the amount" and d["draft"] is True
    qs, errors = load_questions(drafts)  # the question-file format: a person fills in facts and sources
    assert not errors and qs[0].question == "And the EU?" and qs[0].history == ["Which countries?"]
    again = runner.invoke(cli, ["eval", "import-feedback", str(handlers.feedback_path), "--out", str(drafts)])
    assert "0 draft question(s)" in again.output and "1 already drafted" in again.output and len(drafts.read_text().splitlines()) == 1
    refused = runner.invoke(cli, ["eval", str(drafts)])
    assert refused.exit_code != 0 and "draft question" in refused.output  # an uncompleted draft is never scored


def test_upload_and_feedback_locations_default_beside_the_index_not_in_the_checkout(tmp_path):
    from assay.ingest.config import Settings

    s = Settings()
    assert s.uploads_folder.as_posix() == ".assay/uploads" and s.feedback_path.as_posix() == ".assay/feedback.jsonl"  # .assay/ is gitignored
    s = Settings.from_env({"ASSAY_UPLOADS": str(tmp_path / "up"), "ASSAY_FEEDBACK": str(tmp_path / "fb.jsonl")})
    assert s.uploads_folder == tmp_path / "up" and s.feedback_path == tmp_path / "fb.jsonl"
