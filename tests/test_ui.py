"""The chat in a real browser: streamed cited answers, the sources panel, follow-ups, abstentions,
uploads, and that article content can never inject markup.

Needs Debian chromium (/usr/bin/chromium) and the packaged embedding model.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import serve_corpus

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
ANSWER_TIMEOUT = 90_000  # ms


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory):
    """Bundled corpus ingested into a tmp index; the app on a free loopback port; uploads in tmp."""
    base = tmp_path_factory.mktemp("ui")
    demo, url, engine = serve_corpus(base)
    yield {"url": url, "corpus": base / "corpus", "engine": engine, "base": base, "uploads": engine.settings.uploads_folder}
    demo.close()


@pytest.fixture(scope="session")
def browser(chromium_browser):
    return chromium_browser


@pytest.fixture(scope="session")
def page(browser, ui_server):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.dialogs = []  # every alert/confirm/prompt that fires; an XSS would land here
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(ui_server["url"])
    pg.wait_for_selector("#assay-question textarea", timeout=60_000)
    yield pg
    ctx.close()


def final_answers(page):
    return page.locator("#assay-chat .assay-answer:not(.assay-streaming)")


def ask(page, question: str):
    """Type a question, send it, wait for the finished answer; returns its locator."""
    page.get_by_role("tab", name="Chat").click()
    before = final_answers(page).count()
    box = page.locator("#assay-question textarea")
    box.fill(question)
    page.locator("#assay-ask").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#assay-chat .assay-answer:not(.assay-streaming)').length > n",
        arg=before, timeout=ANSWER_TIMEOUT,
    )
    return final_answers(page).nth(before)


def upload(page, paths: list[Path]) -> str:
    """Upload through the file control; wait for the finished status (a new one, not the last)."""
    page.get_by_role("tab", name="Library").click()
    status = page.locator("#assay-upload-status")
    before = status.locator(".assay-upload-status").inner_text() if status.locator(".assay-upload-status").count() else ""
    page.locator("#assay-upload input[type=file]").set_input_files([str(p) for p in paths])
    page.wait_for_function(
        """prev => { const s = document.querySelector('#assay-upload-status .assay-upload-status');
                     return s && s.innerText !== prev && /Done\\.|Nothing was ingested/.test(s.innerText); }""",
        arg=before, timeout=ANSWER_TIMEOUT,
    )
    return status.locator(".assay-upload-status").inner_text()


def test_first_load_shows_examples(page):
    text = page.locator("#assay-chat").inner_text()
    assert "partnering" in text and "used for" in text and "challenges" in text
    # clicking an example asks it
    page.locator("#assay-chat").get_by_text("What are rare earth elements used for?").first.click()
    page.wait_for_function(
        "() => document.querySelectorAll('#assay-chat .assay-answer:not(.assay-streaming)').length > 0", timeout=ANSWER_TIMEOUT
    )
    assert "rare earth elements used for" in page.locator("#assay-chat .assay-user").first.inner_text()


def test_partner_question_is_answered_with_citations(page):
    t0 = time.perf_counter()
    a = ask(page, "Which countries is the US partnering with on rare earths?")
    text = a.locator(".assay-text").inner_text()
    for name in ("Australia", "Canada", "India"):
        assert name in text, text
    assert "European Union" in text or re.search(r"\bEU\b", text), text
    assert a.locator(".assay-text .assay-cite").count() >= 1
    assert a.locator(".assay-sources-list li").count() >= 1
    assert time.perf_counter() - t0 < 60


def test_clicking_a_marker_shows_the_passage(page):
    a = final_answers(page).last
    if not a.locator(".assay-text .assay-cite").count():
        a = ask(page, "Which countries is the US partnering with on rare earths?")
    marker = a.locator(".assay-text .assay-cite").first
    n = marker.inner_text().strip()
    marker.click()
    body = page.locator("#assay-panel-body")
    body.locator("mark").first.wait_for(timeout=10_000)
    assert body.locator("mark").first.inner_text().strip()
    title = a.locator(".assay-sources-list li").nth(int(n) - 1).locator(".assay-li-title").inner_text().strip()
    assert body.locator(".assay-src-title").inner_text().strip() == title
    assert re.search(r"Published \d{4}-\d{2}-\d{2}", body.locator(".assay-src-meta").inner_text())
    assert f"Source [{n}]" in body.inner_text()
    # the highlighted sentence is the one the answer quotes
    mark = body.locator("mark").first.inner_text().strip()
    assert mark[:40] in a.locator(".assay-text").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cited_answer.png"), full_page=True)


def test_follow_up_uses_the_conversation(page):
    if final_answers(page).count() == 0:
        ask(page, "Which countries is the US partnering with on rare earths?")
    a = ask(page, "What about Canada?")
    text = a.locator(".assay-text").inner_text()
    assert "Canada" in text, text
    assert a.locator(".assay-text .assay-cite").count() >= 1
    assert "searched for" in a.locator(".assay-query").inner_text()


def test_unanswerable_question_abstains_visibly(page):
    a = ask(page, "What is the population of Mars colony Alpha?")
    assert "assay-abstain" in (a.get_attribute("class") or "")
    assert "The articles don't say" in a.inner_text()
    assert a.locator(".assay-text .assay-cite").count() == 0


def test_uploaded_article_is_searchable_without_restart(page, tmp_path, ui_server):
    doc = tmp_path / "zorblax accord.md"
    doc.write_text(
        "---\ntitle: Zorblax Mining Accord\npublished: 2026-01-15\npublisher: Assay Test Desk\n---\n\n"
        "# Zorblax Mining Accord\n\n"
        "The Republic of Vandoria signed the Zorblax Mining Accord in Quillon City to supply 4,200 tonnes of terbium each year.\n\n"
        "Under the accord, Vandoria will build a refinery on the Selvane River by 2032.\n",
        encoding="utf-8",
    )
    status = upload(page, [doc])
    assert "added" in status and "zorblax" in status.lower(), status
    assert (ui_server["uploads"] / "zorblax_accord.md").exists()  # the upload folder beside the index, not the corpus
    assert "Zorblax Mining Accord" in page.locator("#assay-library").inner_text()
    a = ask(page, "What did the Republic of Vandoria sign in Quillon City?")
    assert "Zorblax" in a.locator(".assay-text").inner_text()
    assert "Zorblax Mining Accord" in a.locator(".assay-sources-list").inner_text()


def test_upload_refuses_bad_files(page, tmp_path):
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ not an article")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    status = upload(page, [bad, empty])
    assert "refused empty.txt" in status, status
    assert "searchable now" not in status, status  # notes.exe is refused in the browser or by the server
    assert not (page.locator("#assay-library").inner_text().count("notes"))


PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))", "![x](http://127.0.0.1:9/x.png)"]


def test_article_content_is_never_markup(page, tmp_path, ui_server):
    doc = tmp_path / "evil<img src=x onerror=alert(2)>[a](javascript:alert(3)).txt"
    doc.write_text(
        '---\ntitle: "<script>alert(4)</script> Plumbago <img src=x onerror=alert(5)> charter"\npublished: 2026-02-01\n---\n\n'
        "The Plumbago Consortium charter quotes " + " and ".join(PAYLOADS) + " in its founding clause.\n\n"
        "The Plumbago Consortium was founded by the Duchy of Wexmoor to refine yttrium ore in 2029.\n",
        encoding="utf-8",
    )
    status = upload(page, [doc])
    assert "added" in status, status
    # Gradio itself drops < > : from upload names; what is left is shown as text and saved under a safe name
    assert "src=x onerror=alert(2)[a](javascript" in status, status
    saved = re.search(r"saved as (\S+)\)", status).group(1)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", saved) and (ui_server["uploads"] / saved).exists(), saved
    a = ask(page, "What does the Plumbago Consortium charter quote in its founding clause?")
    text = a.inner_text()
    for p in PAYLOADS:
        assert p in text, (p, text)
    assert "<script>alert(4)</script> Plumbago" in a.locator(".assay-sources-list").inner_text()
    a.locator(".assay-text .assay-cite").first.click()
    panel = page.locator("#assay-panel-body")
    panel.locator("mark").first.wait_for(timeout=10_000)
    assert "<script>alert(4)</script>" in panel.inner_text()
    assert "<img src=x onerror=alert(1)>" in panel.inner_text()
    page.get_by_role("tab", name="Library").click()
    assert "Plumbago" in page.locator("#assay-library").inner_text()
    time.sleep(1.0)  # give any injected handler the chance to fire
    assert page.dialogs == []
    injected = page.evaluate(
        """() => ({
            scripts: Array.from(document.querySelectorAll('script')).filter(s => /alert\\(/.test(s.textContent)).length,
            onerror: document.querySelectorAll('[onerror]').length,
            imgx: Array.from(document.images).filter(i => /\\/x(\\.png)?$/.test(i.src) || i.getAttribute('src') === 'x').length,
            jslinks: Array.from(document.querySelectorAll('a[href]')).filter(a => /^\\s*javascript:/i.test(a.getAttribute('href'))).length,
        })"""
    )
    assert injected == {"scripts": 0, "onerror": 0, "imgx": 0, "jslinks": 0}, injected
