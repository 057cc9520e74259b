"""HTML (and Markdown) for the chat: answers with clickable [n] citations in their statuses,
abstentions, progress steps, the sources panel, the conversation list, the library and the
article view, statuses.

Pure functions of plain data (`Answer.to_dict()`, index stats, conversation dicts): no Gradio, so
they are unit-tested directly. Everything that is not our own markup goes through `esc()`, so text
from articles, file names, questions or errors is shown literally and never interpreted.
"""

from __future__ import annotations

import html
import itertools
import re
from typing import Any
from urllib.parse import quote, urlparse

from ..schema import MARKER, upload_note

OFFLINE = "Offline (extractive quotes)"
_nonce = itertools.count(1)


def esc(value: Any) -> str:
    """Text -> HTML text. Everything that is not our own markup goes through here."""
    return html.escape("" if value is None else str(value), quote=True)


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


def _highlight(text: str, offset: int, spans: list[list[int]], mark: str = "mark") -> str:
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
        out.append(f"<{mark}>{esc(text[a:b])}</{mark}>")
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


def _meta_line(published: str, publisher: str) -> str:
    bits = [f"Published {esc(published)}" if published else "Undated"]
    if publisher:
        bits.append(esc(publisher))
    return " · ".join(bits)


def _upload_tag(c: dict) -> str:
    note = upload_note(c.get("uploaded") or "")
    return f' <span class="assay-upload-tag">{esc(note)}</span>' if note else ""


def _source_inner(c: dict, question: str = "") -> str:
    """What the Sources panel shows for citation `c` (of the answer to `question`)."""
    spans = c.get("spans") or [[c["start"], c["end"]]]
    url = _safe_url(c.get("source_url", ""))
    link = f'<a class="assay-src-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">Open the original source ↗</a>' if url else '<span class="assay-muted">No link to the original source.</span>'
    passage = _highlight(c.get("passage_text", ""), int(c.get("passage_start", 0)), spans)
    asked = f'<div class="assay-src-q">From the answer to “{esc(_short(question, 90))}”</div>' if question else ""
    return (
        f'<div class="assay-src-n">Source [{int(c["n"])}]</div>'
        f'<h3 class="assay-src-title">{esc(c.get("title") or c.get("article_id"))}</h3>'
        f'<div class="assay-src-meta">{_meta_line(c.get("published", ""), c.get("publisher", ""))}</div>'
        + _upload_tag(c)
        + f'<div class="assay-src-linkrow">{link}</div>'
        f'<blockquote class="assay-passage">{passage}</blockquote>'
        f'<div class="assay-src-id">{esc(c.get("article_id", ""))} · characters {int(c.get("passage_start", 0))}–{int(c.get("passage_end", 0))}</div>'
        + asked
    )


def _source_block(c: dict, question: str = "") -> str:
    """Hidden per-citation panel content, copied into the Sources panel on click."""
    return f'<div class="assay-src assay-n-{int(c["n"])}" hidden>{_source_inner(c, question)}</div>'


