"""Files -> Article: decode, strip page debris and markup, keep structure as blocks, read metadata.

Example:
    >>> art = load_article("corpus/usgs_mcs2025_rare_earths.md", root="corpus")
    >>> art.id, art.meta["published"], art.blocks[0].kind
    ('usgs_mcs2025_rare_earths.md', '2025-01', 'heading')

Every format ends in the same list of pieces (kind, cleaned one-line text, level), which
`_assemble` turns into `Article.text` and its `Block` offsets in one pass.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import sys
import textwrap
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

from .article import META_KEYS, Article, Block, LoadError
from .files import DEFAULT_MAX_BYTES, article_id, decode, normalise_text, read_bytes
from .split import sentence_spans

# Bounds that keep hostile inputs cheap without touching real articles (in the 8,900 shared files the
# longest paragraph is ~77,000 characters, the longest heading 143, the longest metadata value ~220).
MAX_BLOCK_CHARS = 100_000  # longer blocks are cut (at a sentence end, else a space) into several blocks
MAX_HEADING_CHARS = 200  # a longer "heading" is text, not a heading (it would crowd every chunk prefix)
MAX_META_CHARS = 500  # one metadata value (it is copied into every chunk's metadata)
HTML_EXTRACT_MAX_CHARS = 1_500_000  # trafilatura is superlinear (a 20 MB page takes >10 min): lxml beyond this

Piece = tuple[str, str, int]  # (kind, cleaned text, heading level)

_TERMINAL = tuple(".?!:;,")
_DEEP_QUOTE = re.compile(r"(?m)^(?:[ \t]*>){8,}")
_BULLET = re.compile(r"^\s*(?:[-*•·▪◦‣]|\d{1,3}[.)])\s+")
_DEBRIS_LINE = re.compile(
    r"(?i)^(?:\d+\s+)?(?:comments?|likes?|views?|shares?|share(?: this(?: post| article| page)?)?|"
    r"recent posts|see all|log ?in|sign (?:in|up)|subscribe|write a comment|all posts|related posts|"
    r"post not marked as liked|follow us|back to top|tags?:?|print|email|facebook|twitter|linkedin|reply)$"
)


# ---------------------------------------------------------------- public API


def load_article(path: str | Path, root: str | Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Load one .txt/.md/.html/.pdf file as an Article, or raise LoadError with a one-line reason."""
    p = Path(path)
    where = str(p)
    raw = read_bytes(p, max_bytes)
    suffix = p.suffix.lower()
    meta: dict = {}
    if suffix == ".pdf":
        pieces, meta = _from_pdf(raw, where)
    elif suffix in (".html", ".htm"):
        pieces, meta = _from_html(decode(raw, where), where)
    else:
        body, meta = _front_matter(decode(raw, where), where)
        pieces = _from_markdown(body) if suffix in (".md", ".markdown") else _from_plain(body, meta)
        if not pieces and _DEEP_QUOTE.search(body):  # markdown-it drops text nested past its depth limit
            pieces = _from_markdown(_DEEP_QUOTE.sub("", body))
    pieces = _structure(_bounded([pc for pc in pieces if not _is_debris(pc)]))
    if not pieces:
        raise LoadError(where, "no article text left after cleaning (only markup or page debris)")
    if not meta.get("title"):
        meta["title"] = _fallback_title(pieces, p)
    text, blocks = _assemble(pieces)
    return Article(id=article_id(p, root), path=str(p.absolute()), text=text, blocks=blocks,
                   meta={k: meta[k] for k in META_KEYS if meta.get(k)})


# ---------------------------------------------------------------- reading and decoding: see files.py

_SPACE_LIKE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # categories Cc, Zl, Zp
_WS = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _format_chars() -> re.Pattern:
    """All category-Cf characters (soft hyphen, zero-width and bidi marks, ...) as one character class."""
    chars = [chr(i) for i in range(sys.maxunicode + 1) if unicodedata.category(chr(i)) == "Cf"]
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]")


def _clean(s: str) -> str:
    """One block's text: NFC, no control/format characters, whitespace collapsed."""
    if not s.isascii():  # ASCII has no format characters and is already NFC
        s = _format_chars().sub("", unicodedata.normalize("NFC", s))
    return _WS.sub(" ", _SPACE_LIKE.sub(" ", s)).strip()


# ---------------------------------------------------------------- metadata


