"""The chat keeps its state (issue 12), in a real chromium against the real app, model and Chroma:
conversations that survive a reload with their sources and follow-up memory, the trash icon and
New chat starting over, sources tied to each answer, no lost input (Stop, queued questions),
progress steps and sentences appearing one by one, Copy as Markdown and exports, statuses
rendered, feedback into the eval loop, a library that opens, re-indexes and deletes articles for
good, and the phone layout. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, serve_corpus

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "tests" / "artifacts"
ANSWER_TIMEOUT = 90_000  # ms
FINAL = "#assay-chat .assay-answer:not(.assay-streaming)"
PARTNERS = "Which countries is the US partnering with on rare earths?"
GALLIUM = "How much is the Department of War investing in the gallium refinery in Western Australia?"
CANADA_DEAL = "What did the US and Canada agree on critical minerals?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("chat")
    demo, url, engine = serve_corpus(base)
    yield {"url": url, "engine": engine, "settings": engine.settings, "base": base, "demo": demo, "reveal": demo.assay_backend.reveal_seconds}
    demo.close()


def open_page(browser, url, *, phone: bool = False):
    """A new browser context (its own localStorage: no conversations yet) on the chat."""
    opts = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2} if phone \
        else {"viewport": {"width": 1400, "height": 1000}}
    ctx = browser.new_context(accept_downloads=True, **opts)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    page = ctx.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_selector("#assay-question textarea:not([disabled])", timeout=60_000)  # open once the stored conversations are loaded
    return ctx, page


def send(page, question: str, enter: bool = False) -> None:
    box = page.locator("#assay-question textarea")
    box.fill(question)
    if enter:
        box.press("Enter")
    else:
        page.locator("#assay-ask").click()


def wait_answers(page, n: int) -> None:
    page.wait_for_function("n => document.querySelectorAll('#assay-chat .assay-answer:not(.assay-streaming)').length >= n",
                           arg=n, timeout=ANSWER_TIMEOUT)
    page.wait_for_function("() => !document.querySelector('#assay-stop') || document.querySelector('#assay-stop').offsetParent === null",
                           timeout=ANSWER_TIMEOUT)  # idle again: Ask is back


def ask(page, question: str):
    before = page.locator(FINAL).count()
    send(page, question)
    wait_answers(page, before + 1)
    return page.locator(FINAL).nth(before)


EMPTY_PANEL = "() => document.querySelector('#assay-panel-body').innerText.includes('Click a numbered marker')"


def panel_title(page) -> str:
    t = page.locator("#assay-panel-body .assay-src-title")
    return t.inner_text().strip() if t.count() else ""


def source_title(answer, n: int = 1) -> str:
    return answer.locator(".assay-sources-list li").nth(n - 1).locator(".assay-li-title").inner_text().strip()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


# ---------------------------------------------------------------- conversations that last


def test_reload_restores_the_conversation_its_sources_and_follow_up_memory(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        first = ask(page, PARTNERS)
        title = source_title(first)
        page.reload()
        page.wait_for_selector(FINAL, timeout=60_000)
        assert page.locator(FINAL).count() == 1
        assert PARTNERS in page.locator("#assay-chat .assay-user").first.inner_text()
        assert panel_title(page) == title  # the answer's first source is back in the panel
        assert PARTNERS[:30] in page.locator("#assay-convlist").inner_text()
        restored = page.locator(FINAL).first
        restored.locator(".assay-text .assay-cite").first.click()  # its passages came back with it
        page.locator("#assay-panel-body mark").first.wait_for(timeout=10_000)
        follow = ask(page, "What about Canada?")
        assert "searched for" in follow.locator(".assay-query").inner_text()  # the follow-up memory came back too
        assert "Canada" in follow.locator(".assay-text").inner_text()
    finally:
        ctx.close()


def test_trash_and_new_chat_start_an_empty_conversation_without_follow_up_memory(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        ask(page, PARTNERS)
        page.locator("#assay-chat button[aria-label=Clear]").click()  # the chat's trash icon
        page.wait_for_function("() => !document.querySelector('#assay-chat .assay-answer')", timeout=10_000)
        page.wait_for_function(EMPTY_PANEL, timeout=10_000)  # no stale passage
        page.wait_for_function("() => document.querySelectorAll('#assay-convlist .assay-conv').length === 2", timeout=10_000)
        after = ask(page, "What about Canada?")
        assert after.locator(".assay-query").count() == 0  # searched as typed: a new question
        assert page.locator("#assay-convlist .assay-conv").count() == 2  # the old conversation is kept in the list
        page.locator("#assay-clear").click()  # New chat does the same
        page.wait_for_function("() => !document.querySelector('#assay-chat .assay-answer')", timeout=10_000)
        page.wait_for_function("() => !document.querySelector('#assay-convlist .assay-conv-open .assay-conv-meta').innerText.startsWith('1 ')", timeout=10_000)
        again = ask(page, "And dysprosium oxide?")
        assert again.locator(".assay-query").count() == 0
        assert page.locator("#assay-convlist .assay-conv").count() == 3
    finally:
        ctx.close()


def test_each_answer_shows_its_own_passage_and_new_chat_empties_the_panel(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        a1 = ask(page, PARTNERS)
        assert panel_title(page) == source_title(a1)  # a new answer shows its own first source
        a2 = ask(page, CANADA_DEAL)
        assert panel_title(page) == source_title(a2)
        assert CANADA_DEAL in page.locator("#assay-panel-body .assay-src-q").inner_text()
        for answer, question in ((a1, PARTNERS), (a2, CANADA_DEAL), (a1, PARTNERS)):
            answer.locator(".assay-text .assay-cite").first.click()
            page.wait_for_function("q => (document.querySelector('#assay-panel-body .assay-src-q') || {}).innerText.includes(q)",
                                   arg=question[:40], timeout=10_000)
            assert panel_title(page) == source_title(answer)
            mark = page.locator("#assay-panel-body mark").first.inner_text().strip()
            assert mark[:40] in answer.locator(".assay-text").inner_text()
        page.locator("#assay-clear").click()
        page.wait_for_function(EMPTY_PANEL, timeout=10_000)
    finally:
        ctx.close()


# ---------------------------------------------------------------- progress, no lost input


RECORD = """() => { window.__seen = {titles: [], sentences: [], queued: []};
  new MutationObserver(() => {
    const chat = document.querySelector('#assay-chat'); if (!chat) return;
    const t = chat.querySelector('.thought-group .title');
    if (t) { const s = t.innerText.split('\\n')[0]; if (window.__seen.titles.slice(-1)[0] !== s) window.__seen.titles.push(s); }
    const w = chat.querySelectorAll('.assay-answer.assay-streaming .assay-sent').length;
    if (w && window.__seen.sentences.slice(-1)[0] !== w) window.__seen.sentences.push(w);
    chat.querySelectorAll('.assay-queued .assay-queued-text').forEach(q => { if (!window.__seen.queued.includes(q.innerText)) window.__seen.queued.push(q.innerText); });
  }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def test_progress_steps_then_the_sentences_one_by_one(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        page.evaluate(RECORD)
        a = ask(page, PARTNERS)
        seen = page.evaluate("() => window.__seen")
        titles = seen["titles"]
        n = server["engine"].index.chunks.count()
        # the title shows the step under way (a step shorter than a frame may be skipped), then the summary
        assert titles[-1].startswith(f"Searched {n} passages"), titles
        shown = [t for t in (f"Searching {n} passages…", "Reading 6 passages…", "Checking the answer…") if t in titles]
        assert f"Searching {n} passages…" in shown and shown == sorted(shown, key=titles.index), titles
        # the step message itself lists every step, in order, each done
        log = page.locator("#assay-chat .assay-steps").first.text_content()
        order = [log.find(f"Searching {n} passages"), log.find("Reading 6 passages"), log.find("Checking the answer")]
        assert -1 not in order and order == sorted(order) and log.count("✓") == 3, log
        total = a.locator(".assay-sent").count()
        assert total >= 3 and seen["sentences"][:2] == [1, 2] and seen["sentences"] == sorted(seen["sentences"]), seen["sentences"]
        step = page.locator("#assay-chat .thought-group").first  # a collapsible step message (Gradio message metadata)
        assert step.locator(".title").inner_text().startswith(f"Searched {n} passages")
        step.locator(".title").click()
        assert "for “Which countries" in page.locator("#assay-chat .assay-steps").first.inner_text()
    finally:
        ctx.close()


# Enter, then the next keystrokes in the same moment: Gradio reads the box a little later.
ENTER_THEN_TYPE = """([typed, next]) => {
  const box = document.querySelector('#assay-question textarea');
  box.value = typed; box.dispatchEvent(new Event('input', {bubbles: true}));
  box.dispatchEvent(new KeyboardEvent('keypress', {key: 'Enter', code: 'Enter', bubbles: true, cancelable: true}));
  box.value = next; box.dispatchEvent(new Event('input', {bubbles: true}));
}"""


def test_the_question_sent_is_the_box_as_enter_was_pressed(chromium_browser, server):
    """Typing straight after Enter neither replaces the question sent nor is wiped."""
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        page.evaluate(ENTER_THEN_TYPE, [CANADA_DEAL, "and the next one"])
        wait_answers(page, 1)
        assert page.locator("#assay-chat .assay-user").all_inner_texts() == [CANADA_DEAL]
        assert page.locator("#assay-question textarea").input_value() == "and the next one"
    finally:
        ctx.close()


@pytest.fixture()
def slow_reveal(server):
    """Answers take several seconds to appear (sentences 1.5 s apart; answering itself is unchanged),
    so that a question can be sent, and Stop pressed, while one is being written."""
    backend = server["demo"].assay_backend
    backend.reveal_seconds = 1.5  # wide enough that a busy machine still sends the next question mid-answer
    yield
    backend.reveal_seconds = server["reveal"]


@pytest.fixture()
def slow_take(server, slow_reveal):
    """As on a busy machine: taking a question (Enter or Ask) takes 0.8 s on the server, so a
    second question is sent while the first is still being taken."""
    fns = [f for f in server["demo"].fns.values() if getattr(f.fn, "__name__", "") == "accept"]
    assert len(fns) == 2  # Enter and Ask
    orig = [f.fn for f in fns]
    for f, o in zip(fns, orig):
        @functools.wraps(o)
        def slow(*args, _take=o):
            time.sleep(0.8)
            return _take(*args)
        f.fn = slow
    yield
    for f, o in zip(fns, orig):
        f.fn = o


def test_a_question_sent_mid_answer_is_queued_and_typed_text_survives(chromium_browser, server, slow_take):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        page.evaluate(RECORD)
        send(page, PARTNERS)
        page.locator("#assay-stop").wait_for(state="visible", timeout=10_000)  # Ask became Stop
        assert not page.locator("#assay-ask").is_visible()
        send(page, CANADA_DEAL, enter=True)
        page.locator("#assay-question textarea").fill("a draft I am still typing")
        page.wait_for_function("q => window.__seen.queued.includes(q)", arg=CANADA_DEAL, timeout=10_000)  # shown as queued
        wait_answers(page, 2)
        assert page.locator("#assay-question textarea").input_value() == "a draft I am still typing"  # never wiped
        users = page.locator("#assay-chat .assay-user").all_inner_texts()
        assert users == [PARTNERS, CANADA_DEAL], users  # the queued question was asked, in order
        assert page.locator("#assay-chat .assay-queued").count() == 0
        # Stop: the answer ends, questions queued behind it come back into the box
        page.locator("#assay-question textarea").fill("")
        page.evaluate("() => { window.__seen.sentences = []; }")
        send(page, PARTNERS)
        page.wait_for_function("() => window.__seen.sentences.length >= 1", timeout=ANSWER_TIMEOUT)  # its sentences are appearing
        send(page, "What is the Minerals Security Partnership?", enter=True)
        send(page, "Which metals do rare earth elements include?", enter=True)
        page.wait_for_function("q => window.__seen.queued.includes(q)", arg="Which metals do rare earth elements include?", timeout=10_000)
        page.locator("#assay-stop").click()
        page.locator("#assay-ask").wait_for(state="visible", timeout=10_000)
        page.wait_for_function("q => document.querySelector('#assay-question textarea').value === q",
                               arg="What is the Minerals Security Partnership?\nWhich metals do rare earth elements include?", timeout=10_000)
        page.wait_for_selector("#assay-chat .assay-stopped", timeout=10_000)  # the answer being written ends, marked so
        assert page.locator("#assay-chat .assay-queued").count() == 0
        assert page.locator("#assay-chat .assay-streaming").count() == 0 and page.locator("#assay-stop").count() == 0
        assert page.locator("#assay-chat .assay-user").all_inner_texts()[-1] == PARTNERS
    finally:
        ctx.close()


# ---------------------------------------------------------------- copy, export, regenerate


def test_copy_gives_markdown_and_export_downloads_both_files(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        a = ask(page, PARTNERS)
        a.locator(".assay-copy").click()
        page.wait_for_function("() => document.querySelector('.assay-copy').innerText.includes('Copied')", timeout=5_000)
        md = page.evaluate("() => navigator.clipboard.readText()")
        assert not re.search(r"<\s*/?\s*[a-zA-Z][^>]*>", md), md
        assert "[1]" in md and "\n- Australia" in md and "\nSources:\n" in md
        assert re.search(r"\n1\. United States Expands Partnerships for Rare Earths with Global Allies — 2025-11-12", md), md
        ask(page, GALLIUM)
        with page.expect_download() as dl:
            page.locator("#assay-export-md").click()
        text = Path(dl.value.path()).read_text(encoding="utf-8")
        assert dl.value.suggested_filename.endswith(".md")
        assert text.startswith("# Which countries") and f"## 1. {PARTNERS}" in text and "## 2. How much" in text
        assert "<div" not in text and "<button" not in text
        with page.expect_download() as dl:
            page.locator("#assay-export-json").click()
        data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
        assert dl.value.suggested_filename.endswith(".json")
        assert [t["question"] for t in data["turns"]] == [PARTNERS, GALLIUM]
        assert all(t["status"] in ("answered", "partial", "abstained") for t in data["turns"])
        c = data["turns"][0]["citations"][0]
        assert isinstance(c["start"], int) and c["start"] < c["end"] and c["spans"] and c["quote"]
    finally:
        ctx.close()


def test_regenerate_rename_open_and_delete_conversations(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        ask(page, PARTNERS)
        ask(page, "What about Canada?")
        page.locator(FINAL).last.evaluate("e => { e.__before_retry = true; }")
        page.locator("#assay-chat button[aria-label=Retry]:visible").last.click()  # regenerate the last answer
        page.wait_for_function("() => { const a = [...document.querySelectorAll('#assay-chat .assay-answer:not(.assay-streaming)')];"
                               " return a.length === 2 && !a[1].__before_retry; }", timeout=ANSWER_TIMEOUT)
        wait_answers(page, 2)
        assert page.locator("#assay-chat .assay-user").all_inner_texts() == [PARTNERS, "What about Canada?"]
        assert "searched for" in page.locator(FINAL).last.locator(".assay-query").inner_text()  # same history
        title = page.locator("#assay-conv-title input, #assay-conv-title textarea").first
        title.fill("Partners overview")
        page.locator("#assay-rename").click()
        page.wait_for_function("() => document.querySelector('#assay-convlist').innerText.includes('Partners overview')", timeout=10_000)
        page.locator("#assay-clear").click()
        page.wait_for_function("() => !document.querySelector('#assay-chat .assay-answer')", timeout=10_000)  # a new, empty chat
        ask(page, GALLIUM)
        page.locator("#assay-convlist button.assay-conv", has_text="Partners overview").click()  # open the older one
        page.wait_for_function("q => [...document.querySelectorAll('#assay-chat .assay-user')].map(e => e.innerText).includes(q)",
                               arg="What about Canada?", timeout=10_000)
        assert page.locator(FINAL).count() == 2
        page.locator("#assay-delete-chat").click()
        page.wait_for_function("() => !document.querySelector('#assay-convlist').innerText.includes('Partners overview')", timeout=10_000)
        assert page.locator("#assay-convlist .assay-conv").count() == 1
        assert GALLIUM in page.locator("#assay-chat .assay-user").first.inner_text()
        page.reload()
        page.wait_for_selector(FINAL, timeout=60_000)
        assert page.locator("#assay-convlist .assay-conv").count() == 1 and "Partners overview" not in page.locator("#assay-convlist").inner_text()
    finally:
        ctx.close()


# ---------------------------------------------------------------- statuses rendered


def test_list_answers_are_bullets_and_partial_answers_say_what_is_missing(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        a = ask(page, PARTNERS)
        items = a.locator("ul.assay-items > li")
        assert items.count() >= 4
        for i in range(items.count()):
            assert items.nth(i).locator(".assay-cite").count() == 1  # one cited item per line
        p = ask(page, GALLIUM)
        assert "assay-partial" in (p.get_attribute("class") or ""), p.inner_text()
        note = p.locator(".assay-note")
        assert note.count() == 1 and "don't say" in note.inner_text() and note.locator(".assay-cite").count() == 0
        assert p.locator(".assay-para .assay-cite").count() >= 1  # the quoted part is cited
        style = note.evaluate("e => [getComputedStyle(e).borderLeftStyle, getComputedStyle(e).fontStyle]")
        assert style == ["solid", "italic"], style
        assert page.locator("#assay-chat .assay-status").is_visible()
        p.locator(".assay-para .assay-cite").first.click()
        page.locator("#assay-panel-body mark").first.wait_for(timeout=10_000)
        shot(page, "desktop_chat.png")
    finally:
        ctx.close()


# ---------------------------------------------------------------- feedback into the eval loop


def test_feedback_goes_to_the_jsonl_file_and_import_feedback_drafts_questions(chromium_browser, server, tmp_path):
    feedback = server["settings"].feedback_path
    before = feedback.read_text(encoding="utf-8").splitlines() if feedback.exists() else []
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        ask(page, PARTNERS)
        ask(page, "What about Canada?")
        page.locator("#assay-chat button[aria-label=Dislike]:visible").last.click()
        page.locator("#assay-feedback").wait_for(state="visible", timeout=10_000)
        page.locator("#assay-feedback-text textarea").fill("It should name the Canadian projects")
        page.locator("#assay-feedback-send").click()
        page.locator("#assay-feedback").wait_for(state="hidden", timeout=10_000)
        page.locator("#assay-chat button[aria-label=Like]:visible").first.click()
        for _ in range(50):  # the vote is written by the server; wait for its line
            if len(feedback.read_text(encoding="utf-8").splitlines()) >= len(before) + 3:
                break
            page.wait_for_timeout(100)
    finally:
        ctx.close()
    rows = [json.loads(x) for x in feedback.read_text(encoding="utf-8").splitlines()[len(before):]]
    assert [(r["vote"], r["comment"]) for r in rows] == [("down", ""), ("down", "It should name the Canadian projects"), ("up", "")], rows
    assert rows[0]["question"] == "What about Canada?" and rows[0]["history"] == [PARTNERS] and rows[0]["answer"]
    assert rows[2]["question"] == PARTNERS
    drafts = tmp_path / "drafts.jsonl"
    res = subprocess.run([sys.executable, "-m", "assay.app.cli", "eval", "import-feedback", str(feedback), "--out", str(drafts)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    made = [json.loads(x) for x in drafts.read_text(encoding="utf-8").splitlines()]
    mine = [d for d in made if d["question"] == "What about Canada?"]
    assert len(mine) == 1 and mine[0]["history"] == [PARTNERS] and mine[0]["facts"] == [] and mine[0]["draft"] is True
    assert mine[0]["answer_given"] == rows[0]["answer"] and mine[0]["comment"] == "It should name the Canadian projects"


# ---------------------------------------------------------------- the library


def test_library_search_open_and_reindex_an_article(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"])
    try:
        assert re.search(r"\d+ articles · \d{4}-\d{2} → \d{4}-\d{2} · \d+ passages", page.locator("#assay-summary").inner_text())
        page.get_by_role("tab", name="Library").click()
        page.locator("#assay-lib-search input").fill("canada")
        page.wait_for_function("() => /match “canada”/.test(document.querySelector('#assay-library').innerText)", timeout=10_000)
        rows = page.locator("#assay-library button.assay-open")
        found = page.locator("#assay-library tr:has(button.assay-open)").all_inner_texts()  # title and id
        assert rows.count() >= 1 and all("canada" in t.lower() for t in found), found
        rows.first.click()
        page.locator("#assay-article .assay-article-text").wait_for(timeout=15_000)
        view = page.locator("#assay-article")
        n = int(re.search(r"(\d+) passages", view.inner_text()).group(1))
        assert n >= 1 and view.locator(".assay-chunk-n").count() == n  # every passage is marked in the cleaned text
        assert "Canada" in view.locator(".assay-article-text").inner_text()
        shot(page, "desktop_library_article.png")
        page.locator("#assay-reindex").click()
        page.wait_for_function("() => /Done\\./.test((document.querySelector('#assay-lib-status') || {}).innerText || '')", timeout=ANSWER_TIMEOUT)
        status = page.locator("#assay-lib-status").inner_text()
        assert "updated 1" in status and "searchable now" in status, status
        assert page.locator("#assay-article .assay-chunk-n").count() == n
    finally:
        ctx.close()


QUILLON = ("---\ntitle: Quillon Yttrium Compact\npublished: 2026-01-15\npublisher: Assay Test Desk\n---\n\n"
           "# Quillon Yttrium Compact\n\nThe Duchy of Wexmoor signed the Quillon Yttrium Compact to refine 900 tonnes of yttrium each year.\n")
ORBANE = ("---\ntitle: Orbane Scandium Charter\npublished: 2026-02-01\n---\n\n"
          "The Orbane Scandium Charter commits the Margravate of Ostrel to ship 40 tonnes of scandium to Vellmar.\n")


def _serve(base: Path, corpus: Path):
    from assay.app.chat import launch
    from assay.app.retrieve import Engine
    from assay.ingest.config import Settings

    settings = Settings.from_env(index_dir=base / "index")
    engine = Engine(settings)
    engine.embed(["warm up"], cache="q")
    demo, url = launch(settings, port=free_port(), engine=engine, corpus_dir=corpus, block=False, quiet=True)
    return demo, url, engine


def _cited(answer) -> str:
    return answer.locator(".assay-sources-list").inner_text() if answer.locator(".assay-sources-list").count() else ""


def test_deleted_articles_leave_answers_and_stay_gone_after_a_restart(chromium_browser, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("wh_2023-03-24_us_canada_joint_statement.md", "2025-11-12-us-expands-partnerships-for-rare-earths.txt"):
        (corpus / name).write_text((ROOT / "corpus" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (corpus / "quillon.md").write_text(QUILLON, encoding="utf-8")
    cli = [sys.executable, "-m", "assay.app.cli", "--index", str(tmp_path / "index"), "ingest", str(corpus), "--prune"]
    res = subprocess.run(cli, capture_output=True, text=True, timeout=600, cwd=tmp_path)  # what scripts/run.sh does first
    assert res.returncode == 0 and "added: 3" in res.stdout, res.stdout + res.stderr
    demo, url, engine = _serve(tmp_path, corpus)
    try:
        ctx, page = open_page(chromium_browser, url)
        a = ask(page, "What did the Duchy of Wexmoor sign?")
        assert "Quillon Yttrium Compact" in _cited(a)
        # an uploaded article too
        page.get_by_role("tab", name="Library").click()
        page.locator("#assay-upload input[type=file]").set_input_files([{"name": "orbane.md", "mimeType": "text/markdown", "buffer": ORBANE.encode()}])
        page.wait_for_function("() => /Done\\./.test((document.querySelector('#assay-upload-status') || {}).innerText || '')", timeout=ANSWER_TIMEOUT)
        uploaded = engine.settings.uploads_folder / "orbane.md"
        assert uploaded.is_file() and not (corpus / "uploads").exists()  # uploads live outside the corpus folder
        for title in ("Quillon Yttrium Compact", "Orbane Scandium Charter"):
            page.locator("#assay-library button.assay-open", has_text=title).click()
            page.locator("#assay-article-actions").wait_for(state="visible", timeout=15_000)
            page.locator("#assay-delete-article").click()
            page.locator("#assay-confirm-delete").wait_for(state="visible", timeout=10_000)
            assert title in page.locator("#assay-confirm-delete").inner_text()
            page.locator("#assay-confirm-yes").click()
            page.wait_for_function("t => (document.querySelector('#assay-lib-status') || {}).innerText.includes('Deleted “' + t + '”')",
                                   arg=title, timeout=30_000)
            assert page.locator("#assay-library button.assay-open", has_text=title).count() == 0
        assert not uploaded.exists()  # an uploaded article's file goes with it
        assert (corpus / "quillon.md").is_file()  # a corpus file stays where it is (it is the user's, or in git)
        assert "Quillon Yttrium Compact" in page.locator("#assay-library .assay-deleted").text_content()  # a collapsed list
        page.get_by_role("tab", name="Chat").click()
        for q in ("What did the Duchy of Wexmoor sign?", "What does the Orbane Scandium Charter commit Ostrel to?"):
            a = ask(page, q)
            assert "Quillon" not in _cited(a) and "Orbane" not in _cited(a) and "Wexmoor signed" not in a.inner_text(), a.inner_text()
        ctx.close()
    finally:
        demo.close()
    # restart the way scripts/run.sh does: ingest the corpus folder again, then a new chat process
    res = subprocess.run(cli, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0 and "added: 0" in res.stdout and "updated: 0" in res.stdout, res.stdout + res.stderr
    demo, url, engine = _serve(tmp_path, corpus)
    try:
        assert "quillon.md" not in {aid for aid, r in engine.index.manifest().items() if not r.get("deleted")}
        ctx, page = open_page(chromium_browser, url)
        a = ask(page, "What did the Duchy of Wexmoor sign?")
        assert "Quillon" not in _cited(a) and "Wexmoor signed" not in a.inner_text(), a.inner_text()
        # restore brings it back
        page.get_by_role("tab", name="Library").click()
        page.locator("#assay-library .assay-deleted summary").click()
        page.locator("#assay-library button.assay-restore").first.click()
        page.wait_for_function("() => /Done\\./.test((document.querySelector('#assay-lib-status') || {}).innerText || '')", timeout=ANSWER_TIMEOUT)
        page.get_by_role("tab", name="Chat").click()
        assert "Quillon Yttrium Compact" in _cited(ask(page, "What did the Duchy of Wexmoor sign?"))
        ctx.close()
    finally:
        demo.close()


# ---------------------------------------------------------------- the phone


def test_phone_layout_pins_the_input_and_opens_sources_as_a_drawer(chromium_browser, server):
    ctx, page = open_page(chromium_browser, server["url"], phone=True)
    try:
        tabs_bottom = page.evaluate("() => document.querySelector('[role=tablist]').getBoundingClientRect().bottom")
        assert tabs_bottom < 0.15 * 844, tabs_bottom  # header and tabs: a small part of the screen
        shot(page, "phone_empty.png")
        ask(page, PARTNERS)
        ask(page, GALLIUM)
        box = page.locator("#assay-question textarea").bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 844, box  # visible without scrolling
        hit = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('#assay-question')",
                            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        assert hit  # not covered by anything
        assert page.evaluate("() => window.scrollY") == 0
        shot(page, "phone_chat.png")
        drawer = page.locator("#assay-sources-col")
        assert drawer.bounding_box()["y"] >= 844 - 1  # closed: below the screen
        page.locator(FINAL).first.locator(".assay-text .assay-cite").first.click()
        page.wait_for_function("() => document.querySelector('#assay-sources-col').getBoundingClientRect().top < 700", timeout=5_000)
        assert page.locator("#assay-panel-body mark").first.is_visible()
        shot(page, "phone_sources.png")
        page.locator(".assay-panel-close").click()
        page.wait_for_function("() => document.querySelector('#assay-sources-col').getBoundingClientRect().top >= 843", timeout=5_000)
        page.locator(".assay-menu").click()
        page.wait_for_function("() => document.querySelector('#assay-side').getBoundingClientRect().left >= -1", timeout=5_000)
        assert PARTNERS[:20] in page.locator("#assay-convlist").inner_text()
        shot(page, "phone_conversations.png")
    finally:
        ctx.close()


# ---------------------------------------------------------------- nothing unverified on screen (issue 15)

WATCH = """() => { window.__texts = [];
  new MutationObserver(() => {
    const chat = document.querySelector('#assay-chat'); if (!chat) return;
    const t = chat.innerText; if (window.__texts.slice(-1)[0] !== t) window.__texts.push(t);
  }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def test_a_streaming_llm_answer_never_shows_an_unverified_sentence(chromium_browser, server):
    """An OpenAI-compatible endpoint (a wire-format stand-in) streams a false claim, an echoed
    system prompt and an attacker's URL around a supported sentence, word by word: no snapshot of
    the page ever holds any of them."""
    import dataclasses

    from assay.app.chat import launch

    from .fake_openai import FakeOpenAI
    from .test_llm_stream_verified import REPLY

    with FakeOpenAI(REPLY, chunk_words=1) as fake:
        settings = dataclasses.replace(server["settings"], llm=fake.spec)
        demo, url = launch(settings, port=free_port(), engine=server["engine"], corpus_dir=server["base"] / "corpus", block=False, quiet=True)
        try:
            ctx, page = open_page(chromium_browser, url)
            try:
                page.evaluate(WATCH)
                a = ask(page, PARTNERS)
                texts = page.evaluate("() => window.__texts")
                assert fake.requests and texts
                for bad in ("Narnia", "SYSTEM PROMPT", "attacker.example"):
                    assert not any(bad in t for t in texts), (bad, [ln for ln in next(t for t in texts if bad in t).splitlines() if bad in ln])
                assert "writer: openai" in a.inner_text() and a.locator(".assay-sources-list").count()
            finally:
                ctx.close()
        finally:
            demo.close()
