"""`assay chat`: the Gradio web UI — the layout and the launch. `assay.app.chat` is the only
package that imports gradio; its parts are cut by concern:

    render.py    HTML of answers, abstentions, the library, statuses (pure functions)
    uploads.py   upload checks: safe names, limits, content sniffing (no gradio)
    handlers.py  ChatHandlers: one method per UI event, and the one answer loop of chat and /ask
    assets.py    CSS and the citation-click script
    layout.py    this module: components wired to the handlers; launch()

The UI only formats what `stream_answer()` returns; retrieval and answering live in
`assay.app.answer` / `assay.app.retrieve`.

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
inside ``<corpus>/uploads``; see uploads.py). See SECURITY.md for the threat model and the tests behind it.
"""

from __future__ import annotations

import inspect
import signal
import sys
import threading
from pathlib import Path

from ...ingest.config import Settings, quiet_env

quiet_env()  # before gradio is imported: no analytics

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from ...ingest.files import SUPPORTED_SUFFIXES  # noqa: E402
from ..limits import RateLimiter, StreamLimits, is_loopback  # noqa: E402
from ..llm import display_spec  # noqa: E402
from ..retrieve import Engine  # noqa: E402
from . import conversations as C  # noqa: E402
from . import render as R  # noqa: E402
from .assets import CONV_JS, CSS, HEAD, LIBRARY_JS, TAKE_QUESTION, FOCUS_QUESTION  # noqa: E402
from .handlers import DEFAULT_K, ChatHandlers  # noqa: E402
from .uploads import MAX_UPLOAD_FILES, UploadRouteLimits, private_temp_dir  # noqa: E402

EXAMPLES = [
    "Which countries is the US partnering with on rare earths?",
    "What are rare earth elements used for?",
    "What are the main challenges in the rare earth supply chain?",
]
# The browser encrypts the stored conversations with this key. It is sent to the page like any
# component setting (so it hides nothing from whoever uses the browser); it is fixed so that the
# conversations survive a restart of the chat (a random key per process would lose them).
STORE_SECRET = "assay-conversations-v1"


