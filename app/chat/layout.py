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
import threading
from pathlib import Path

from ...ingest.config import Settings, quiet_env

quiet_env()  # before gradio is imported: no analytics

import gradio as gr  # noqa: E402

from ...ingest.files import SUPPORTED_SUFFIXES  # noqa: E402
from ..llm import display_spec  # noqa: E402
from ..retrieve import Engine  # noqa: E402
from . import render as R  # noqa: E402
from .assets import CSS, HEAD  # noqa: E402
from .handlers import DEFAULT_K, ChatHandlers  # noqa: E402
from .uploads import MAX_UPLOAD_FILES  # noqa: E402

EXAMPLES = [
    "Which countries is the US partnering with on rare earths?",
    "What are rare earth elements used for?",
    "What are the main challenges in the rare earth supply chain?",
]


def build_app(settings: Settings | None = None, engine: Engine | None = None, corpus_dir: str | Path | None = None) -> gr.Blocks:
    """The chat UI. Launch with `launch()` (which adds the CSS and the citation click handler)."""
    settings = settings or Settings.from_env()
    h = ChatHandlers(settings, engine, Path(corpus_dir) if corpus_dir else None)
    writers = [R.OFFLINE] + ([f"LLM: {display_spec(settings.llm)}"] if settings.llm else [])
    has_index = h.has_index()

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
                            articles = gr.Dropdown(choices=h.article_choices(), multiselect=True, label="Only these articles", info="Empty = all articles.")
                            with gr.Row():
                                since = gr.Textbox(label="Published since", placeholder="YYYY-MM-DD")
                                until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD")
                    with gr.Column(scale=2, min_width=300):
                        panel = gr.HTML(R.PANEL_EMPTY, elem_id="assay-sources", label="Sources")
            with gr.Tab("Library", id="library"):
                stats, err = h.stats()
                library = gr.HTML(R.render_library(stats, err), elem_id="assay-library")
                refresh_btn = gr.Button("Refresh", size="sm", scale=0)
                gr.Markdown(
                    f"### Add articles\n{', '.join(SUPPORTED_SUFFIXES)} — up to {MAX_UPLOAD_FILES} files, "
                    f"{settings.max_file_mb:g} MB each. They are saved in the corpus folder's `uploads/` and searchable as soon as they are indexed."
                )
                files = gr.File(file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), label="Upload articles", elem_id="assay-upload")
                upload_status = gr.HTML("", elem_id="assay-upload-status")

        chat_inputs = [box, chatbot, turns, k, writer, articles, since, until]
        chat_outputs = [box, chatbot, turns]
        box.submit(h.respond, chat_inputs, chat_outputs, api_visibility="private")
        send.click(h.respond, chat_inputs, chat_outputs, api_visibility="private")
        chatbot.example_select(h.pick_example, None, box, api_visibility="private", queue=False).then(h.respond, chat_inputs, chat_outputs, api_visibility="private")
        clear.click(h.clear_chat, None, [chatbot, turns, panel], api_visibility="private", queue=False)
        refresh_outputs = [library, articles, noindex]
        files.upload(h.upload, files, [upload_status, *refresh_outputs, files], api_visibility="private", concurrency_limit=1, concurrency_id="ingest")
        ingest_btn.click(h.ingest_bundled, None, [bundled_status, *refresh_outputs], api_visibility="private", concurrency_limit=1, concurrency_id="ingest")
        refresh_btn.click(h.refresh, None, refresh_outputs, api_visibility="private", queue=False)
        demo.load(h.refresh, None, refresh_outputs, api_visibility="private", queue=False)
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