def _front_matter(text: str, where: str) -> tuple[str, dict]:
    """Split YAML front matter off the body; broken YAML is ignored, not fatal."""
    import yaml

    m = re.match(r"\A\ufeff?---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", text, re.S)
    if not m:
        return text, {}
    try:
        data = yaml.load(m.group(1), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when present: same rules, faster
    except yaml.YAMLError:
        data = {}  # fenced like front matter but unparsable: drop it, keep the body
    if not isinstance(data, dict):
        if data:  # a "---" rule around ordinary text, not front matter
            return text, {}
        data = {}
    body = text[m.end():]
    if not body.strip():
        raise LoadError(where, "no article text after front matter")
    return body, _meta_from(data)


_META_ALIASES = {
    "title": "title", "headline": "title",
    "author": "author", "authors": "author", "creator": "author", "byline": "author",
    "date": "published", "published": "published", "pubdate": "published", "date_published": "published",
    "published_time": "published",
    "updated": "updated", "modified": "updated", "last_modified": "updated", "date_modified": "updated",
    "modified_time": "updated",
    "publisher": "publisher", "sitename": "publisher", "site_name": "publisher",
    "source": "source_url", "source_url": "source_url", "url": "source_url", "hostname": None,
    "license": "license", "licence": "license", "rights": "license",
}


def _meta_from(data: dict) -> dict:
    """Map loose metadata keys and values onto META_KEYS."""
    meta: dict = {}
    for key, value in data.items():
        target = _META_ALIASES.get(str(key).strip().lower())
        if not target or value in (None, "", []) or target in meta:
            continue
        if isinstance(value, (list, tuple)):
            # Only a flat list of scalars: str() of nested YAML aliases grows exponentially (a "YAML bomb").
            value = [v for v in value if not isinstance(v, (list, tuple, dict, set))]
            if target in ("published", "updated"):
                value = value[0] if value else None
            elif target == "source_url":
                value = " ".join(str(v)[:4096] for v in value[:50])
            else:
                value = ", ".join(_clean(str(v)[:MAX_META_CHARS]) for v in value[:50] if v)
        elif isinstance(value, (dict, set)):
            continue
        if target in ("published", "updated"):
            value = _norm_date(value)
        elif target == "source_url":
            found = re.search(r"https?://[^\s\"'<>)\]]+", str(value)[:4096])
            value = found.group(0) if found else None
        else:
            value = _clean(str(value)[:4 * MAX_META_CHARS])
        if value:
            meta[target] = _shorten(value, MAX_META_CHARS)
    return meta


def _shorten(s: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    if len(s) <= limit:
        return s
    cut = s.rfind(" ", 0, limit)
    return s[: cut if cut > limit // 2 else limit - 1].rstrip() + "…"


def _norm_date(value) -> str | None:
    """A date-ish value -> 'YYYY-MM-DD' (or 'YYYY-MM' when no day is known); None if it is not a date."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    s = _clean(str(value))
    if m := re.match(r"(\d{4})-(\d{2})-(\d{2})\b", s):
        return m.group(0)
    if m := re.fullmatch(r"(\d{4})-(\d{2})", s) or re.match(r"(\d{4})-(\d{2})\b(?!-)", s):
        return f"{m.group(1)}-{m.group(2)}"
    if not re.search(r"\b\d{4}\b", s):  # dateutil would invent a year
        return None
    from dateutil import parser

    try:
        a = parser.parse(s, default=dt.datetime(2000, 1, 1))
        b = parser.parse(s, default=dt.datetime(2000, 1, 2))
    except (ValueError, OverflowError, TypeError):
        return None
    return a.strftime("%Y-%m") if a.day != b.day else a.strftime("%Y-%m-%d")


def _fallback_title(pieces: list[Piece], p: Path) -> str:
    """First level-1 heading, else the file name made readable."""
    for kind, text, level in pieces:
        if kind == "heading" and level == 1:
            return text
    stem = re.sub(r"^\d{4}-\d{2}-\d{2}[-_ ]*", "", p.stem)
    stem = re.sub(r"[-_]+", " ", stem).strip() or p.stem
    return stem[:1].upper() + stem[1:]


# ---------------------------------------------------------------- markdown


@lru_cache(maxsize=1)
def _markdown():
    """One parser per process (building it costs more than parsing a short article)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


# A line of only spaces, no-break spaces or zero-width marks: blank to a reader, not to markdown-it (in 1,449
# of the 8,846 White House files such lines were all that separated paragraphs: whole articles became one).
_BLANKISH_LINE = re.compile(r"(?m)^(?:[^\S\n]|[\u200b\u200c\u200d\u2060\ufeff])+$")


def _from_markdown(src: str, _md=None) -> list[Piece]:
    """Markdown -> pieces, via markdown-it tokens (lists flattened, tables linearised)."""
    md = _md or _markdown()
    src = _BLANKISH_LINE.sub("", src)
    tokens = md.parse(src)
    pieces: list[Piece] = []
    item_depth, prefix, heading_level, max_level = 0, "", 0, 0
    table: list[list[str]] | None = None
    glue = False  # the next paragraph continues the code line before it (see code_block below)
    for i, tok in enumerate(tokens):
        t = tok.type
        if t == "heading_open":
            heading_level = int(tok.tag[1])
        elif t == "list_item_open":
            item_depth += 1
            prefix = f"{tok.info}{tok.markup} " if tok.info else ""  # keep "3." of ordered items: it is cited
        elif t == "list_item_close":
            item_depth -= 1
        elif t == "table_open":
            table = []
        elif t == "tr_open" and table is not None:
            table.append([])
        elif t == "table_close" and table is not None:
            pieces += _linearise(table)
            table = None
        elif t == "inline":
            text = _inline(tok)
            before = len(pieces)
            if table is not None and table:
                table[-1].append(text)
            elif heading_level:
                pieces.append(("heading", text, heading_level))
                max_level = max(max_level, heading_level)
                heading_level = 0
            elif item_depth:
                pieces.append(("item", _clean(prefix + _run_in_title(tok, text)), 0))
                prefix = ""
            else:
                level = min(6, max_level + 1) if max_level else 2
                lead, rest = _bold_lead(tok)
                titled = bool(lead) and (_heading_like(lead) or _long_title(lead))
                if titled and not rest:
                    pieces.append(("heading", lead, level))
                elif titled and rest:  # "**Heading**" on its own line, text below it
                    pieces += [("heading", lead, level), ("para", rest, 0)]
                elif lead and rest:  # a bold line of its own is never run into the text below it
                    pieces += [("para", lead, 0), ("para", rest, 0)]
                else:
                    pieces.append(("para", _run_in_title(tok, text), 0))
            if glue and before and len(pieces) == before + 1 and pieces[-1][0] == "para" \
                    and pieces[-2][0] in ("para", "item"):
                pieces[-2:] = [(pieces[-2][0], f"{pieces[-2][1]} {pieces[-1][1]}", 0)]
            glue = False
        elif t == "code_block":
            # Indentation in converted web pages is layout, not code: parse it as markdown again. A paragraph
            # whose first line alone is indented ("     But processed critical minerals ... face\nsignificant
            # global ...") is one code line plus a paragraph to markdown-it: the two are joined back.
            pieces += _from_markdown(textwrap.dedent(tok.content), md)
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            glue = (after is not None and after.type == "paragraph_open" and tok.level == after.level == 0
                    and bool(tok.map) and bool(after.map) and after.map[0] == tok.map[1])
        elif t == "fence":
            pieces.append(("para", _clean(tok.content), 0))
        elif t == "html_block":
            pieces.append(("para", _strip_tags(tok.content), 0))
    return [pc for pc in pieces if pc[1]]


def _inline(tok, children=None) -> str:
    """Plain text of an inline token: link text kept, images and raw HTML dropped."""
    parts = []
    for c in tok.children or [] if children is None else children:
        if c.type == "text":
            # Emphasis markers markdown left as text ("Policy. * *It is", "Purpose*.* From"): debris, never meant
            # to be read (in the shared corpora every literal "*" of the loaded text was one).
            parts.append(re.sub(r"\*+|__+", "", c.content))
        elif c.type == "code_inline":
            parts.append(c.content)
        elif c.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif c.type == "html_inline" and re.match(r"(?i)<br\b", c.content):
            parts.append(" ")
    return _clean(_unlink("".join(parts)))


def _unlink(s: str) -> str:
    """Link syntax that markdown left as text (odd URLs, links split across blocks) -> link text."""
    s = re.sub(r"\[([^\[\]]*)\]\((?:[^()\s]|\([^()\s]*\))*\)", r"\1", s)
    s = re.sub(r"\[([^\[\]]*)\]\(\s*(?:https?:|mailto:|/)\S*", r"\1", s)  # URL broken by a space
    return re.sub(r"\]\(\s*(?:https?:|mailto:|/)\S*", "", s)


_BREAKS = ("softbreak", "hardbreak")


def _bold_lead(tok) -> tuple[str, str]:
    """(bold first line, the rest) when a paragraph opens with a line that is entirely bold (or an italic title
    line ending in a line break), else ("", "")."""
    if re.fullmatch(r"\s*(\*\*|__)(?:(?!\1).)+?\1\s*", tok.content, re.S):  # also unparsed "**X **"
        return _inline(tok), ""
    kids = [k for k in tok.children or [] if k.type != "text" or k.content]  # "" left by "**" with no match
    if len(kids) >= 4 and kids[0].type == "strong_open":
        close = next((i for i, k in enumerate(kids) if k.type == "strong_close"), 0)
        if close + 1 < len(kids) and kids[close + 1].type in _BREAKS:
            return _inline(tok, kids[: close + 1]), _inline(tok, kids[close + 2:])
    if len(kids) >= 4 and kids[0].type == "em_open":  # "*Federal Commitments*  \nThe federal government ..."
        close = next((i for i, k in enumerate(kids) if k.type == "em_close"), 0)
        lead = _inline(tok, kids[: close + 1])
        if close + 1 < len(kids) and kids[close + 1].type in _BREAKS and _heading_like(lead):
            return lead, _inline(tok, kids[close + 2:])
    if not tok.content.lstrip().startswith(("**", "__")):
        return "", ""
    # A bold title whose closing "**" markdown could not pair because it sits on a line of its own
    # ("**DELIVERING ON OUR PARTNERSHIP  \n**  \nThis year, ...", "**Joint Initiatives with Jamaica** **and
    # Kenya  \n**  \nThe United States ..."): the title is everything before that line.
    closer = next((i for i in range(1, len(kids) - 1) if kids[i - 1].type in _BREAKS and kids[i].type == "text"
                   and kids[i].content.strip() in ("**", "__") and kids[i + 1].type in _BREAKS), 0)
    lead = _inline(tok, kids[: closer - 1]) if closer else ""
    if lead and (_heading_like(lead) or _long_title(lead)):
        return lead, _inline(tok, kids[closer + 2:])
    return "", ""


_FINITE = re.compile(r"\b(?:is|are|was|were|will|would|has|have|had|can|could|should|must|may|might|do|does|did)\b", re.I)


def _run_in_title(tok, text: str) -> str:
    """"**Mapping Critical Minerals.** DOI invested …" -> "Mapping Critical Minerals: DOI invested …".

    A bold title run into its paragraph or list item, closed by a period, would otherwise be a
    sentence of its own ("Mapping Critical Minerals.") that the writer could quote; with a colon it
    leads its text, as the corpus's own "Rail Consortium: The U.S. …" do. Only titles: at most 8
    words, no finite verb ("**The plant will open.** It …" stays two sentences)."""
    kids = [k for k in tok.children or [] if k.type != "text" or k.content]
    if len(kids) < 4 or kids[0].type != "strong_open":
        return text
    close = next((i for i, k in enumerate(kids) if k.type == "strong_close"), 0)
    if not close or close + 1 >= len(kids) or kids[close + 1].type in _BREAKS:
        return text
    lead = _inline(tok, kids[: close + 1])
    if not lead.endswith(".") or not text.startswith(lead):
        return text
    title, rest = lead[:-1].rstrip(), text[len(lead):]
    words = title.split()
    titled = 0 < len(words) <= 8 and "." not in words[-1] and _heading_like(title) and not _FINITE.search(title)  # not "the U.S."
    return title + ":" + rest if titled and rest.strip()[:1].isupper() else text


def _long_title(s: str) -> bool:
    """A title too long for _heading_like but still a title: unpunctuated, at most 25 words, Title Case."""
    return (len(s) <= MAX_HEADING_CHARS and len(s.split()) <= 25 and not s.endswith(_TERMINAL)
            and not _BULLET.match(s) and _title_case(s, 0.6))


def _strip_tags(fragment: str) -> str:
    fragment = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", fragment)
    return _clean(_unlink(html.unescape(re.sub(r"<[^>]*>", " ", fragment))))


# Footnote markers in table cells (statistical tables converted from PDF: superscripts became plain text):
# "e" (estimated) after a year or a label, "E" never (it is a value: "net exporter"), numbers after a label
# ("Reserves 11", "kilogram: 6", "Imports: e, 4", "reliance 7 as a ..."), numbers before a value ("12 16,000").
_YEAR_E = re.compile(r"\b((?:19|20)\d\d)\s?e\b")
_LABEL_MARKS = re.compile(r"(?<=[^\W\d_]|[:)])\s+(?:e|\d{1,2})(?:,\s*(?:e|\d{1,2}))*$")
_LABEL_INNER_MARK = re.compile(r"(?<=[a-z]) \d{1,2}(?= [a-z])")
_VALUE_MARK = re.compile(r"^\d{1,2} (?=[<>~$]?\d[\d,.]*%?$)")
# Evidence that a table carries footnote markers at all: "2024 e", a label ending in a lone "e" or in a number
# right after its colon ("Imports: e, 4", "kilogram: 6"), a value led by one ("12 16,000").
_FOOTNOTED = re.compile(r"\b(?:19|20)\d\d\s?e$|[^\W\d_:]\s?:?\s(?:e|e,\s*\d{1,2})$|:\s?\d{1,2}$"
                        r"|^\d{1,2} \d{1,3}(?:,\d{3})+$")
# Row labels that head a statistical table's own rows: they end any group opened above them
# ("Consumption, apparent, ..." after the "Exports: / Metals:" rows is not an export metal).
_TOP_ROWS = re.compile(r"(?i)(?:production|imports?|exports?|consumption|prices?|employment|stocks|shipments|"
                       r"net import reliance|(?:world |grand )?total|reserves|capacity|sales|receipts)\b")


def _unmark(cell: str, value: bool) -> str:
    """A table cell without its footnote markers."""
    if value:
        return _VALUE_MARK.sub("", cell)
    cell = _YEAR_E.sub(r"\1", cell)
    return _LABEL_INNER_MARK.sub("", _LABEL_MARKS.sub("", cell)).strip()


def _linearise(rows: list[list[str]]) -> list[Piece]:
    """Table -> one self-contained 'row' piece per data row: 'group — label: header: value; header: value'.

    A row with only a label ("Imports:", "Metals:") names the rows below it; a label that heads a table's
    own rows ("Exports:", "Consumption, apparent, ...") closes the groups above it; footnote markers are
    dropped when the table shows them (see _FOOTNOTED)."""
    if not rows:
        return []
    header, body = list(rows[0]), [list(r) for r in rows[1:]]
    if any(_FOOTNOTED.search(c) for r in rows for c in r if c):
        header = [_unmark(h, False) for h in header]
        body = [[_unmark(c, j > 0) for j, c in enumerate(r)] for r in body]
    # A second header row: blank label under the header, or wordy cells under duplicated headers.
    if body and any(body[0][1:]) and (not body[0][0] or (len(set(header[1:])) < len(header[1:])
                                                        and not any(re.search(r"\d", c) for c in body[0]))):
        sub = body.pop(0)
        header = [_clean(f"{h} {s}") for h, s in zip(header, sub + [""] * len(header))]
    pieces: list[Piece] = []
    if header and header[0]:
        pieces.append(("para", header[0], 0))  # the corner cell usually names the table
    groups: list[str] = []
    for cells in body:
        label, values = (cells[0] if cells else ""), cells[1:]
        pairs = [f"{h}: {v}" if h else v for h, v in zip(header[1:] + [""] * len(values), values) if v]
        top = bool(_TOP_ROWS.match(label))
        if not pairs:
            # A group of its own table's rows starts afresh; any other group nests in the open one.
            groups = [*([] if top or not groups else groups[:1]), label.rstrip(":").strip()] if label else []
            continue
        if top:
            groups = []
        name = " — ".join([*groups, label] if label else groups)
        pieces.append(("row", _clean(f"{name}: {'; '.join(pairs)}" if name else "; ".join(pairs)), 0))
    return pieces


# ---------------------------------------------------------------- plain text (and PDF text)


def _from_plain(body: str, meta: dict) -> list[Piece]:
    """Plain text -> pieces: blog-scrape header and footer debris removed, wrapped lines rejoined."""
    lines = [line.rstrip() for line in body.split("\n")]
    while lines and (not lines[-1].strip() or _DEBRIS_LINE.match(_unbullet(lines[-1]))):
        lines.pop()
    lines = _take_blog_header(lines, meta)
    return _plain_pieces(lines)


def _unbullet(line: str) -> str:
    return re.sub(r"^\s*(?:[-•*·|]\s*)+", "", line).strip()


def _take_blog_header(lines: list[str], meta: dict) -> list[str]:
    """A scraped post opens with a title line and a byline (author, date, 'N min read', 'Updated: date')."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not _heading_like(_clean(lines[first])):
        return lines
    fields: list[tuple[str, str, int]] = []
    for j in range(first + 1, min(len(lines), first + 12)):
        if not lines[j].strip():
            continue
        field = _byline_field(lines[j])
        if field is None:
            break
        fields.append((*field, j))
    dated = [f for f in fields if f[0] != "author"]
    if not dated:  # no date or reading time: the first line is an ordinary heading
        return lines
    end = dated[-1][2]  # an author-like line after the last date is body text
    for key, value, j in fields:
        if j <= end and key in ("author", "published", "updated"):
            meta.setdefault(key, value)
    meta.setdefault("title", _clean(lines[first]))
    return lines[end + 1:]


def _byline_field(line: str) -> tuple[str, str] | None:
    s = _clean(_unbullet(line))
    if re.fullmatch(r"(?i)\d+\s*min(?:ute)?s?\.?\s*read", s):
        return "read", s
    if m := re.fullmatch(r"(?i)(?:last\s+)?(?:updated|modified|edited)(?:\s+on)?\s*:?\s*(.+)", s):
        return ("updated", d) if (d := _norm_date(m.group(1))) else None
    m = re.fullmatch(r"(?i)(?:published|posted|date)(?:\s+on)?\s*:?\s*(.+)", s)
    candidate = m.group(1) if m else s
    if len(candidate.split()) <= 5 and (d := _norm_date(candidate)):
        return "published", d
    if m := re.fullmatch(r"(?i)by\s+(.+)", s):
        s = m.group(1)
    if 1 <= len(s.split()) <= 4 and not re.search(r"\d", s) and not s.endswith(_TERMINAL):
        return "author", s
    return None


def _heading_like(s: str) -> bool:
    """Short, unpunctuated, not a list item, starts like a title."""
    words = s.split(None, 12)
    if len(words) > 12:  # more than 12 words (checked without splitting a megabyte line)
        return False
    wordy = sum(1 for w in words if re.search(r"[^\W\d_]{2}", w))  # table rows are mostly numbers and codes
    return (bool(s) and len(words) <= 12 and wordy >= 2 * len(words) / 3 and not s.endswith(_TERMINAL)
            and not _BULLET.match(s) and "@" not in s and (s[0].isupper() or s[0].isdigit() or s[0] in "§\"'“‘"))


def _plain_pieces(lines: list[str]) -> list[Piece]:
    """Group lines into headings, items and paragraphs; rejoin hard-wrapped and hyphen-broken lines."""
    lengths = sorted(len(line.strip()) for line in lines if line.strip())
    if not lengths:
        return []
    width = lengths[int(0.9 * (len(lengths) - 1))]
    wrapped = width <= 130 and len(lengths) >= 8  # prose hard-wrapped (or extracted from PDF) at ~width
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    nxt = {a: b for a, b in zip(nonblank, nonblank[1:])}
    pieces: list[list] = []
    prev = ""  # the previous raw line, if it belongs to the open piece
    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s:
            prev = ""
            continue
        after = lines[nxt[i]].strip() if i in nxt else ""
        if _is_plain_heading(s, after, prev, wrapped, width):
            pieces.append(["heading", s, 2])
            prev = ""
        elif _is_caption(s, after, lines[nxt[nxt[i]]].strip() if nxt.get(i) in nxt else "", prev, wrapped, width):
            prev = ""  # an image caption before a heading: page furniture
        elif _BULLET.match(s):
            marker, text = _BULLET.match(s).group(0).strip(), _BULLET.sub("", s)
            pieces.append(["item", f"{marker} {text}" if marker[0].isdigit() else text, 0])
            prev = s
        elif prev and _continues(prev, s, raw, pieces[-1][0], wrapped, width):
            pieces[-1][1] = _join(pieces[-1][1], s)
            prev = s
        else:
            pieces.append(["para", s, 0])
            prev = s
    out = []
    for kind, text, level in pieces:
        if wrapped:
            text = re.sub(r"(?<=[a-z]) -(?=[a-z])", "-", text)  # "rare -earth" from PDF extraction
        out.append((kind, _clean(text), level))
    return out


def _is_plain_heading(s: str, after: str, prev: str, wrapped: bool, width: int) -> bool:
    """A heading-like line right before a longer, sentence-like line."""
    if not _heading_like(s) or not after or (prev and wrapped and len(prev) >= 0.7 * width):
        return False
    return len(after) > len(s) and (len(after.split()) > 12 or after.endswith(tuple(".?!:;")))


def _is_caption(s: str, after: str, after2: str, prev: str, wrapped: bool, width: int) -> bool:
    """A wordy, unpunctuated standalone line followed by a heading (e.g. image alt text)."""
    return (not prev and _heading_like(s) and len(s.split()) >= 4 and not re.search(r"\d", s)
            and _is_plain_heading(after, after2, "", wrapped, width))


def _continues(prev: str, s: str, raw: str, kind: str, wrapped: bool, width: int) -> bool:
    """Whether line s continues the piece whose last line was prev."""
    if _BULLET.match(s):
        return False
    if kind == "item" and raw[:1].isspace():
        return True
    if s[0].islower() and (re.search(r"[^\W\d_]-$", prev) or not prev.endswith(tuple(".?!:;"))):
        return True
    if re.search(r"\d$", prev) and s[0].isupper():  # a table line, not a wrapped sentence
        return False
    return wrapped and len(prev) >= 0.7 * width


def _join(a: str, b: str) -> str:
    if re.search(r"[^\W\d_]-$", a) and b[:1].islower():
        return a[:-1] + b  # "miner-" + "als": a word broken at the line end
    return f"{a} {b}"


# ---------------------------------------------------------------- HTML


def _from_html(src: str, where: str) -> tuple[list[Piece], dict]:
    """HTML -> pieces via trafilatura's markdown output; meta from trafilatura, falling back to <title>.

    Pages too big for trafilatura (see HTML_EXTRACT_MAX_CHARS) go straight to the lxml fallback; what
    lxml cannot see (text nested deeper than libxml2's depth limit) is found by stripping the tags."""
    import trafilatura

    small = len(_drop_noise(src)) <= HTML_EXTRACT_MAX_CHARS  # scripts and styles are not text
    md = None
    if small:
        try:
            md = trafilatura.extract(src, output_format="markdown", include_tables=True, include_links=False,
                                     include_images=False, include_comments=False, favor_recall=True)
        except Exception:  # trafilatura chokes on some broken pages: fall back below
            md = None
    pieces = _from_markdown(md) if md else []
    if not pieces:
        pieces = _html_fallback(src)
    if not pieces:
        pieces = _html_tag_strip(src)
    if not pieces:
        raise LoadError(where, "no readable text in the HTML page")
    meta: dict = {}
    try:
        doc = trafilatura.extract_metadata(src) if small else None
        if doc is not None:
            meta = _meta_from({"title": doc.title, "author": doc.author, "date": doc.date,
                               "sitename": doc.sitename, "url": doc.url, "license": doc.license})
    except Exception:  # metadata is optional; the text is what matters
        pass
    if "updated" not in meta and (m := re.search(
            r"<meta[^>]+(?:article:modified_time|dateModified|last-modified)[^>]+content=[\"']([^\"']+)", src, re.I)):
        meta["updated"] = _norm_date(m.group(1))
    if not meta.get("title") and (m := re.search(r"(?is)<title[^>]*>(.*?)</title>", src)):
        meta["title"] = _strip_tags(m.group(1))[:MAX_META_CHARS]
    return pieces, meta


_NOISE_OPEN = re.compile(r"(?i)<(script|style|svg|template)\b|<!--")
_HTML_BLOCK_TAG = re.compile(r"(?i)</?(?:p|div|br|hr|h[1-6]|li|ul|ol|tr|td|th|table|section|article|main|"
                             r"header|footer|nav|aside|blockquote|pre|dd|dt|dl|body|html|head|title)\b[^>]*>")


def _drop_noise(src: str) -> str:
    """Scripts, styles, SVG, templates and comments removed, in one linear pass (a lazy `<script>.*?</script>`
    regex rescans to the end of the page for every unclosed tag: quadratic on hostile pages)."""
    out, pos, low = [], 0, None
    while (m := _NOISE_OPEN.search(src, pos)) is not None:
        out.append(src[pos : m.start()])
        if m.group(1) is None:  # a comment
            end = src.find("-->", m.end())
            end = len(src) if end < 0 else end + 3
        else:
            low = src.lower() if low is None else low
            end = low.find("</" + m.group(1).lower(), m.end())
            end = len(src) if end < 0 else (low.find(">", end) + 1 or len(src))
        out.append(" ")
        pos = end
    out.append(src[pos:])
    return "".join(out)


def _html_tag_strip(src: str) -> list[Piece]:
    """Last resort: block tags -> paragraph breaks, other tags dropped (linear time, any nesting depth)."""
    src = _drop_noise(src)
    low = src.lower()
    body = low.find("<body")
    if body >= 0:
        src = src[body:]
    elif (head := low.find("<head")) >= 0 and (end := low.find("</head", head)) >= 0:
        src = src[:head] + src[end:]
    out = []
    for part in re.split(r"\n\s*\n", _HTML_BLOCK_TAG.sub("\n\n", src)):
        text = _clean(_unlink(html.unescape(re.sub(r"<[^>]*>", " ", part))))
        if text:
            out.append(("para", text, 0))
    return out


def _html_fallback(src: str) -> list[Piece]:
    """Leaf block elements of the page, minus navigation and scripts."""
    import lxml.html

    try:
        root = lxml.html.fromstring(src)
    except Exception:  # unparsable even for lxml: nothing to extract
        return []
    for bad in root.xpath("//script|//style|//nav|//footer|//header|//aside|//noscript|//form"):
        bad.drop_tree()
    pieces: list[Piece] = []
    blocks = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "pre", "blockquote", "dd", "dt"}
    for el in root.iter(*blocks):
        if any(d.tag in blocks for d in el.iterdescendants()):
            continue
        text = _clean(el.text_content())
        if el.tag[0] == "h" and el.tag[1:].isdigit():
            pieces.append(("heading", text, int(el.tag[1])))
        else:
            pieces.append(("item" if el.tag == "li" else "para", text, 0))
    if not pieces and (body := root.find("body")) is not None:
        pieces = [("para", _clean(body.text_content()), 0)]
    return [pc for pc in pieces if pc[1]]


# ---------------------------------------------------------------- PDF


MAX_PDF_PAGES = 5000
# Bytes of unpacked content streams: a page of text holds ~50 KB; pypdf needs ~1.2 s of CPU per MB.
MAX_PDF_PAGE_CONTENT = 2_000_000
MAX_PDF_CONTENT = 64_000_000  # the whole document


def _short_reason(e: BaseException) -> str:
    return " ".join(str(e).split())[:120] or type(e).__name__


def _from_pdf(raw: bytes, where: str) -> tuple[list[Piece], dict]:
    """PDF -> pieces via pypdf text, page headers/footers dropped, lines rejoined like plain text.
    Bounded: a page whose content unpacks past MAX_PDF_PAGE_CONTENT, more than MAX_PDF_PAGES
    pages, or one of pypdf's own limits is a LoadError that says it hit a resource limit."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:  # unsupported crypto counts as locked
                opened = 0
            if not opened:
                raise LoadError(where, "PDF is encrypted — remove the password and try again")
        pages, total = [], 0
        for i, page in enumerate(reader.pages, 1):
            if i > MAX_PDF_PAGES:
                raise LoadError(where, f"PDF has more than {MAX_PDF_PAGES:,} pages, over Assay's limit — split it and add the parts")
            contents = page.get_contents()
            size = len(contents.get_data()) if contents is not None else 0
            if size > MAX_PDF_PAGE_CONTENT:
                raise LoadError(where, f"PDF page {i} unpacks to {size / 1e6:.0f} MB of drawing instructions, over the resource limit "
                                       f"of {MAX_PDF_PAGE_CONTENT / 1e6:.0f} MB a page (a decompression bomb, or a page of vector art) — not read")
            total += size
            if total > MAX_PDF_CONTENT:
                raise LoadError(where, f"PDF unpacks to more than {MAX_PDF_CONTENT / 1e6:.0f} MB of page content by page {i}, over the "
                                       "resource limit for one file — split it and add the parts")
            pages.append(page.extract_text() or "")
        info = reader.metadata or {}
    except LoadError:
        raise
    except LimitReachedError as e:
        raise LoadError(where, f"PDF hits a resource limit of the PDF reader ({_short_reason(e)}) — not read") from None
    except MemoryError:
        raise LoadError(where, "PDF needs more memory than is available to read — not read") from None
    except Exception as e:
        raise LoadError(where, f"not a readable PDF (corrupt or truncated: {type(e).__name__}) — re-export it") from None
    if not any(page.strip() for page in pages):
        raise LoadError(where, "PDF has no extractable text (scanned images?) — OCR it first")
    text = normalise_text("\n".join(_strip_furniture(pages)))
    pieces = _plain_pieces(text.split("\n"))
    meta = _meta_from({"author": info.get("/Author"), "date": _pdf_date(info.get("/CreationDate"))})
    title = _clean(str(info.get("/Title") or ""))
    title = re.sub(r"^\S+\.pdf\s*[-–—:|]\s*", "", title, flags=re.I)  # "mcs2025.pdf - Mineral ..."
    if title and not re.fullmatch(r"(?i)untitled|\S+\.(pdf|docx?|indd|tex)", title):
        meta["title"] = title
    else:
        meta["title"] = next((t for k, t, _ in pieces if k == "heading"), pieces[0][1] if pieces else "")[:200]
    return pieces, meta


def _pdf_date(value) -> str | None:
    m = re.match(r"D:(\d{4})(\d{2})?(\d{2})?", str(value or ""))
    if not m:
        return None
    return "-".join(g for g in m.groups() if g)


def _strip_furniture(pages: list[str]) -> list[str]:
    """Drop lone page numbers and header/footer lines repeated across pages."""
    split = [[line.rstrip() for line in page.split("\n") if line.strip()] for page in pages]

    def edges(lines: list[str]) -> set[int]:
        return set(range(min(3, len(lines)))) | set(range(max(0, len(lines) - 3), len(lines)))

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.strip().lower())

    counts = Counter(k for lines in split for k in {key(lines[i]) for i in edges(lines)})
    repeated = {k for k, n in counts.items() if len(pages) >= 3 and n >= max(2, len(pages) // 2)}
    out = []
    for lines in split:
        drop = {i for i in edges(lines)
                if key(lines[i]) in repeated or re.fullmatch(r"(?i)\W*(?:page\s*)?\d{1,4}(?:\s*of\s*\d+)?\W*", lines[i].strip())}
        out.append("\n".join(line for i, line in enumerate(lines) if i not in drop))
    return out


# ---------------------------------------------------------------- structure inside paragraphs
#
# What every format leaves inside its paragraphs: run-in headings ("Sec. 3. Section 232 Investigation. (a) The
# Secretary ..."), lettered and numbered sub-clauses run together ("As used in this order: (a) The term ...
# (b) The term ..."), and memo headers and signature blocks that are not sentences to quote.


def _structure(pieces: list[Piece]) -> list[Piece]:
    """Run-in headings split off, sub-clauses made items, memo headers and signature blocks marked furniture."""
    levels = [lv for kind, _t, lv in pieces if kind == "heading"]
    level = min(6, max(levels) + 1) if levels else 2
    out: list[Piece] = []
    for kind, text, lv in _split_sections(pieces):
        if kind == "para" and (run_in := _run_in_heading(text)):
            head, text = run_in
            out.append(("heading", head, level))
            if not text:
                continue
        elif kind == "para" and _numbered_heading(text):
            out.append(("heading", text, level))
            continue
        if kind in ("para", "item") and len(text) >= 40 and _CLAUSE_START.search(text):
            parts = _clauses(text)
            if parts:
                lead, items = parts
                if lead:
                    out.append((kind, lead, 0))
                out += [("item", item, 0) for item in items]
                continue
        out.append((kind, text, lv))
    return _mark_furniture(out)


_SEC_NUMBER = re.compile(r"(?:Sec(?:tion)?|SEC(?:TION)?|§)\.?\s*\d{1,3}[A-Za-z]?(?:-\d{1,3})?\.\s*")
_SMALL_WORDS = frozenset("a an and as at but by for from in into of on or over the to under upon via with".split())


def _title_case(s: str, min_share: float = 0.5) -> bool:
    """Most words capitalised, as in a title ("Section 232 Investigation", "Revocation of and Revisions to ...")."""
    words = [w for w in re.findall(r"[^\W\d_][\w’'\-]*", s) if w.lower() not in _SMALL_WORDS]
    if not words or not (s[:1].isupper() or s[:1].isdigit()):
        return False
    return len(words) <= 4 or sum(w[0].isupper() for w in words) >= min_share * len(words)


def _run_in_heading(text: str) -> tuple[str, str] | None:
    """("Sec. 3. Section 232 Investigation.", the rest) for a paragraph that opens with a numbered section title."""
    m = _SEC_NUMBER.match(text)
    if not m:
        return None
    rest = text[m.end():]
    if not rest:
        return text, ""
    # Where the title ends: before the first clause ("Security.(a) The Secretary", "Revocation of Schedule F.
    # (a) The creation": "F." reads as an initial), else at the first sentence end, else at a period before a
    # capital ("Schedule G. Civil Service Rule VI ...").
    ends = [x.end() for x in re.finditer(r"\.(?=\s?\((?:a|i|1|A)\)[\s(])", rest[:MAX_HEADING_CHARS])][:1]
    spans = sentence_spans(rest)
    ends.append(spans[0][1] if spans else len(rest))
    ends += [x.end() for x in re.finditer(r"\.(?=\s+[A-Z])", rest[:MAX_HEADING_CHARS])]
    for end in ends:
        title = rest[:end].rstrip()
        if not title.endswith(".") or len(title) > MAX_HEADING_CHARS - m.end() - 1:
            continue
        if len(title.split()) > (20 if end >= len(rest) else 24) or len(sentence_spans(title)) > 1:
            continue
        if not _title_case(title.rstrip("."), 0.6):
            continue  # "Sec. 5. This order is effective immediately.": a sentence, not a title
        return _clean(text[: m.end()] + title), rest[end:].strip()
    return None


_SEC_INSIDE = re.compile(r"(?:(?<=[.:;])|(?<=[.:;][”\"’)])) "
                         r"(?=(?:Sec(?:tion)?|SEC(?:TION)?)\.?\s?\d{1,3}[A-Za-z]?\.\s+[A-Z0-9])")


def _split_sections(pieces: list[Piece]) -> list[Piece]:
    """A section that starts inside a paragraph ("... critical goods and materials. Sec. 6. Definitions. For
    purposes of this order:") starts a paragraph of its own, so that its title becomes a heading."""
    out: list[Piece] = []
    for kind, text, lv in pieces:
        if kind not in ("para", "item") or ("Sec" not in text and "SEC" not in text):
            out.append((kind, text, lv))
            continue
        cuts = [m.start() + 1 for m in _SEC_INSIDE.finditer(text) if _run_in_heading(text[m.start() + 1:][:400])]
        for a, b in zip([0, *cuts], [*cuts, len(text)]):
            out.append((kind if a == 0 else "para", text[a:b].strip(), lv if a == 0 else 0))
    return [pc for pc in out if pc[1]]


_NUMBERED_HEADING = re.compile(r"(?:([IVX]{1,6})|\d{1,2})\.\s+(\S.*)")


def _numbered_heading(text: str) -> bool:
    """A paragraph that is only a numbered title: "II. Key Outcomes of the ...", "1. Ensuring U.S.-UK Leadership
    in ...". Not a lettered one ("C. Kirabo Jackson, Member of ..." is a name) nor one with a colon or, after
    a number, a comma ("1. Mayor Karen Bass, Los Angeles, CA"): those stay text."""
    m = _NUMBERED_HEADING.fullmatch(text)
    if not m or len(text) > 160 or text.endswith(_TERMINAL) or len(text.split()) > 20:
        return False
    title = m.group(2)
    if ":" in title or "@" in title or re.search(r"\d{2}", title) or (not m.group(1) and "," in title):
        return False
    return _title_case(title, 0.7)


_CLAUSE = re.compile(r"(?:^|(?<=[.:;] )|(?<=[.:;][”\"’)] )|(?<=; and )|(?<=; or )|(?<=, and )|(?<=, or ))"
                     r"\(((?:[a-z]|[A-Z]|\d{1,2}|[ivx]{1,5}))\)(?= \S)")
_CLAUSE_START = re.compile(r"^\(|\((?:a|i|1|A)\) ")  # no sequence can start without one (a cheap pre-check)
_ROMAN = {r: i + 1 for i, r in enumerate(
    "i ii iii iv v vi vii viii ix x xi xii xiii xiv xv xvi xvii xviii xix xx".split())}


def _clause_types(label: str) -> list[tuple[str, int]]:
    """(sequence kind, position) readings of a marker: "i" is both the 9th letter and roman 1."""
    out = []
    if len(label) == 1 and label.islower():
        out.append(("a", ord(label) - 96))
    if label in _ROMAN:
        out.append(("i", _ROMAN[label]))
    if label.isdigit():
        out.append(("1", int(label)))
    if len(label) == 1 and label.isupper():
        out.append(("A", ord(label) - 64))
    return out


def _clauses(text: str) -> tuple[str, list[str]] | None:
    """(lead-in, [clause, ...]) when text runs sequential markers together, each opening a clause
    ("... this order: (a) The term ... (b) The term ...", "(i) ...; (ii) ...; and (iii) ..."), else None.

    Nested sequences ((i), (ii) inside (b)) become items too: one clause per item reads best, and
    the markers keep the nesting visible. A marker that continues no sequence ("subsection (a) of")
    or a sequence of one ("(a)" with no "(b)") is left in the text."""
    stack: list[tuple[list, list[int]]] = []  # ([(kind, last position), ...] readings, marker offsets)
    done: list[list[int]] = []
    marks = list(_CLAUSE.finditer(text))
    for j, m in enumerate(marks):
        readings = _clause_types(m.group(1))
        if m.group(1) == "i" and any(("a", 8) in alive for alive, _o in stack):
            # After "(h)", "(i)" is the letter when a roman list inside (h) is open ("(h) ...: (i) ...; (ii) ...
            # (i) The Secretary ..."), else it opens one if "(ii)" comes before "(j)", another "(i)" or a new "(a)".
            nested = any(k == "i" for k, _n in stack[-1][0])
            later = "j" if nested else next((x.group(1) for x in marks[j + 1:]
                                             if x.group(1) in ("a", "i", "ii", "j")), "j")
            readings = [("i", 1)] if later == "ii" else [("a", 9)]
        for depth in range(len(stack) - 1, -1, -1):
            alive, offsets = stack[depth]
            nxt = [(k, n) for k, n in readings if (k, n - 1) in alive]
            if nxt:
                done += [s[1] for s in stack[depth + 1:]]
                del stack[depth + 1:]
                alive[:] = nxt
                offsets.append(m.start())
                break
        else:
            # A sequence starts at its first marker ("(a)", "(i)", "(1)"), or anywhere at the paragraph's start
            # (a paragraph that continues the clauses of the one before it: "(i) focus ...; (j) coordinate ...").
            starts = [(k, n) for k, n in readings if n == 1 or m.start() == 0]
            if starts:
                # A list of a kind already open starts over: close it (and what is nested in it), which also
                # keeps the stack at most a few sequences deep on any input.
                kinds = {k for k, _n in starts}
                same = next((d for d, (alive, _o) in enumerate(stack) if kinds & {k for k, _n in alive}), None)
                if same is not None:
                    done += [s[1] for s in stack[same:]]
                    del stack[same:]
                stack.append((starts, [m.start()]))
    done += [s[1] for s in stack]
    cuts = sorted(o for offsets in done if len(offsets) >= 2 for o in offsets)
    if not cuts:
        return None
    lead = text[: cuts[0]].strip()
    items = [text[a:b].strip() for a, b in zip(cuts, [*cuts[1:], len(text)])]
    return lead, [i for i in items if i]


# Furniture: text that is part of the document but not a sentence of it.
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = rf"(?:{_MONTH}\s+\d{{1,2}},\s+\d{{4}}|\d{{1,2}}\s+{_MONTH}\s+\d{{4}})"
_PLACE = r"(?:[A-Z][\w’'.\-]+(?:\s+[A-Z][\w’'.\-]+){0,3})(?:,\s+[A-Z][\w’'.\-]+(?:\s+[A-Z][\w’'.\-]+){0,3})?"
_CAPS_NAME = r"(?:[A-Z][A-Z’'\-]+|[A-Z]\.)(?:\s+(?:[A-Z][A-Z’'\-]+,?|[A-Z]\.|JR\.|SR\.))+"
_FURNITURE = re.compile("|".join((
    r"SUBJECT:\s*\S.{0,300}",
    rf"(?:{_CAPS_NAME}\s+)?THE WHITE HOUSE,?(?:\s+{_DATE}\.?)?",  # "JOSEPH R. BIDEN JR. THE WHITE HOUSE, May 4, 2021."
    rf"{_DATE}\.?(?:\s+{_PLACE})?",  # a dateline: "April 15, 2025.", "May 20, 2023 Hiroshima, Japan"
    r"\d{1,2}:\d{2}\s*[AaPp]\.?[Mm]\.?(?:\s+[A-Z]{2,4})?\.?",  # a transcript's time stamp: "4:19 P.M. EST"
    r"For the (?:Government|Governments|People|State|Republic|Kingdom) of\b[^.!?]{1,150}:",
)))
_SIGNATURE = re.compile(rf"{_CAPS_NAME}(?:\s+[A-Z][^.!?:;]{{0,160}})?")  # "DONALD J. TRUMP", "JOSEPH R. BIDEN JR. ..."
_INITIAL = re.compile(r"(?<![A-Z])[A-Z]\.(?=\s)|\b[JS]R\.")


def _is_furniture(text: str, after_memo: bool = False) -> bool:
    """A memo header, signature, dateline or time stamp (never a sentence of the article)."""
    if len(text) > 2000:
        return False
    if _FURNITURE.fullmatch(text):
        return True
    if re.match(r"MEMORANDUM FOR\b", text) or (after_memo and text.startswith("THE ")):
        # The address block of a memorandum (and its continuation), in capitals ("The DIRECTOR OF ..." slips in).
        return sum(c.islower() for c in text) <= 0.05 * sum(c.isalpha() for c in text)
    return bool(_SIGNATURE.fullmatch(text)) and bool(_INITIAL.search(text)) and len(text) <= 200


def _signature_line(text: str) -> bool:
    """A line of a signature block: names and titles, no sentence punctuation ("Sincerely,", "President Prime
    Minister", "Donald J. Trump Anthony Albanese", "United States of America:")."""
    if len(text) > 400 or ":" in text[:-1]:
        return False
    bare = re.sub(r"\b(?:[A-Z]|Jr|Sr|JR|SR)\.", "", text)  # initials are not sentence ends
    return not re.search(r"[.!?;]", bare) and _title_case(bare.strip(" ,:") or "x", 0.7)


def _mark_furniture(pieces: list[Piece]) -> list[Piece]:
    """Paragraphs that are memo headers, signatures or datelines -> 'furniture'; so are the names and titles
    of a signature block at the end of the article, when a signature or dateline is among them."""
    out = list(pieces)
    prev_memo = False
    for i, (kind, text, lv) in enumerate(out):
        if kind == "para" and _is_furniture(text, prev_memo):
            out[i] = ("furniture", text, 0)
            prev_memo = text.startswith(("MEMORANDUM FOR", "THE ")) and not text.startswith("THE WHITE HOUSE")
        else:
            prev_memo = False
    tail = len(out)
    while tail > 0 and len(out) - tail < 8 and (out[tail - 1][0] == "furniture"
                                                 or out[tail - 1][0] == "para" and _signature_line(out[tail - 1][1])):
        tail -= 1
    # In that tail, a name or title line is furniture when a signature or dateline follows it ("Sincerely," before
    # "JOSEPH R. BIDEN JR.") or when it follows "For the Government of ...:" or a dateline that opens a list of
    # signatories ("September 21, 2023" before "President ... of ..."). Not after "THE WHITE HOUSE" and its date:
    # what comes after those is an annex, not a signature.
    opened, last_anchor = False, max((i for i in range(tail, len(out)) if out[i][0] == "furniture"), default=-1)
    for i in range(tail, len(out)):
        kind, text, _lv = out[i]
        if kind == "furniture":
            if text.startswith("For the ") or (re.match(_DATE, text) and not _dated_by_house(out, i)):
                opened = True
            elif "WHITE HOUSE" in text or re.match(_DATE, text) or _SIGNATURE.fullmatch(text):
                opened = False
        elif opened or i < last_anchor:
            out[i] = ("furniture", text, 0)
    return out


def _dated_by_house(pieces: list[Piece], i: int) -> bool:
    """Whether the dateline at pieces[i] is the date of a "THE WHITE HOUSE," line just before it."""
    return i > 0 and "WHITE HOUSE" in pieces[i - 1][1]


# ---------------------------------------------------------------- assembly


def _is_debris(piece: Piece) -> bool:
    """Stray page artefacts: no letters or digits, or a paragraph of one or two characters or a lone page number."""
    kind, text, _ = piece
    if kind == "row":
        return not text
    return not re.search(r"\w", text) or (kind == "para" and (len(text) <= 2 or re.fullmatch(r"\d{1,4}", text)))


def _assemble(pieces: list[Piece]) -> tuple[str, list[Block]]:
    """Join pieces into the article text ("\\n\\n" between blocks, "\\n" between list items) with offsets."""
    parts: list[str] = []
    blocks: list[Block] = []
    pos, prev = 0, ""
    for kind, text, level in pieces:
        if blocks:
            sep = "\n" if kind == prev == "item" else "\n\n"
            parts.append(sep)
            pos += len(sep)
        parts.append(text)
        blocks.append(Block(kind=kind, start=pos, end=pos + len(text), level=level))
        pos += len(text)
        prev = kind
    return "".join(parts), blocks


def _bounded(pieces: list[Piece]) -> list[Piece]:
    """Oversized pieces made safe: a runaway heading becomes a paragraph; a giant block (a 2 MB line
    without punctuation, a whole book in one paragraph) is cut into blocks of at most MAX_BLOCK_CHARS,
    so the splitter and the tokenizer only ever see bounded strings."""
    out: list[Piece] = []
    for kind, text, level in pieces:
        if kind == "heading" and len(text) > MAX_HEADING_CHARS:
            kind, level = "para", 0
        while len(text) > MAX_BLOCK_CHARS:
            cut = _cut_point(text, MAX_BLOCK_CHARS)
            out.append((kind, text[:cut].rstrip(), level))
            text = text[cut:].lstrip()
        if text:
            out.append((kind, text, level))
    return out


_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s")


def _cut_point(text: str, limit: int) -> int:
    """Where to cut text[:limit]: after the last sentence end in its second half, else at its last space."""
    window = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(window, limit // 2)]
    if ends:
        return ends[-1]
    space = window.rfind(" ", limit // 2)
    return space if space > 0 else limit