def _short(text: str, n: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _cites(s: dict) -> str:
    return "".join(_cite_button(n) for n in s.get("citations", []))


def _sent(s: dict) -> str:
    cls = "assay-sent" if s.get("supported", True) else "assay-sent assay-unsupported"
    title = "" if s.get("supported", True) else ' title="Not supported by the cited passage"'
    return f'<span class="{cls}"{title}>{esc(s.get("text", ""))}</span>{_cites(s)}'


def _sentences_html(a: dict, upto: int | None = None) -> str:
    """The answer body: prose sentences in paragraphs, list items as a bulleted list (one cited item
    per line), and Assay's own notes ("They don't say …", no citation) in their own style."""
    sentences = a.get("sentences") or []
    if not sentences:  # fall back to the text with its markers
        text = a.get("text", "")
        out, pos = [], 0
        for m in MARKER.finditer(text):
            out.append(esc(text[pos : m.start()]))
            out.append("".join(_cite_button(int(x)) for x in m.group(1).split(",")))
            pos = m.end()
        out.append(esc(text[pos:]))
        return "".join(out)
    shown = sentences if upto is None else sentences[:upto]
    parts: list[str] = []
    for kind, run in itertools.groupby(shown, key=lambda s: {"item": "item", "note": "note"}.get(s.get("kind", "answer"), "prose")):
        run = list(run)
        if kind == "item":
            parts.append('<ul class="assay-items">' + "".join(f"<li>{_sent(s)}</li>" for s in run) + "</ul>")
        elif kind == "note":
            parts += [f'<div class="assay-note"><span class="assay-note-icon" aria-hidden="true">i</span> '
                      f'<span class="assay-sent assay-note-text">{esc(s.get("text", ""))}</span></div>' for s in run]
        else:
            parts.append('<p class="assay-para">' + " ".join(_sent(s) for s in run) + "</p>")
    return "".join(parts)


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


def _actions(a: dict) -> str:
    """The Copy button and the Markdown it copies (clean text with [n] markers and a source list)."""
    return (
        '<div class="assay-actions"><button class="assay-copy" title="Copy this answer as Markdown">Copy</button></div>'
        f'<div class="assay-md" hidden>{esc(answer_markdown(a))}</div>'
    )


def llm_error(a: dict) -> str | None:
    for f in a.get("flags") or []:
        if str(f).startswith("llm error"):
            return str(f).split(":", 1)[1].strip() if ":" in str(f) else str(f)
    return None


STATUS_LABEL = {"partial": "Partly answered — the articles do not say everything that was asked"}


def render_answer(a: dict, upto: int | None = None) -> str:
    """Answer dict (Answer.to_dict()) -> the HTML of one assistant message.

    `upto`: only the first `upto` sentences, as a message still being written (class
    ``assay-streaming``; no source list or copy button yet, the passages already clickable)."""
    if a.get("abstained") or a.get("status") == "abstained":
        return render_abstention(a)
    cits = a.get("citations") or []
    status = a.get("status") or "answered"
    question = a.get("question", "")
    streaming = upto is not None
    items = []
    for c in cits:
        date = esc(c.get("published") or "undated")
        pub = f" · {esc(c['publisher'])}" if c.get("publisher") else ""
        items.append(f'<li>{_cite_button(c["n"])}<span class="assay-li-title">{esc(c.get("title") or c.get("article_id"))}</span> <span class="assay-muted">— {date}{pub}</span>{_upload_tag(c)}</li>')
    flags = a.get("flags") or []
    warn = ""
    if flags and not streaming:
        warn = '<div class="assay-flags"><strong>⚠ Checked against the sources:</strong><ul>' + "".join(f"<li>{esc(f)}</li>" for f in flags) + "</ul></div>"
    chip = f'<div class="assay-status assay-status-{esc(status)}">{esc(STATUS_LABEL[status])}</div>' if status in STATUS_LABEL and not streaming else ""
    cls = f"assay-answer assay-{esc(status)}" + (" assay-streaming" if streaming else "")
    tail = ""
    if not streaming:
        tail = (f'<div class="assay-sources-title">Sources</div><ol class="assay-sources-list">{"".join(items)}</ol>' if items else "") + _footer(a) + _actions(a)
    return (
        f'<div class="{cls}">'
        + _query_line(a)
        + chip
        + f'<div class="assay-text">{_sentences_html(a, upto)}</div>'
        + warn
        + "".join(_source_block(c, question) for c in cits)
        + tail
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
        + _actions(a)
        + "</div>"
    )


def render_message(text: str, kind: str = "info") -> str:
    return f'<div class="assay-answer assay-{esc(kind)}"><div class="assay-text">{text}</div></div>'


def render_user(question: str, queued: bool = False) -> str:
    if queued:
        return (f'<div class="assay-user assay-queued"><span class="assay-queued-tag">queued — asked when the current answer is done</span>'
                f'<div class="assay-queued-text">{esc(question)}</div></div>')
    return f'<div class="assay-user">{esc(question)}</div>'


def render_streaming(text: str, note: str = "Searching the articles…") -> str:
    body = esc(text) if text else f'<span class="assay-muted">{esc(note)}</span>'
    return f'<div class="assay-answer assay-streaming"><div class="assay-text">{body}</div></div>'


def render_stopped(note: str = "Stopped — the answer was not finished.") -> str:
    return f'<div class="assay-answer assay-stopped"><div class="assay-text"><span class="assay-muted">{esc(note)}</span></div></div>'


# ---- progress steps (a Gradio "thought" message: metadata title, collapsible)


def render_steps(steps: list[dict]) -> str:
    """The steps of one answer, each with what it did ("searched 245 passages for …")."""
    lis = []
    for s in steps:
        mark = "✓" if s.get("done") else "…"
        log = f'<div class="assay-step-log">{esc(s.get("log", ""))}</div>' if s.get("log") else ""
        lis.append(f'<li class="assay-step{" assay-step-done" if s.get("done") else ""}"><span class="assay-step-mark">{mark}</span> '
                   f'{esc(s.get("label", ""))}{log}</li>')
    return f'<ol class="assay-steps">{"".join(lis)}</ol>'


def steps_title(steps: list[dict], done: bool) -> str:
    """The title of the step message: the current step while working, a summary when done."""
    if not steps:
        return "Starting…"
    if not done:
        return steps[-1].get("active") or steps[-1].get("label", "")
    return " · ".join(s.get("summary") or s.get("label", "") for s in steps if s.get("summary") or s.get("label"))


# ---- Markdown (Copy, export)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def md_text(text: str) -> str:
    """Article text as Markdown that shows it literally (no links, emphasis or HTML from it)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text or "").split()))


def _md_url(url: str) -> str:
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~.-_")


def answer_markdown(a: dict, heading_level: int = 0) -> str:
    """Clean Markdown of one answer: its text with [n] markers (list items as "- …", notes in
    italics), then a numbered source list with title, date and link."""
    lines: list[str] = []
    sentences = a.get("sentences") or []
    if a.get("abstained") or a.get("status") == "abstained":
        err = llm_error(a)
        lines.append(md_text(f"The answer writer is not reachable: {err}" if err else a.get("text", "")))
        related = a.get("related") or []
        if related:
            lines += ["", "Related passages (not an answer):"]
            for p in related:
                lines.append(f"- {md_text(p.get('title') or p.get('article_id'))} ({md_text(p.get('published') or 'undated')})")
        return "\n".join(lines).strip()
    if not sentences:  # text with its markers: escape everything but the markers, line by line
        for line in str(a.get("text", "")).split("\n"):
            item = line.lstrip().startswith("- ")
            body = line.lstrip()[2:] if item else line
            pieces, pos = [], 0
            for m in MARKER.finditer(body):
                pieces.append(md_text(body[pos : m.start()]))
                pieces.append(m.group(0))
                pos = m.end()
            pieces.append(md_text(body[pos:]))
            text = " ".join(p for p in pieces if p)
            if text:
                lines.append(("- " if item else "") + text)
        lines.append("")
    para: list[str] = []

    def flush():
        if para:
            lines.append(" ".join(para))
            lines.append("")
            para.clear()

    prev = None
    for s in sentences:
        kind = s.get("kind", "answer")
        marks = "".join(f"[{n}]" for n in s.get("citations", []))
        text = md_text(s.get("text", "")) + (f" {marks}" if marks else "")
        if kind == "item":
            flush()
            lines.append(f"- {text}")
        else:
            if prev == "item":
                lines.append("")
            if kind == "note":
                flush()
                lines.append(f"*{md_text(s.get('text', ''))}*")
                lines.append("")
            else:
                para.append(text)
        prev = kind
    flush()
    cits = a.get("citations") or []
    if cits:
        if lines and lines[-1] != "":
            lines.append("")
        lines.append("Sources:")
        lines.append("")
        for c in cits:
            title = md_text(c.get("title") or c.get("article_id"))
            url = _safe_url(c.get("source_url", ""))
            shown = f"[{title}](<{_md_url(url)}>)" if url else title
            bits = [c.get("published") or "undated"] + ([c["publisher"]] if c.get("publisher") else []) + \
                ([upload_note(c["uploaded"])] if c.get("uploaded") else [])
            lines.append(f"{int(c['n'])}. {shown} — {md_text(', '.join(bits))}")
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).split("\n"))


# ---- the sources panel


def render_panel(citation: dict | None = None, question: str = "") -> str:
    """The Sources panel: one citation's passage (a new answer's first source), or the hint."""
    body = _source_inner(citation, question) if citation else (
        '<p class="assay-muted">Click a numbered marker in an answer to see the passage it comes from, '
        "with the supporting sentences highlighted.</p>")
    # A fresh version on every update: the panel is also changed in the browser by citation
    # clicks, and Gradio re-renders an HTML value only when it differs from the last one.
    return (
        '<div class="assay-panel"><div class="assay-panel-head"><span class="assay-panel-title">Sources</span>'
        '<button class="assay-panel-close" title="Close the sources">×</button></div>'
        f'<div id="assay-panel-body">{body}</div><span class="assay-v" hidden>{next(_nonce)}</span></div>'
    )


PANEL_EMPTY = render_panel()


# ---- conversations


def render_conversations(convs: list[dict], open_id: str | None, title_of) -> str:
    if not convs:
        return '<div class="assay-convs"><p class="assay-muted assay-small">No conversations yet.</p></div>'
    lis = []
    for c in convs:
        n = sum(1 for t in c.get("turns", []) if t.get("answer") is not None)
        when = str(c.get("updated", ""))[:10]
        cls = "assay-conv assay-conv-open" if c.get("id") == open_id else "assay-conv"
        lis.append(
            f'<li><button class="{cls}" value="{esc(c.get("id", ""))}" title="{esc(title_of(c))}">'
            f'<span class="assay-conv-title">{esc(_short(title_of(c), 60))}</span>'
            f'<span class="assay-conv-meta">{n} question{"s" if n != 1 else ""} · {esc(when)}</span></button></li>'
        )
    return f'<div class="assay-convs"><ul>{"".join(lis)}</ul></div>'


# ---- the library


def library_rows(stats: dict) -> list[dict]:
    rows = []
    for aid, rec in (stats.get("items") or {}).items():
        rows.append({
            "id": aid, "title": rec.get("title") or aid, "published": rec.get("published", ""),
            "publisher": rec.get("publisher", ""), "chunks": int(rec.get("n_chunks", 0) or 0),
            "source_url": rec.get("source_url", ""), "upload": bool(rec.get("upload")),
        })
    rows.sort(key=lambda r: (r["published"] or "0000", r["title"]), reverse=True)
    return rows


def _matches(row: dict, query: str) -> bool:
    words = query.lower().split()
    hay = f"{row['title']} {row['id']}".lower()
    return all(w in hay for w in words)


def render_library(stats: dict | None, error: str = "", query: str = "", open_id: str | None = None) -> str:
    if error:
        return f'<div class="assay-library"><p class="assay-muted">{esc(error)}</p></div>'
    all_rows = library_rows(stats or {})
    deleted = (stats or {}).get("deleted") or {}
    if not all_rows and not deleted:
        return '<div class="assay-library"><p class="assay-muted">No articles indexed yet.</p></div>'
    rows = [r for r in all_rows if _matches(r, query)] if query.strip() else all_rows
    trs = []
    for r in rows:
        url = _safe_url(r["source_url"])
        link = f' <a class="assay-lib-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer" title="Original source">↗</a>' if url else ""
        cls = "assay-open assay-open-current" if r["id"] == open_id else "assay-open"
        where = " · uploaded" if r["upload"] else ""
        trs.append(
            f'<tr><td><button class="{cls}" value="{esc(r["id"])}" title="Open this article">{esc(r["title"])}</button>{link}'
            f"<div class='assay-muted assay-small'>{esc(r['id'])}{where}</div></td>"
            f"<td>{esc(r['published'] or '—')}</td><td>{esc(r['publisher'] or '—')}</td><td class='assay-num'>{r['chunks']}</td></tr>"
        )
    total = sum(r["chunks"] for r in all_rows)
    head = f"{len(all_rows)} articles, {total} passages."
    if query.strip():
        head = f"{len(rows)} of {len(all_rows)} articles match “{esc(query.strip())}”." if rows else f"No title matches “{esc(query.strip())}”."
    table = ('<table class="assay-table"><thead><tr><th>Title</th><th>Published</th><th>Publisher</th><th>Passages</th></tr></thead>'
             f'<tbody>{"".join(trs)}</tbody></table>') if rows else ""
    gone = ""
    if deleted:
        lis = "".join(
            f'<li><span class="assay-li-title">{esc(rec.get("title") or aid)}</span> <span class="assay-muted assay-small">{esc(aid)}</span> '
            f'<button class="assay-restore" value="{esc(aid)}" title="Index this article again">Restore</button></li>'
            for aid, rec in sorted(deleted.items()))
        gone = (f'<details class="assay-deleted"><summary>{len(deleted)} deleted article{"s" if len(deleted) != 1 else ""} '
                f'(kept out of the index; its file stays in the corpus folder)</summary><ul>{lis}</ul></details>')
    return f'<div class="assay-library"><p>{head}</p>{table}{gone}</div>'


def corpus_summary(stats: dict | None) -> str:
    """One line for the Chat tab: "16 articles · 2020-12 → 2025-11 · 250 passages"."""
    rows = library_rows(stats or {})
    if not rows:
        return '<div class="assay-summary assay-muted">No articles indexed yet.</div>'
    months = sorted(r["published"][:7] for r in rows if re.match(r"\d{4}-\d{2}", r["published"] or ""))
    span = f" · {esc(months[0])} → {esc(months[-1])}" if months else ""
    n = len(rows)
    return (f'<div class="assay-summary"><span class="assay-summary-text">{n} article{"s" if n != 1 else ""}{span} · '
            f'{sum(r["chunks"] for r in rows)} passages</span></div>')


def render_article(view: dict | None, note: str = "") -> str:
    """An opened article: metadata, then its cleaned text with each passage (chunk) marked.

    view: {id, title, published, publisher, source_url, path, upload, text, chunks: [(start, end)], furniture}."""
    if not view:
        return ""
    text = view.get("text") or ""
    chunks = sorted(view.get("chunks") or [])
    url = _safe_url(view.get("source_url", ""))
    link = f' · <a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">original source ↗</a>' if url else ""
    # Cut the text at every passage boundary; each piece knows which passages cover it.
    cuts = sorted({0, len(text), *[max(0, min(len(text), x)) for a, b in chunks for x in (a, b)]})
    out = []
    starts = {a: i for i, (a, _b) in enumerate(chunks, 1)}
    for a, b in zip(cuts, cuts[1:]):
        if a in starts:
            out.append(f'<span class="assay-chunk-n" title="Passage {starts[a]}">¶{starts[a]}</span>')
        cover = [i for i, (x, y) in enumerate(chunks, 1) if x <= a and b <= y]
        piece = esc(text[a:b])
        if not cover:
            out.append(f'<span class="assay-unindexed">{piece}</span>')
        else:
            cls = "assay-chunk assay-chunk-overlap" if len(cover) > 1 else f"assay-chunk assay-chunk-{cover[0] % 2}"
            out.append(f'<span class="{cls}">{piece}</span>')
    meta = _meta_line(view.get("published", ""), view.get("publisher", ""))
    where = "uploaded through the chat" if view.get("upload") else "from a corpus folder"
    return (
        '<div class="assay-article">'
        + (f'<div class="assay-article-note">{esc(note)}</div>' if note else "")
        + f'<h3 class="assay-article-title">{esc(view.get("title") or view.get("id"))}</h3>'
        + f'<div class="assay-muted assay-small">{meta}{link}</div>'
        + f'<div class="assay-muted assay-small">{esc(view.get("id", ""))} · {len(chunks)} passages · {esc(where)}: {esc(view.get("path", ""))}</div>'
        + '<div class="assay-article-legend assay-small"><span class="assay-chunk assay-chunk-1">passage</span> '
          '<span class="assay-chunk assay-chunk-0">next passage</span> <span class="assay-chunk assay-chunk-overlap">shared by two</span> '
          '<span class="assay-unindexed">not indexed (headings, page furniture)</span></div>'
        + f'<div class="assay-article-text">{"".join(out)}</div>'
        + "</div>"
    )


def status_html(lines: list[tuple[str, str]], progress: tuple[int, int] | None = None, note: str = "",
                chunks: tuple[int, int] | None = None) -> str:
    """[(kind, text)] -> escaped status HTML; kind in ok|err|info."""
    bar = ""
    if progress:
        done, total = progress
        pct = int(100 * done / max(total, 1))
        bar = f'<div class="assay-progress"><div style="width:{pct}%"></div></div><div class="assay-muted">{done}/{total} files</div>'
    if chunks and chunks[1]:
        done, total = chunks
        pct = int(100 * done / max(total, 1))
        bar += f'<div class="assay-progress"><div style="width:{pct}%"></div></div><div class="assay-muted">{done}/{total} passages embedded</div>'
    lis = "".join(f'<li class="assay-{esc(k)}">{esc(t)}</li>' for k, t in lines)
    return f'<div class="assay-upload-status">{esc(note)}{bar}<ul>{lis}</ul></div>'
