"""Article -> chunks that fit the embedding model, split on structure first, then sentences.

Every chunk's text is an exact slice of the cleaned article text (`article.text[start:end]`),
so a citation can highlight it, and its embedded form (title + heading + text) is measured
with the model's own tokenizer: no chunk is ever truncated by the model.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from .article import Article, Block

# Abbreviations that never end a sentence: titles before a name, and the words of a citation
# ("Sec. 3", "No. 14017", "Pub. L. 117-58", "135 Stat. 429", "87 Fed. Reg. 10381", "e.g., ...").
# Matched as written (so the word "art." ends a sentence and "Art. 5" does not); an ALL-CAPS token
# ("MR.", "SEC.") is matched capitalised.
_NEVER_FINAL = frozenset({
    "Mr", "Mrs", "Ms", "Messrs", "Dr", "Prof", "St", "Mt", "Ft", "Gen", "Col", "Lt", "Capt", "Cmdr", "Adm", "Sgt",
    "Sen", "Sens", "Rep", "Reps", "Gov", "Amb", "Hon", "Rev", "Pres", "Dept", "Assn", "Ave", "Blvd",
    "No", "Nos", "Sec", "Secs", "Art", "Arts", "Para", "Paras", "Ch", "Chs", "Cl", "Pt", "Pts", "Subch", "Subpt",
    "Vol", "Vols", "Fig", "Figs", "Tab", "Ex", "Exh", "App", "Pub", "Fed", "Reg", "Regs", "Stat", "Supp", "Sess",
    "Cong", "Res", "Doc", "Ord", "Op", "Cir", "Amend", "Approx", "Est",
    "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
    "e.g", "i.e", "vs", "cf", "viz", "pp", "id", "Id", "approx", "sec", "secs", "no", "nos", "para", "paras", "ch",
    "cl", "vol",
})
# Abbreviations that may end a sentence ("... by Acme Inc. The company ...", "... in Washington, D.C. The
# two leaders ..."): a boundary only when a word that opens sentences follows. Dotted initialisms
# ("U.S.", "U.S.C.", "C.F.R.", "a.m.") count as these too.
_MAYBE_FINAL = frozenset({"Inc", "Co", "Corp", "Ltd", "LLC", "PLC", "Bros", "Jr", "Sr", "etc", "al", "seq", "seqq"})
_OPENERS = frozenset({
    "the", "this", "that", "these", "those", "it", "its", "in", "on", "at", "as", "by", "for", "from", "to",
    "with", "we", "i", "he", "she", "they", "you", "our", "their", "his", "her", "a", "an", "and", "but", "or",
    "if", "when", "while", "after", "before", "during", "since", "today", "there", "here", "each", "both",
    "all", "some", "many", "most", "such", "under", "through", "however", "also", "additionally", "moreover",
    "furthermore", "meanwhile", "finally", "together", "yesterday", "tomorrow", "now", "thus", "so", "then",
})
# A sentence ends at . ! ? (and closing quotes or brackets) before a capital, a digit, "$", "§" or an
# enumerator such as "(a) " or "(iv) ".
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9$§]|\((?:[a-z]{1,5}|\d{1,3})\)\s)")
_DASHES = re.compile(r"[-‐‑–—/]")
_WORD_AFTER = re.compile(r"[\"'“‘(\[]?([^\W\d_]+)")
# An enumeration or section number opening a sentence: "1.", "IV.", "a.", "Sec. 2.", "Section 4a."
_MARKER = re.compile(r"(?:(?:Sec(?:tion)?|SEC(?:TION)?|Art(?:icle)?|Part|Chapter|Title)\.?\s+)?"
                     r"(?:\d{1,3}[A-Za-z]?|[IVXLC]{1,6}|[A-Za-z])\.")


def _ends_sentence(segment: str, cut: int, m: re.Match) -> bool:
    """Whether the boundary candidate `m` (after segment[cut:]) really ends a sentence."""
    dot = m.start()
    if segment[dot] != ".":
        return True
    # The word before the period (found backwards: a long sentence must not be rescanned per candidate).
    space = max(segment.rfind(" ", cut, dot), cut - 1)
    raw = segment[space + 1 : dot].rstrip(".!?").lstrip("(\"'“‘[")
    if not raw:
        return True
    raw = _DASHES.split(raw)[-1] or raw  # "Minneapolis-St.", "overturned—Dr. Cooper"
    if dot - cut < 16 and _MARKER.fullmatch(segment[cut : dot + 1].strip()):
        return False  # "1." / "Sec. 2." is the number of what follows, not a sentence
    if raw in _NEVER_FINAL or (raw.isupper() and raw.capitalize() in _NEVER_FINAL):
        return False
    if len(raw) == 1 and raw.isalpha():  # an initial: "Donald J. Trump"
        return False
    nxt = segment[m.end() : m.end() + 1]
    if raw in _MAYBE_FINAL or raw.capitalize() in _MAYBE_FINAL or ("." in raw and raw[0].isalpha()):
        if not nxt.isalpha() and nxt not in "\"'“‘":
            return False  # "19 U.S.C. 1862", "U.S.C. §", "et seq. (": the citation goes on
        after = _WORD_AFTER.match(segment, m.end())
        return bool(after) and after.group(1).lower() in _OPENERS
    return True


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) inside text[start:end], whitespace trimmed.

    A period ends a sentence unless it closes an abbreviation: a title or citation word ("Sec.", "No.",
    "Pub. L.", "Stat.", "e.g."), an initial, an enumeration number ("1.", "Sec. 2."), or an abbreviation
    that may end a sentence ("Inc.", "U.S.", "D.C.", "U.S.C.", "et seq.") but is followed by something
    other than a word that opens sentences ("U.S.C. 1862", "U.S. Department", "D.C. The" does end)."""
    end = len(text) if end is None else end
    if "\n" in text[start:end]:  # line breaks separate blocks and list items: always a boundary
        out, pos = [], start
        for line in text[start:end].split("\n"):
            out += sentence_spans(text, pos, pos + len(line))
            pos += len(line) + 1
        return out
    segment = text[start:end]
    spans, cut = [], 0
    for m in _BOUNDARY.finditer(segment):
        if not _ends_sentence(segment, cut, m):
            continue
        spans.append((cut, m.end()))
        cut = m.end()
    spans.append((cut, len(segment)))
    out = []
    for a, b in spans:
        piece = segment[a:b]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece.rstrip())
        if trail > lead:
            out.append((start + a + lead, start + a + trail))
    return out