def build_app(settings: Settings | None = None, engine: Engine | None = None, corpus_dir: str | Path | None = None) -> gr.Blocks:
    """The chat UI. Launch with `launch()` (which adds the CSS and the citation click handler)."""
    settings = settings or Settings.from_env()
    h = ChatHandlers(settings, engine, Path(corpus_dir) if corpus_dir else None)
    writers = [R.OFFLINE] + ([f"LLM: {display_spec(settings.llm)}"] if settings.llm else [])
    has_index = h.has_index()
    stats, err = h.stats()

    # delete_cache: exports and uploads pass through Gradio's cache folder; files older than an hour go.
    with gr.Blocks(title="Assay — answers from your articles", fill_width=True, delete_cache=(1800, 3600)) as demo:
        store = gr.BrowserState(C.empty_store(), storage_key=C.STORAGE_KEY, secret=STORE_SECRET)
        sess = gr.State(None)
        open_article = gr.State(None)
        gr.HTML(
            '<div class="assay-header"><button class="assay-menu" title="Conversations" aria-label="Conversations">☰</button>'
            '<span class="assay-logo">Assay</span>'
            '<span class="assay-muted assay-tagline">Answers from your articles — every sentence cites the passage it comes from.</span></div>'
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
                with gr.Row(equal_height=False, elem_id="assay-chatrow"):
                    with gr.Column(scale=1, min_width=210, elem_id="assay-side"):
                        gr.HTML('<div class="assay-side-title">Conversations</div>')
                        convs = gr.HTML(R.render_conversations([], None, C.title_of), elem_id="assay-convlist", js_on_load=CONV_JS)
                        conv_title = gr.Textbox(show_label=False, placeholder="Title of this chat", max_lines=1, interactive=False, elem_id="assay-conv-title")
                        with gr.Row():
                            rename_btn = gr.Button("Rename", size="sm", elem_id="assay-rename", min_width=60)
                            delete_conv = gr.Button("Delete chat", size="sm", variant="stop", elem_id="assay-delete-chat", min_width=60)
                        with gr.Row():
                            export_md = gr.DownloadButton("Export .md", size="sm", interactive=False, elem_id="assay-export-md", min_width=60)
                            export_json = gr.DownloadButton("Export .json", size="sm", interactive=False, elem_id="assay-export-json", min_width=60)
                    with gr.Column(scale=4, min_width=340, elem_id="assay-main"):
                        summary = gr.HTML(R.corpus_summary(stats), elem_id="assay-summary")
                        chatbot = gr.Chatbot(
                            elem_id="assay-chat", label="Conversation", show_label=False, height=560,
                            render_markdown=False, sanitize_html=True, latex_delimiters=[], feedback_options=("Like", "Dislike"),
                            buttons=[], layout="panel", allow_file_downloads=False,
                            placeholder="<strong>Ask about the articles.</strong><br>Answers quote the articles; click a number to see the passage.",
                            examples=[{"text": q} for q in EXAMPLES],
                        )
                        with gr.Group(elem_id="assay-inputbar"):
                            with gr.Row(elem_id="assay-inputrow"):
                                box = gr.Textbox(placeholder="Loading your conversations…", show_label=False, scale=6, lines=1, max_lines=4, elem_id="assay-question",
                                                 autofocus=True, interactive=False)
                                send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="assay-ask")
                                stop = gr.Button("Stop", variant="stop", scale=1, min_width=80, visible=False, elem_id="assay-stop")
                                clear = gr.Button("New chat", scale=1, min_width=80, elem_id="assay-clear")
                            hint = gr.HTML("", elem_id="assay-hint")
                        with gr.Row(visible=False, elem_id="assay-feedback") as fb_row:
                            fb_label = gr.HTML("", elem_id="assay-feedback-label")
                            fb_text = gr.Textbox(show_label=False, placeholder="What should the answer have said? (optional)", scale=4, max_lines=3, elem_id="assay-feedback-text")
                            fb_send = gr.Button("Send", size="sm", scale=0, min_width=70, elem_id="assay-feedback-send")
                            fb_skip = gr.Button("No thanks", size="sm", scale=0, min_width=70, elem_id="assay-feedback-skip")
                        with gr.Accordion("Settings", open=False, elem_id="assay-settings"):
                            k = gr.Slider(1, 12, value=DEFAULT_K, step=1, label="Passages to read (k)")
                            writer = gr.Radio(writers, value=writers[-1], label="Answer writer", info="Offline quotes the articles verbatim; an LLM writes freely and is checked sentence by sentence.")
                            articles = gr.Dropdown(choices=h.article_choices(stats), multiselect=True, label="Only these articles", info="Empty = all articles.")
                            with gr.Row():
                                since = gr.Textbox(label="Published since", placeholder="YYYY-MM-DD")
                                until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD")
                    with gr.Column(scale=3, min_width=300, elem_id="assay-sources-col"):
                        panel = gr.HTML(R.PANEL_EMPTY, elem_id="assay-sources", label="Sources")
            with gr.Tab("Library", id="library"):
                with gr.Row(equal_height=True):
                    lib_search = gr.Textbox(placeholder="Search titles…", show_label=False, scale=4, max_lines=1, elem_id="assay-lib-search")
                    refresh_btn = gr.Button("Refresh", size="sm", scale=0, min_width=90, elem_id="assay-refresh")
                lib_status = gr.HTML("", elem_id="assay-lib-status")
                with gr.Row(visible=False, elem_id="assay-article-actions") as art_actions:
                    reindex_btn = gr.Button("Re-index", size="sm", scale=0, min_width=100, elem_id="assay-reindex")
                    delete_btn = gr.Button("Delete…", size="sm", variant="stop", scale=0, min_width=100, elem_id="assay-delete-article")
                    close_btn = gr.Button("Close", size="sm", scale=0, min_width=80, elem_id="assay-close-article")
                with gr.Row(visible=False, elem_id="assay-confirm-delete") as confirm_row:
                    confirm_text = gr.HTML("")
                    confirm_btn = gr.Button("Yes, delete", size="sm", variant="stop", scale=0, min_width=110, elem_id="assay-confirm-yes")
                    cancel_btn = gr.Button("Cancel", size="sm", scale=0, min_width=80, elem_id="assay-confirm-no")
                article_view = gr.HTML("", elem_id="assay-article")
                library = gr.HTML(R.render_library(stats, err), elem_id="assay-library", js_on_load=LIBRARY_JS)
                gr.Markdown(
                    f"### Add articles\n{', '.join(SUPPORTED_SUFFIXES)} — up to {MAX_UPLOAD_FILES} files, "
                    f"{settings.max_file_mb:g} MB each. They are saved in the upload folder (`{h.uploads_dir}`, outside the corpus "
                    "folder) and searchable as soon as they are indexed."
                )
                files = gr.File(file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), label="Upload articles", elem_id="assay-upload")
                upload_status = gr.HTML("", elem_id="assay-upload-status")

        P = {"api_visibility": "private"}
        Q = {"api_visibility": "private", "queue": False}
        view_out = [chatbot, panel, convs, conv_title, export_md, export_json, store]
        buttons = [send, stop, hint]
        accept_out = [box, sess, *view_out, *buttons]
        run_in = [sess, k, writer, articles, since, until]
        run_out = [sess, *view_out, *buttons]

        def answering(trigger):
            return trigger.then(h.run, run_in, run_out, **P)

        # "multiple": a question sent while the last one is still being taken is taken too (Gradio's
        # default, "once", drops the second Enter while the first is in flight); accept queues it.
        runs = [
            answering(box.submit(h.accept, [box, sess], accept_out, js=TAKE_QUESTION, trigger_mode="multiple", **Q)),
            answering(send.click(h.accept, [box, sess], accept_out, js=TAKE_QUESTION, trigger_mode="multiple", **Q)),
            answering(chatbot.example_select(h.accept_example, [sess], accept_out, **Q)),
            answering(chatbot.retry(h.retry, [sess], [sess, *view_out, *buttons], **Q)),
        ]
        halt_out = [box, sess, *view_out, *buttons]

        def halting(trigger):  # stops the answer being written; then Ask/Stop as they are now
            return trigger.then(h.settle, [sess], buttons, **Q)

        halting(stop.click(h.stop, [sess, box], halt_out, cancels=runs, **Q))
        halting(clear.click(h.new_chat, [sess, box], halt_out, cancels=runs, **Q))
        halting(chatbot.clear(h.new_chat, [sess, box], halt_out, cancels=runs, **Q))
        halting(convs.select(h.pick, [sess, box], halt_out, cancels=runs, **Q))
        halting(delete_conv.click(h.delete_conversation, [sess, box], halt_out, cancels=runs, **Q))
        rename_btn.click(h.rename, [sess, conv_title], [sess, *view_out], **Q)
        conv_title.submit(h.rename, [sess, conv_title], [sess, *view_out], **Q)
        chatbot.like(h.like, [sess], [sess, store, fb_row, fb_label, fb_text], **Q)
        fb_send.click(h.comment, [sess, fb_text], [fb_row, fb_label, fb_text], **Q)
        fb_text.submit(h.comment, [sess, fb_text], [fb_row, fb_label, fb_text], **Q)
        fb_skip.click(lambda: (gr.update(visible=False), "", ""), None, [fb_row, fb_label, fb_text], **Q)
        demo.load(h.load, [store], [box, sess, *view_out, *buttons], **Q).then(None, js=FOCUS_QUESTION, **Q)

        refresh_outputs = [library, articles, noindex, summary]
        files.upload(h.upload, files, [upload_status, *refresh_outputs, files], concurrency_limit=1, concurrency_id="ingest", **P)
        ingest_btn.click(h.ingest_bundled, None, [bundled_status, *refresh_outputs], concurrency_limit=1, concurrency_id="ingest", **P)
        refresh_btn.click(h.refresh, [lib_search, open_article], refresh_outputs, **Q)
        lib_search.change(h.search, [lib_search, open_article], library, **Q)
        demo.load(h.refresh, [lib_search, open_article], refresh_outputs, **Q)
        article_out = [open_article, article_view, art_actions, confirm_row, lib_status, *refresh_outputs]
        library.select(h.library_click, [lib_search], article_out, concurrency_limit=1, concurrency_id="ingest", **P)
        close_btn.click(h.close_article, [lib_search], article_out, **Q)
        reindex_btn.click(h.reindex, [open_article, lib_search], article_out, concurrency_limit=1, concurrency_id="ingest", **P)
        delete_btn.click(h.ask_delete, [open_article], [confirm_row, confirm_text], **Q)
        cancel_btn.click(lambda: gr.update(visible=False), None, confirm_row, **Q)
        confirm_btn.click(h.delete_article, [open_article, lib_search], article_out, concurrency_limit=1, concurrency_id="ingest", **P)
        gr.api(h.ask, api_name="ask")

    demo.queue(default_concurrency_limit=min(64, max(1, settings.concurrency)), max_size=min(10_000, max(1, settings.queue_size)))
    demo.assay_backend = h  # for tests and embedding
    return demo


