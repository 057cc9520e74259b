"""One answer path for the chat, `assay ask` and `assay eval`.

    >>> a = answer("Which countries is the US partnering with on rare earths?")
    >>> a.text                      # sentences from the articles, each followed by [n]
    >>> a.citations[0].quote        # == article text[start:end], for highlighting

The default writer is extractive: it quotes the sentences that best answer the question and
cites each. LLM writers (ASSAY_LLM / --llm) write freely and are then verified sentence by
sentence against the passages they cite; unsupported sentences are dropped and flagged.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

from ..ingest.lexical import tokenize
from . import limits, rewrite
from .check import answer_name
from .extractive import Draft, cite, write
from .question import analyze, spelled
from .retrieve import Engine, Filters
from .schema import Answer, Passage


_engine: Engine | None = None
_engine_lock = threading.Lock()


def default_engine() -> Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine


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
    """Yield text deltas while writing (LLM writers), then the final checked `Answer`."""
    try:
        question, history, cuts = limits.bound(question, history)
        k = limits.check_k(k)
    except limits.InputRefused as e:  # the same caps and words in the CLI, /ask and the chat
        q = question.strip() if isinstance(question, str) else ""
        yield Answer(question=q[:200], query="", text=f"Not answered: {e}.", abstained=True, status="abstained", reason=str(e), flags=["refused"])
        return
    if not question:
        yield Answer(question="", query="", text="Ask a question about the articles.", abstained=True, status="abstained", reason="empty question")
        return
    engine = engine or default_engine()
    t0 = time.perf_counter()
    timings: dict = {}
    if llm and history and rewrite.is_followup(question):
        from .llm import condense_question, parse_spec

        query = condense_question(parse_spec(llm), question, history, settings=engine.settings)
        if not rewrite.acceptable(question, history, query):  # a claim, an answer, a lost word: not searched
            query = _standalone(question, history, k, engine, filters)
    else:
        query = _standalone(question, history, k, engine, filters)
    query, analysis, passages = search(question, query, k, engine, filters, timings)
    t1 = time.perf_counter()
    if not passages:
        ans = Answer.abstention(question, query, passages, "no passages matched")
    else:
        if llm:
            ans = yield from _llm_answer(question, query, passages, llm, engine, analysis)
        else:
            ans = from_draft(question, query, passages, write(analysis, query, passages, engine))
            if not ans.abstained:
                yield ans.text
    t2 = time.perf_counter()
    ans.question, ans.query = question, query
    ans.passages = passages
    ans.writer = llm.split(":", 1)[0] if llm else "extractive"
    ans.flags = [*ans.flags, *cuts]
    ans.timings = {"retrieve": t1 - t0 - timings.get("analyze", 0.0), "write": t2 - t1, "total": t2 - t0, **{k_: v for k_, v in timings.items() if k_ != "retrieve"}}
    yield ans


def search(question: str, query: str, k: int, engine: Engine, filters: Filters | None = None, timings: dict | None = None):
    """(query, analysis, passages) for `query`, the standalone form of `question`: the query as
    searched, put right where the index spells a word otherwise ("GlobalFoundires"), its analysis,
    and the passages retrieved for it."""
    t = time.perf_counter()
    analysis = analyze(query, engine.index.lexical(), typed=question if query != question else None)
    if timings is not None:
        timings["analyze"] = time.perf_counter() - t
    query = spelled(query, analysis.corrected)
    return query, analysis, engine.retrieve(query, k=k, filters=filters, timings=timings)


def from_draft(question: str, query: str, passages: list[Passage], draft: Draft) -> Answer:
    """The writer's draft as an Answer: cited text for answered/partial, an abstention otherwise."""
    if draft.status == "abstained":
        return Answer.abstention(question, query, passages, draft.reason, missing=draft.missing, note=" ".join(draft.notes))
    text, sentences, citations = cite(draft)
    return Answer(question=question, query=query, text=text, sentences=sentences, citations=citations, passages=passages,
                  status=draft.status, missing=draft.missing, confidence=draft.confidence, reason=draft.reason)


def _standalone(question: str, history: list[str] | None, k: int, engine: Engine, filters: Filters | None) -> str:
    """The query to search: the question made standalone, its pronouns read against the last answer too."""
    return rewrite.standalone(question, history, specificity=_specificity(engine),
                              answer=_answer_name(question, history, k, engine, filters))


def _answer_name(question: str, history: list[str] | None, k: int, engine: Engine, filters: Filters | None) -> str | None:
    """The company or person that answered the last turn, when `question` may refer to it by a
    pronoun ("who got the $102 million loan?" -> Syrah Resources, so "where's their plant?" asks
    where Syrah's plant is). The conversation holds user turns only, so the last turn is answered
    again (its own pronouns resolved as usual); None when it asked for no one or went unanswered."""
    if not history or not rewrite.may_name_answer(question):
        return None
    query = rewrite.standalone(history[-1], history[:-1], specificity=_specificity(engine))
    analysis = analyze(query, engine.index.lexical(), typed=history[-1] if query != history[-1] else None)
    if analysis.atype not in ("person", "organization"):
        return None
    query = spelled(query, analysis.corrected)
    passages = engine.retrieve(query, k=k, filters=filters)
    draft = write(analysis, query, passages, engine) if passages else None
    if not draft or draft.status != "answered" or not draft.chosen:
        return None
    lead = draft.chosen[0]
    return answer_name(analysis, lead.text, lead.ents, "PERSON" if rewrite.personal(question) else "ORG") or None


def _specificity(engine: Engine):
    """How rare a word is in the indexed articles (idf of its first term; unknown words count as rare)."""

    def score(word: str) -> float:
        terms = tokenize(word)
        if not terms:
            return 0.0
        lex = engine.index.lexical()
        return lex.idf(terms[0]) if terms[0] in lex else 99.0

    return score


def _llm_answer(question: str, query: str, passages: list[Passage], llm: str, engine: Engine, analysis):
    from .llm import LLMError, parse_spec
    from .llm import stream_answer as llm_stream
    from .prompts import CANNOT_ANSWER
    from .verify import verified_prefix, verify

    spec = parse_spec(llm)
    pieces: list[str] = []
    judged, shown = 0, 0
    try:
        # Only sentences that pass the support check are streamed (without markers; the final
        # Answer numbers its citations): raw model output never reaches the reader.
        for delta in llm_stream(spec, question if query == question else query, passages, settings=engine.settings):
            pieces.append(delta)
            if any(ch in delta for ch in ".!?\n"):
                ok, judged = verified_prefix("".join(pieces), passages, engine, judged)
                for text in ok:
                    yield ("" if not shown else " ") + text
                    shown += 1
    except LLMError as e:
        ans = Answer.abstention(question, query, passages, str(e))
        ans.flags.append(f"llm error: {e}")
        return ans
    raw = "".join(pieces).strip()
    return verify(question, query, raw, passages, engine, cannot=CANNOT_ANSWER, analysis=analysis)