@dataclass
class Chunk:
    id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int
    heading: str
    embed_text: str
    n_tokens: int  # word pieces of embed_text, special tokens included
    # Article offsets of the furniture blocks (memo headers, signature blocks: see article.py) inside
    # this chunk, clipped to it: indexed and searchable, but not sentences to quote.
    furniture: list[tuple[int, int]] = field(default_factory=list)


class TokenCounter:
    """Counts word pieces with the model's tokenizer, in batches (fast tokenizers are vectorised)."""

    def __init__(self, tokenizer, limit: int):
        self.tok = tokenizer
        self.limit = limit  # max_seq_length, special tokens included
        self.special = len(tokenizer("")["input_ids"])

    def counts(self, texts: list[str]) -> list[int]:
        out: list[int] = []
        # The Rust tokenizer directly, without offsets, when the model has one: same word
        # pieces as the model's own tokenizer call, a third less work.
        fast = self._counting_tokenizer()
        for i in range(0, len(texts), 2048):  # bounded memory: a 50 MB article has ~500k sentences
            part = texts[i : i + 2048]
            if fast is not None:
                out += [len(e.ids) for e in fast.encode_batch_fast(part, add_special_tokens=False)]
                continue
            enc = self.tok(part, add_special_tokens=False, truncation=False,
                           return_attention_mask=False, return_token_type_ids=False)["input_ids"]
            out += [len(ids) for ids in enc]
        return out

    def _counting_tokenizer(self):
        """A private copy of the Rust tokenizer with truncation and padding off (the model's
        own one has them switched on and off per call, by whichever thread is encoding)."""
        if not hasattr(self, "_fast"):
            self._fast = None
            backend = getattr(self.tok, "backend_tokenizer", None)
            if backend is not None and hasattr(backend, "encode_batch_fast"):
                from tokenizers import Tokenizer

                copy = Tokenizer.from_str(backend.to_str())
                copy.no_truncation()
                copy.no_padding()
                self._fast = copy
        return self._fast

    def cut_points(self, text: str, budget: int) -> list[int]:
        """Char offsets that cut `text` into pieces of at most `budget` word pieces, at spaces."""
        # The private Rust copy: same word pieces and offsets, and no "Token indices sequence length
        # is longer than the specified maximum" warning, which the model's tokenizer logs for any
        # text longer than the model's limit, although nothing here is ever fed to the model.
        fast = self._counting_tokenizer()
        if fast is not None:
            offsets = fast.encode(text, add_special_tokens=False).offsets
        else:
            offsets = self.tok(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)[
                "offset_mapping"
            ]
        cuts, n = [], 0
        while n + budget < len(offsets):
            pos = offsets[n + budget][0]
            space = text.rfind(" ", offsets[n][1], pos + 1)
            pos = space if space > offsets[n][0] else pos
            cuts.append(pos)
            n = next(i for i in range(n, len(offsets)) if offsets[i][0] >= pos)
        return cuts