def launch_kwargs(settings: Settings) -> dict:
    """Arguments every launch of the app needs (Gradio 6 takes css/head/theme in launch())."""
    return {
        "css": CSS,
        "head": HEAD,
        "theme": gr.themes.Soft(),
        "max_file_size": f"{max(1, int(settings.max_file_mb + 0.999))}mb",
        "footer_links": ["api"],
        # the chat's file limits on Gradio's raw upload route too, which any client can call, and a
        # cap on its heartbeat streams (unauthenticated, one held open per tab)
        "app_kwargs": {"middleware": [Middleware(UploadRouteLimits, max_files=MAX_UPLOAD_FILES, max_file_mb=settings.max_file_mb),
                                      Middleware(StreamLimits)]},
    } | _no_run_history()


def _no_run_history() -> dict:
    """Answers quote private articles: keep them out of Gradio's run history (browser storage / HF buckets)."""
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
    """Build and serve the chat. With block=False returns (demo, url) while the server runs in a thread.

    Gradio's own start-up lines are replaced by Assay's (unless `quiet`): the URL, and how to get a
    public link with Assay's flag (`--share`), not Gradio's `share=True`."""
    settings = settings or Settings.from_env()
    private_temp_dir(settings.data_dir)
    engine = engine or Engine(settings)
    # Load the embedding model now, not on the first question.
    threading.Thread(target=lambda: _warm(engine), daemon=True, name="assay-warmup").start()
    demo = build_app(settings, engine=engine, corpus_dir=corpus_dir)
    if not auth and (share or not is_loopback(host)) and settings.rate_limit > 0:  # anyone on the network may call /ask
        demo.assay_backend.rate = RateLimiter(settings.rate_limit)
    _app, url, share_url = demo.launch(
        server_name=host, server_port=port, share=share, auth=auth, prevent_thread_lock=True,
        quiet=True, show_error=True, **launch_kwargs(settings),
    )
    if not quiet:
        for line in startup_lines(url, share_url, share):
            print(line, file=sys.stderr, flush=True)
    if block:
        if threading.current_thread() is threading.main_thread():  # SIGTERM (systemd, docker stop) exits cleanly too: atexit runs
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        demo.block_thread()
    return demo, (share_url or url)


def startup_lines(url: str, share_url: str | None, share: bool) -> list[str]:
    lines = [f"Assay chat on {url}  (Ctrl+C to stop)"]
    if share_url:
        lines.append(f"public link: {share_url}  (temporary; anyone with it can use the chat)")
    elif share:
        lines.append("no public link could be created (it needs internet access to gradio.live)")
    else:
        lines.append("for a temporary public link, start it with --share (`assay chat --share` or `scripts/run.sh --share`), "
                     "with ASSAY_AUTH=user:password to require a login")
    return lines
