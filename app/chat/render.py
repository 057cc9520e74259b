"""HTML for the chat: answers with clickable [n] citations, abstentions, the library, statuses.

Pure functions of plain data (`Answer.to_dict()`, index stats): no Gradio, so they are unit-tested
directly. Everything that is not our own markup goes through `esc()`, so text from articles, file
names, questions or errors is shown literally and never interpreted.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlparse

from ..schema import MARKER

OFFLINE = "Offline (extractive quotes)"


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
        for m in MARKER.finditer(text):
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


# ---- the library


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


def status_html(lines: list[tuple[str, str]], progress: tuple[int, int] | None = None, note: str = "") -> str:
    """[(kind, text)] -> escaped status HTML; kind in ok|err|info."""
    bar = ""
    if progress:
        done, total = progress
        pct = int(100 * done / max(total, 1))
        bar = f'<div class="assay-progress"><div style="width:{pct}%"></div></div><div class="assay-muted">{done}/{total} files</div>'
    lis = "".join(f'<li class="assay-{esc(k)}">{esc(t)}</li>' for k, t in lines)
    return f'<div class="assay-upload-status">{esc(note)}{bar}<ul>{lis}</ul></div>'


PANEL_EMPTY = (
    '<div class="assay-panel"><div class="assay-panel-title">Sources</div>'
    '<div id="assay-panel-body"><p class="assay-muted">Click a numbered marker in an answer to see the passage it '
    "comes from, with the supporting sentences highlighted.</p></div></div>"
)