def _prefix(title: str, heading: str) -> str:
    parts = [p for p in (title, heading) if p]
    if len(parts) == 2 and parts[0].strip().lower() == parts[1].strip().lower():
        parts = parts[:1]
    return "\n".join(parts)


def split_article(article: Article, counter: TokenCounter, chunk_tokens: int = 200, overlap: int = 1) -> list[Chunk]:
    """Chunks of one article: never across a heading, at block boundaries where possible."""
    text = article.text
    title = article.meta.get("title", "")
    # Units: (section heading, block index, sentence span). Headings start sections.
    sections: list[tuple[str, list[list[tuple[int, int]]]]] = []
    heading, blocks = "", []
    for block in article.blocks:
        if block.kind == "heading":
            if blocks:
                sections.append((heading, blocks))
            heading, blocks = text[block.start : block.end], []
            continue
        spans = sentence_spans(text, block.start, block.end)
        if spans:
            blocks.append(spans)
    if blocks:
        sections.append((heading, blocks))

    all_spans = [s for _h, bl in sections for b in bl for s in b]
    counts = dict(zip(all_spans, counter.counts([text[a:b] for a, b in all_spans])))
    title_for_prefix = title
    if counter.counts([title])[0] > 48:  # a runaway title must not crowd out the text
        cut = counter.cut_points(title, 48)[0]
        title_for_prefix = title[:cut]

    raw: list[tuple[str, list[tuple[int, int]]]] = []  # (heading, sentence spans)
    for heading, blocks in sections:
        prefix = _prefix(title_for_prefix, heading)
        room = counter.limit - counter.special - counter.counts([prefix + "\n"])[0] - 4
        budget = max(32, min(chunk_tokens, room))
        cur: list[tuple[int, int]] = []
        size = 0
        for spans in blocks:
            block_size = sum(counts[s] for s in spans)
            # Start a fresh chunk at a block boundary if the block won't fit and the chunk is well filled.
            if cur and size + block_size > budget and size >= budget // 2:
                raw.append((heading, cur))
                cur, size = [], 0
            for i, span in enumerate(spans):
                n = counts[span]
                if n > budget:  # one very long sentence: hard-cut it at token boundaries
                    if cur:
                        raw.append((heading, cur))
                        cur, size = [], 0
                    a, b = span
                    points = [a + p for p in counter.cut_points(text[a:b], budget)]
                    edges = [a, *points, b]
                    for x, y in zip(edges, edges[1:]):
                        piece = (x + len(text[x:y]) - len(text[x:y].lstrip()), y)
                        if piece[1] > piece[0]:
                            raw.append((heading, [piece]))
                    continue
                if cur and size + n > budget:
                    raw.append((heading, cur))
                    # Overlap only when cutting inside a block: carry the previous sentence(s).
                    carried = [s for s in spans[max(0, i - overlap) : i]] if i > 0 else []
                    carried = [s for s in carried if s in cur]
                    cur = carried
                    size = sum(counts.get(s, 0) for s in cur)
                    if size + n > budget:
                        cur, size = [], 0
                cur.append(span)
                size += n
        if cur:
            raw.append((heading, cur))

    chunks: list[Chunk] = []
    base = hashlib.sha1(article.id.encode("utf-8")).hexdigest()[:8] + article.content_hash[:12]
    leads = _list_leads(article)
    for heading, spans in raw:
        start, end = spans[0][0], spans[-1][1]
        lead = next((lead for a, b, lead in leads if a <= start < b), None)
        if lead and lead[1] <= start:  # a chunk that starts inside a list, after its lead-in sentence
            heading = "\n".join(x for x in (heading, text[lead[0] : lead[1]]) if x)
        body = text[start:end]
        embed = _prefix(title_for_prefix, heading) + "\n" + body
        chunks.append(Chunk("", article.id, 0, body, start, end, heading, embed, 0))
    _fit(chunks, counter, text)
    furniture = [b for b in article.blocks if b.kind == "furniture"]
    for i, c in enumerate(chunks):
        c.index = i
        c.id = f"{base}-{i:04d}"
        c.furniture = _inside(furniture, c.start, c.end)
    return chunks


