"""What `answer()` returns, and the `[n]` citation-marker grammar. The chat, `assay ask` and
`assay eval` all read these."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

# "[1]", "[1, 2]" (and "[1][2]" as two markers): the one grammar for citation markers in answer text.
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
ABSTAIN_TEXT = "The articles don't say."
MARKER_WITH_SPACE = re.compile(r"\s*" + MARKER.pattern)  # a marker with the space before it


def marker_numbers(text: str) -> list[int]:
    """All citation numbers in `text`, in order of appearance."""
    return [int(n) for group in MARKER.findall(text or "") for n in group.split(",")]


def strip_markers(text: str) -> str:
    """`text` without its citation markers (and the spaces before them)."""
    return MARKER_WITH_SPACE.sub("", text or "")


_AFTER_STOP = re.compile(r"([.!?])((?:" + MARKER_WITH_SPACE.pattern + r")+)")


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Answer text -> [(sentence without markers, [n, ...] without repeats)].

    A marker belongs to the sentence before it, also when it follows the full stop
    ("… California. [2] Lynas …"). Used by the LLM verifier and by evaluation alike.
    """
    from ..ingest.split import sentence_spans

    text = _AFTER_STOP.sub(r"\2\1", (text or "").strip())
    out = []
    for a, b in sentence_spans(text):
        chunk = text[a:b]
        nums = list(dict.fromkeys(marker_numbers(chunk)))
        clean = " ".join(strip_markers(chunk).split())
        if clean:
            out.append((clean, nums))
        elif nums and out:
            out[-1][1].extend(n for n in nums if n not in out[-1][1])
    return out


def upload_note(uploaded: str) -> str:
    """How every view names an uploaded source (its title, publisher and URL are the uploader's
    word, so it must never pass for an article of the corpus); "" for corpus articles."""
    return f"uploaded {uploaded} via the chat, not from the corpus folder" if uploaded else ""


@dataclass
class Passage:
    """A retrieved chunk as the writer saw it."""

    chunk_id: str
    article_id: str
    text: str
    char_start: int  # span of `text` in the cleaned article text
    char_end: int
    title: str = ""
    heading: str = ""
    published: str = ""  # YYYY-MM-DD or ""
    publisher: str = ""
    source_url: str = ""
    author: str = ""
    uploaded: str = ""  # YYYY-MM-DD when the article came in through the chat's upload, else ""
    score: float = 0.0  # fused retrieval score
    dense_rank: int | None = None  # 1-based rank on each side, None if absent there
    lexical_rank: int | None = None
    ents: list = field(default_factory=list)  # named-entity spans (start, end, label) in `text`, found at ingest
    furniture: list = field(default_factory=list)  # spans of `text` (article offsets) that are never quoted: memo headers, signatures


@dataclass
class Citation:
    """`[n]` in the answer text resolves to this."""

    n: int
    chunk_id: str
    article_id: str
    title: str
    published: str
    publisher: str
    source_url: str
    start: int  # exact span of the supporting sentence in the cleaned article text
    end: int
    quote: str  # article_text[start:end]
    passage_start: int  # span of the whole passage, for context around the highlight
    passage_end: int
    passage_text: str
    spans: list[list[int]] = field(default_factory=list)  # every sentence this passage supports in the answer
    uploaded: str = ""  # an upload, not a corpus source: see upload_note()

    @property
    def origin(self) -> str:
        return upload_note(self.uploaded)

    @classmethod
    def of(cls, n: int, p: Passage, start: int, end: int) -> "Citation":
        """Citation `n` of passage `p`, quoting the article span [start, end) (inside the passage)."""
        return cls(
            n=n, chunk_id=p.chunk_id, article_id=p.article_id, title=p.title, published=p.published,
            publisher=p.publisher, source_url=p.source_url, start=start, end=end,
            quote=p.text[start - p.char_start : end - p.char_start], passage_start=p.char_start,
            passage_end=p.char_end, passage_text=p.text, uploaded=p.uploaded,
        )


@dataclass
class Sentence:
    text: str  # without its markers
    citations: list[int]  # the n of each citation after it
    kind: str = "answer"  # "answer" (leads), "support" (adds an asked-for fact), "item" (a list item), "note" (Assay's own words, e.g. "They don't say ...": no citation)
    start: int = -1  # extractive writer: exact span of the sentence in its article (-1 for LLM text)
    end: int = -1
    article_id: str = ""
    support: float = 1.0  # best support score against its cited passages
    supported: bool = True  # False: the verifier flagged it (LLM writers only)


@dataclass
class Answer:
    question: str
    query: str  # the standalone query that was searched (follow-ups rewritten)
    text: str  # answer with [n] markers; for an abstention, the abstention message
    sentences: list[Sentence] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)  # everything the writer saw, in rank order
    abstained: bool = False  # True exactly when status == "abstained"
    status: str = "answered"  # "answered" | "partial" (says what the articles say and what they don't) | "abstained"
    missing: list[str] = field(default_factory=list)  # what was asked and not found ("how many jobs the plant will create", "Mongolia")
    confidence: float = 0.0  # 0..1: how well the best sentence answers the question (thresholded for the outcome)
    reason: str = ""  # why it abstained, or notes such as "2 unsupported sentences dropped"
    related: list[Passage] = field(default_factory=list)  # closest passages when abstaining
    writer: str = "extractive"
    timings: dict = field(default_factory=dict)  # seconds: retrieve, write, total
    flags: list[str] = field(default_factory=list)  # verifier notes shown by UI and eval

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def abstention(cls, question: str, query: str, passages: list[Passage], reason: str, *,
                   missing: list[str] | None = None, note: str = "") -> "Answer":
        """'The articles don't say', what is missing, what was searched, and the closest passages as related."""
        searched = f"searched {len(passages)} passages for “{query}”" if passages else f"searched for “{query}”, nothing matched"
        head = note or (f"The articles don't say {missing[0]}." if missing and len(missing) == 1 and " " in missing[0]
                        else f"The articles don't say anything about {', '.join(missing)}." if missing else ABSTAIN_TEXT)
        return cls(
            question=question, query=query, abstained=True, status="abstained", passages=passages, related=passages[:3],
            text=f"{head} I {searched}; the closest passages are listed as related, but they do not answer it.",
            reason=reason, missing=list(missing or []),
        )
