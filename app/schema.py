"""What `answer()` returns. The chat, `assay ask` and `assay eval` all read these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    score: float = 0.0  # fused retrieval score
    dense_rank: int | None = None  # 1-based rank on each side, None if absent there
    lexical_rank: int | None = None


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


@dataclass
class Sentence:
    text: str  # without its markers
    citations: list[int]  # the n of each citation after it
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
    abstained: bool = False
    reason: str = ""  # why it abstained, or notes such as "2 unsupported sentences dropped"
    related: list[Passage] = field(default_factory=list)  # closest passages when abstaining
    writer: str = "extractive"
    timings: dict = field(default_factory=dict)  # seconds: retrieve, write, total
    flags: list[str] = field(default_factory=list)  # verifier notes shown by UI and eval

    def to_dict(self) -> dict:
        return asdict(self)