def _list_leads(article: Article, max_chars: int = 300) -> list[tuple[int, int, tuple[int, int]]]:
    """(start, end, lead-in span) of each list item that follows a paragraph introducing its list
    ("… to “Make Buy American Real” by:"). A chunk that starts inside the list, past its lead-in,
    keeps the lead-in as part of its heading: it says what the items are (and names them) for the
    writer's checks and for the embedding."""
    out: list[tuple[int, int, tuple[int, int]]] = []
    lead = None
    for b in article.blocks:
        if b.kind == "para":
            body = article.text[b.start : b.end].rstrip()
            lead = (b.start, b.start + len(body)) if body.endswith(":") and len(body) <= max_chars else None
        elif b.kind == "item":
            if lead:
                out.append((b.start, b.end, lead))
        elif b.kind != "furniture":
            lead = None
    return out


def _inside(blocks: list[Block], start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of the blocks that overlap text[start:end], clipped to it."""
    return [(max(b.start, start), min(b.end, end)) for b in blocks if b.start < end and b.end > start]


def _fit(chunks: list[Chunk], counter: TokenCounter, text: str) -> None:
    """Measure the exact embedded strings; halve any chunk that still exceeds the model limit."""
    i = 0
    while i < len(chunks):
        pending = chunks[i:]
        totals = [n + counter.special for n in counter.counts([c.embed_text for c in pending])]
        for c, n in zip(pending, totals):
            c.n_tokens = n
        over = next((j for j, n in enumerate(totals) if n > counter.limit), None)
        if over is None:
            return
        j = i + over
        c = chunks[j]
        spans = sentence_spans(text, c.start, c.end)
        if len(spans) > 1:
            mid = len(spans) // 2
            parts = [(spans[0][0], spans[mid - 1][1]), (spans[mid][0], spans[-1][1])]
        else:
            cut = c.start + counter.cut_points(c.text, max(8, len(c.text.split()) // 2))[0]
            parts = [(c.start, cut), (cut + 1, c.end)]
        prefix = c.embed_text[: len(c.embed_text) - len(c.text)]
        chunks[j : j + 1] = [
            Chunk("", c.article_id, 0, text[a:b], a, b, c.heading, prefix + text[a:b], 0) for a, b in parts
        ]
        i = j
