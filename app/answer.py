"""One answer path for the chat, `assay ask` and `assay eval`.

    >>> a = answer("Which countries is the US partnering with on rare earths?")
    >>> a.text                      # sentences from the articles, each followed by [n]
    >>> a.citations[0].quote        # == article text[start:end], for highlighting

The default writer is extractive: it quotes the sentences that best answer the question and
cites each. LLM writers (ASSAY_LLM / --llm) write freely and are then verified sentence by
sentence against the passages they cite; unsupported sentences are dropped and flagged.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..ingest.lexical import tokenize
from ..ingest.split import sentence_spans

from . import rewrite
from .retrieve import Engine, Filters
from .schema import Answer, Citation, Passage, Sentence
from .support import SUPPORT_THRESHOLD, support_score

MAX_SENTENCES = 4
MAX_EMBEDDED = 24  # candidate sentences embedded per answer (32 -> 24: same eval outcomes, -25% answer time)
# Calibrated on eval/questions.jsonl (see README "Abstention"): below both, the passages are
# about the topic but do not answer the question.
MIN_SENTENCE_SCORE = 0.40  # best combined sentence score ...
MIN_DENSE = 0.45  # ... unless some sentence is at least this similar to the question
MIN_TOPICAL = 0.25  # no sentence this similar: the question is off-topic for the corpus
ABSTAIN_TEXT = "The articles don't say."

_engine: Engine | None = None
_engine_lock = threading.Lock()


def default_engine() -> Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine


def set_default_engine(engine: Engine | None) -> None:
    global _engine
    with _engine_lock:
        _engine = engine


@dataclass
class _Candidate:
    passage: Passage
    rank: int
    start: int  # article offsets
    end: int
    text: str
    dense: float = 0.0
    lexical: float = 0.0
    score: float = 0.0
    covers: float = 1.0  # share of the question's key names in the sentence (or its title/heading)
    terms: frozenset = frozenset()  # its tokenize() terms, computed once


_NAME = re.compile(r"\b(?:[A-Z][\w&.-]*[A-Za-z0-9]|[A-Z]{2,}|\d{3,}[\w]*)\b")
_GENERIC_NAMES = {"US", "U.S", "U.S.", "USA", "America", "American", "United", "States", "What", "Which", "Who", "How", "Where", "When", "Why", "Is", "Are", "Does", "Did", "Do", "Can", "The", "In", "According"}


def key_terms(question: str) -> list[str]:
    """Names and numbers the question hinges on (not the first word, not generic ones)."""
    words = _NAME.findall(question)
    first = question.strip().split(" ", 1)[0]
    terms = []
    for w in words:
        if w == first or w in _GENERIC_NAMES or w.rstrip(".") in _GENERIC_NAMES:
            continue
        terms.extend(tokenize(w))
    return list(dict.fromkeys(terms))


def _in_context(c: "_Candidate") -> str:
    return "\n".join(x for x in (c.passage.title, c.passage.heading, c.text) if x)


_ANAPHOR = re.compile(r"^(?:This|These|That|Those|It|Its|They|Their|Such|The (?:same|latter|former))\b")


def _with_continuations(picked: list["_Candidate"], cands: list["_Candidate"]) -> list["_Candidate"]:
    """A picked sentence is followed by the next one when that one leans on it ("This includes…")."""
    out: list[_Candidate] = []
    for c in picked:
        if c not in out:
            out.append(c)
        nxt = next((x for x in cands if x.passage is c.passage and 0 < x.start - c.end <= 2), None)
        if nxt is not None and nxt not in out and _ANAPHOR.match(nxt.text):
            out.append(nxt)
    return out


def _candidates(passages: list[Passage]) -> list[_Candidate]:
    seen: set[tuple[str, int, int]] = set()
    out = []
    for rank, p in enumerate(passages):
        for a, b in sentence_spans(p.text):
            start, end = p.char_start + a, p.char_start + b
            key = (p.article_id, start, end)
            text = p.text[a:b]
            if key in seen or len(text.split()) < 4:
                continue  # overlapping chunks repeat sentences; fragments are not answers
            seen.add(key)
            out.append(_Candidate(p, rank, start, end, text))
    return out


def extractive(query: str, passages: list[Passage], engine: Engine, max_sentences: int = MAX_SENTENCES):
    """Pick, order and cite the sentences that best answer `query`; None if support is weak."""
    cands = _candidates(passages)
    if not cands:
        return None, 0.0
    lex = engine.index.lexical()
    qterms = list(dict.fromkeys(tokenize(query)))
    weights = {t: lex.idf(t) for t in qterms}
    total = sum(weights.values()) or 1.0
    for c in cands:
        c.terms = frozenset(tokenize(c.text))
        c.lexical = sum(w for t, w in weights.items() if t in c.terms) / total
    # Embedding every sentence is the answer's main cost: score the most promising ones only
    # (term overlap first, then passage rank); the rest stay available to complete a list.
    ranked = sorted(range(len(cands)), key=lambda i: (-cands[i].lexical, cands[i].rank))
    keep = sorted(ranked[:MAX_EMBEDDED]) if len(cands) > MAX_EMBEDDED else list(range(len(cands)))
    pool = [cands[i] for i in keep]
    # Sentences are embedded in context (title and section), like chunks, so that a sentence of
    # "§ 13344 — Rare earth elements" still matches a question that names the statute.
    vecs = engine.embed([_in_context(c) for c in pool])
    qv = engine.embed([query], cache="q")[0]
    dense = vecs @ qv
    kept = set(keep)
    rest = [c for i, c in enumerate(cands) if i not in kept]
    cands = pool + rest
    # Names the user's own question hinges on ("…with Japan?"): an answer must be about them.
    names = [t for t in key_terms(query.split(" (", 1)[0]) if not t[0].isdigit()]
    for c, d in zip(pool, dense):
        c.dense = float(d)
        c.score = 0.65 * c.dense + 0.35 * c.lexical + 0.02 / (1 + c.rank)
        if names:
            context = c.terms | set(tokenize(" ".join((c.passage.title, c.passage.heading, _date_words(c.passage.published)))))
            c.covers = sum(t in context for t in names) / len(names)
            c.score += 0.1 * c.covers
    order = sorted(range(len(pool)), key=lambda i: -cands[i].score)
    best = cands[order[0]]
    top_dense = float(dense.max())
    if top_dense < MIN_TOPICAL or (best.score < MIN_SENTENCE_SCORE and top_dense < MIN_DENSE):
        return None, best.score
    picked: list[int] = []
    for i in order:
        c = cands[i]
        if len(picked) >= max_sentences + 2 or c.score < min(best.score, max(0.8 * best.score, MIN_SENTENCE_SCORE * 0.9)):
            break
        if any(float(vecs[i] @ vecs[j]) > 0.92 for j in picked):
            continue  # says the same as a sentence already picked
        picked.append(i)
    if _asks_for_list(query):
        expanded = _expand_list([cands[i] for i in picked], cands)
        if expanded:
            return expanded, best.score
    picked = picked[:max_sentences]
    chosen = _with_continuations([cands[i] for i in picked], cands)
    # Order: articles by their best sentence, sentences in reading order within an article.
    first_seen: dict[str, int] = {}
    for pos, c in enumerate(chosen):
        first_seen.setdefault(c.passage.article_id, pos)
    chosen.sort(key=lambda c: (first_seen[c.passage.article_id], c.start))
    return chosen, best.score


_LIST_Q = re.compile(r"^\s*(?:which|what|who|name|list)\b(?:\s+\S+){0,3}?\s+(?:are|were|(?!(?:was|is|has|does|this|its|his|us|as|gas|less|thus)\b)\w+(?:ies|[^s\W]s))\b", re.I)
_LABEL = re.compile(r"^[A-Z][^:.!?\n]{1,48}:\s+\S")
MAX_LIST_ITEMS = 8


def _asks_for_list(question: str) -> bool:
    """'Which countries…', 'What are the challenges…': the answer is an enumeration."""
    return bool(_LIST_Q.search(question))


def _list_groups(p: Passage) -> list[list[tuple[int, int]]]:
    """Runs of ≥2 sibling lines in a passage: "Label: text" paragraphs or list items (article offsets)."""
    groups, run = [], []
    pos = 0
    for line in p.text.split("\n"):
        span = (p.char_start + pos, p.char_start + pos + len(line))
        pos += len(line) + 1
        if not line.strip():
            continue
        head = line.split(":", 1)[0]
        label = _LABEL.match(line) and len(head.split()) <= 5 and not any(ch in head for ch in ",;—0123456789")
        if label:
            run.append(span)
        else:
            if len(run) >= 2:
                groups.append(run)
            run = []
    if len(run) >= 2:
        groups.append(run)
    return groups


def _expand_list(picked: list[_Candidate], cands: list[_Candidate]) -> list[_Candidate] | None:
    """Answer with a whole list (one sentence per item) when the picks show the list is the answer:
    a picked sentence opens it ("…several challenges remain:"), or two picks fall in it, or a pick
    in it plus its lead-in sentence."""
    for c in picked:
        for group in _list_groups(c.passage):
            inside = [x for x in picked if x.passage is c.passage and any(a <= x.start < b for a, b in group)]
            lead = next((x for x in picked if x.passage is c.passage and 0 <= group[0][0] - x.end <= 3), None)
            opens = lead is not None and lead.text.rstrip().endswith(":")
            if not (opens or len(inside) >= 2 or (inside and lead is not None)):
                continue
            if not any(x in picked[:2] for x in [*inside, lead]):
                continue  # a list further down the ranking is not what was asked
            items = []
            for a, b in group[:MAX_LIST_ITEMS]:
                first = next((x for x in cands if x.passage is c.passage and a <= x.start < b), None)
                if first is not None:
                    items.append(first)
            return ([lead] if lead else []) + items
    return None


def _cite(chosen: list[_Candidate]) -> tuple[str, list[Sentence], list[Citation]]:
    citations: dict[str, Citation] = {}
    sentences, parts = [], []
    for c in chosen:
        p = c.passage
        cit = citations.get(p.chunk_id)
        if cit is None:
            cit = Citation(
                n=len(citations) + 1, chunk_id=p.chunk_id, article_id=p.article_id, title=p.title,
                published=p.published, publisher=p.publisher, source_url=p.source_url,
                start=c.start, end=c.end, quote=c.text, passage_start=p.char_start,
                passage_end=p.char_end, passage_text=p.text,
            )
            citations[p.chunk_id] = cit
        cit.spans.append([c.start, c.end])
        sentences.append(Sentence(text=c.text, citations=[cit.n], support=1.0, start=c.start, end=c.end, article_id=p.article_id))
        parts.append(f"{c.text} [{cit.n}]")
    return " ".join(parts), sentences, list(citations.values())


def _abstain(question: str, query: str, passages: list[Passage], reason: str) -> Answer:
    searched = f"searched {len(passages)} passages for “{query}”" if passages else f"searched for “{query}”, nothing matched"
    return Answer(
        question=question, query=query, abstained=True, passages=passages, related=passages[:3],
        text=f"{ABSTAIN_TEXT} I {searched}; the closest passages are listed as related, but they do not answer it.",
        reason=reason,
    )


def answer(
    question: str,
    history: list[str] | None = None,
    *,
    k: int = 6,
    llm: str | None = None,
    engine: Engine | None = None,
    filters: Filters | None = None,
) -> Answer:
    """Answer `question` (a follow-up of `history`'s user turns) from the indexed articles."""
    result = None
    for event in stream_answer(question, history, k=k, llm=llm, engine=engine, filters=filters):
        if isinstance(event, Answer):
            result = event
    assert result is not None
    return result


def stream_answer(
    question: str,
    history: list[str] | None = None,
    *,
    k: int = 6,
    llm: str | None = None,
    engine: Engine | None = None,
    filters: Filters | None = None,
) -> Iterator[str | Answer]:
    """Yield text deltas while writing (LLM writers), then the final verified `Answer`."""
    engine = engine or default_engine()
    t0 = time.perf_counter()
    question = (question or "").strip()
    if not question:
        yield Answer(question="", query="", text="Ask a question about the articles.", abstained=True, reason="empty question")
        return
    timings: dict = {}
    if llm and history:
        from .llm import condense_question, parse_spec

        query = condense_question(parse_spec(llm), question, history)
    else:
        query = rewrite.standalone(question, history, specificity=_specificity(engine))
    passages = engine.retrieve(query, k=k, filters=filters, timings=timings)
    t1 = time.perf_counter()
    if not passages:
        ans = _abstain(question, query, passages, "no passages matched")
    else:
        missing = _missing_terms(question, passages)  # the user's own words, not carried context
        if missing:
            ans = _abstain(question, query, passages, f"the articles found do not mention {', '.join(missing)}")
        elif llm:
            ans = yield from _llm_answer(question, query, passages, llm, engine)
        else:
            chosen, best = extractive(query, passages, engine)
            if not chosen:
                ans = _abstain(question, query, passages, f"weak support (best sentence score {best:.2f})")
            else:
                text, sentences, citations = _cite(chosen)
                ans = Answer(question=question, query=query, text=text, sentences=sentences, citations=citations, passages=passages)
                yield text
    t2 = time.perf_counter()
    ans.question, ans.query = question, query
    ans.passages = passages
    ans.writer = llm.split(":", 1)[0] if llm else "extractive"
    ans.timings = {"retrieve": t1 - t0, "write": t2 - t1, "total": t2 - t0, **{k_: v for k_, v in timings.items() if k_ != "retrieve"}}
    yield ans


def _specificity(engine: Engine):
    """How rare a word is in the indexed articles (idf of its first term; unknown words count as rare)."""

    def score(word: str) -> float:
        terms = tokenize(word)
        if not terms:
            return 0.0
        lex = engine.index.lexical()
        return lex.idf(terms[0]) if terms[0] in lex.bm25.vocab_dict else 99.0

    return score


def _missing_terms(query: str, passages: list[Passage]) -> list[str]:
    """Key names/numbers of the question that no retrieved passage mentions at all."""
    terms = key_terms(query)
    if not terms:
        return []
    have: set[str] = set()
    for p in passages:
        have.update(tokenize(" ".join((p.title, p.heading, p.text, p.publisher, _date_words(p.published)))))
    missing = [t for t in terms if t not in have]
    if len(missing) * 2 >= len(terms) or any(t[0].isdigit() for t in missing):
        return missing
    return []


_MONTHS = "January February March April May June July August September October November December".split()


def _date_words(day: str) -> str:
    """"2025-04-15" -> "2025 April": a question may name the date an article carries."""
    parts = (day or "").split("-")
    if len(parts) >= 2 and parts[1].isdigit() and 1 <= int(parts[1]) <= 12:
        return f"{parts[0]} {_MONTHS[int(parts[1]) - 1]}"
    return parts[0]


_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


def split_cited(text: str) -> list[tuple[str, list[int]]]:
    """LLM text -> [(sentence without markers, [n, ...])]; markers attach to the sentence before them."""
    out = []
    for a, b in sentence_spans(text):
        chunk = text[a:b]
        nums = [int(x) for m in _MARKER.finditer(chunk) for x in m.group(1).split(",")]
        clean = _MARKER.sub("", chunk).strip()
        if clean:
            out.append((clean, list(dict.fromkeys(nums))))
        elif nums and out:  # markers that ended up after the sentence boundary
            out[-1][1].extend(n for n in nums if n not in out[-1][1])
    return out


def _llm_answer(question: str, query: str, passages: list[Passage], llm: str, engine: Engine):
    from .llm import LLMError, parse_spec
    from .llm import stream_answer as llm_stream
    from .prompts import CANNOT_ANSWER

    spec = parse_spec(llm)
    pieces: list[str] = []
    try:
        for delta in llm_stream(spec, question if query == question else query, passages):
            pieces.append(delta)
            yield delta
    except LLMError as e:
        ans = _abstain(question, query, passages, str(e))
        ans.flags.append(f"llm error: {e}")
        return ans
    raw = "".join(pieces).strip()
    return verify(question, query, raw, passages, engine, cannot=CANNOT_ANSWER)


def verify(question: str, query: str, raw: str, passages: list[Passage], engine: Engine, cannot: str = "") -> Answer:
    """Check an LLM answer: drop out-of-range markers, keep only sentences their citations support."""
    flags: list[str] = []
    if not raw or (cannot and cannot.lower().rstrip(".") in raw.lower()):
        return _abstain(question, query, passages, "the writer said the passages do not answer it")
    lex = engine.index.lexical()
    embed = engine.embed
    numbered: dict[int, Citation] = {}
    sentences: list[Sentence] = []
    for text, nums in split_cited(raw):
        valid = [n for n in nums if 1 <= n <= len(passages)]
        if len(valid) < len(nums):
            flags.append(f"removed out-of-range citation(s) {sorted(set(nums) - set(valid))} in: {text[:60]}")
        best, support_n = 0.0, []
        for n in valid:
            s = support_score(text, passages[n - 1].text, embed=embed, idf=lex.idf)
            best = max(best, s)
            if s >= SUPPORT_THRESHOLD:
                support_n.append(n)
        supported = bool(support_n)
        if not supported:
            flags.append(f"unsupported sentence dropped: {text[:80]}")
        sentences.append(Sentence(text=text, citations=support_n or valid, support=best, supported=supported))
    kept = [s for s in sentences if s.supported]
    if not kept:
        ans = _abstain(question, query, passages, "no sentence of the generated answer was supported by its citations")
        ans.flags = flags
        return ans
    # Renumber citations in order of first use, pointing at the passage's best-matching sentence.
    remap: dict[int, int] = {}
    parts = []
    for s in kept:
        new = []
        for n in s.citations:
            if n not in remap:
                remap[n] = len(remap) + 1
                p = passages[n - 1]
                a, b = _best_span(s.text, p, embed)
                numbered[remap[n]] = Citation(
                    n=remap[n], chunk_id=p.chunk_id, article_id=p.article_id, title=p.title, published=p.published,
                    publisher=p.publisher, source_url=p.source_url, start=a, end=b,
                    quote=p.text[a - p.char_start : b - p.char_start], passage_start=p.char_start,
                    passage_end=p.char_end, passage_text=p.text,
                )
            cit = numbered[remap[n]]
            span = list(_best_span(s.text, passages[n - 1], embed))
            if span not in cit.spans:
                cit.spans.append(span)
            new.append(remap[n])
        s.citations = new
        parts.append(s.text + "".join(f" [{n}]" for n in new))
    dropped = len(sentences) - len(kept)
    return Answer(
        question=question, query=query, text=" ".join(parts), sentences=kept,
        citations=[numbered[n] for n in sorted(numbered)], passages=passages, flags=flags,
        reason=f"{dropped} unsupported sentence(s) dropped" if dropped else "",
    )


def _best_span(sentence: str, p: Passage, embed) -> tuple[int, int]:
    spans = sentence_spans(p.text) or [(0, len(p.text))]
    vecs = embed([sentence] + [p.text[a:b] for a, b in spans])
    i = int(np.argmax(vecs[1:] @ vecs[0]))
    a, b = spans[i]
    return p.char_start + a, p.char_start + b
