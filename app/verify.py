"""Checking an LLM writer's answer against the passages it was given: markers out of range are
removed, every sentence must be supported by a passage it cites (`support.support_score`), and
unsupported sentences are dropped and flagged; an answer with none left becomes an abstention.
"""

from __future__ import annotations

import numpy as np

from ..ingest.split import sentence_spans
from .schema import Answer, Citation, Passage, Sentence, cited_sentences
from .support import SUPPORT_THRESHOLD, support_score


def verify(question: str, query: str, raw: str, passages: list[Passage], engine, cannot: str = "", analysis=None) -> Answer:
    """Check an LLM answer: drop out-of-range markers, keep only sentences their citations support,
    then hold what is left to the same answer check as the offline writer (`analysis` given)."""
    flags: list[str] = []
    if not raw or (cannot and cannot.lower().rstrip(".") in raw.lower()):
        return Answer.abstention(question, query, passages, "the writer said the passages do not answer it")
    lex = engine.index.lexical()
    embed = engine.embed
    numbered: dict[int, Citation] = {}
    sentences: list[Sentence] = []
    # Flags name a dropped sentence by its place in the draft, never by its words: they are shown
    # to the reader, and unverified text (a false claim, an injected URL) must not reach the screen.
    for i, (text, nums) in enumerate(cited_sentences(raw), 1):
        valid, support_n, best = sentence_support(text, nums, passages, embed, lex.idf)
        if len(valid) < len(nums):
            flags.append(f"removed out-of-range citation(s) {sorted(set(nums) - set(valid))} in sentence {i} of the writer's draft")
        supported = bool(support_n)
        if not supported:
            flags.append(f"unsupported sentence dropped (sentence {i} of the writer's draft)")
        sentences.append(Sentence(text=text, citations=support_n or valid, support=best, supported=supported))
    kept = [s for s in sentences if s.supported]
    if not kept:
        ans = Answer.abstention(question, query, passages, "no sentence of the generated answer was supported by its citations")
        ans.flags = flags
        return ans
    status, notes, missing = "answered", [], []
    if analysis is not None:
        kept, status, notes, missing = _answer_check(analysis, kept, passages)
        if status == "abstained":
            ans = Answer.abstention(question, query, passages, "no verified sentence is about what was asked", missing=missing)
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
                numbered[remap[n]] = Citation.of(remap[n], p, a, b)
            cit = numbered[remap[n]]
            span = list(_best_span(s.text, passages[n - 1], embed))
            if span not in cit.spans:
                cit.spans.append(span)
            new.append(remap[n])
        s.citations = new
        parts.append(s.text + "".join(f" [{n}]" for n in new))
    dropped = len(sentences) - len(kept)
    kept += [Sentence(text=n, citations=[], kind="note") for n in notes]
    return Answer(
        question=question, query=query, text=" ".join(parts + notes), sentences=kept,
        citations=[numbered[n] for n in sorted(numbered)], passages=passages, flags=flags,
        status=status, missing=missing,
        reason=f"{dropped} unsupported sentence(s) dropped" if dropped else "",
    )


def sentence_support(text: str, nums: list[int], passages: list[Passage], embed, idf) -> tuple[list[int], list[int], float]:
    """(markers in range, markers whose passage supports the sentence, best support) for one sentence."""
    valid = [n for n in nums if 1 <= n <= len(passages)]
    best, support_n = 0.0, []
    for n in valid:
        p = passages[n - 1]
        s = support_score(text, p.text, embed=embed, idf=idf, context=f"{p.title} {p.heading}")
        best = max(best, s)
        if s >= SUPPORT_THRESHOLD:
            support_n.append(n)
    return valid, support_n, best


def verified_prefix(raw: str, passages: list[Passage], engine, done: int) -> tuple[list[str], int]:
    """While an LLM answer streams: the complete sentences after the first `done` that their
    citations support (text without markers), and the new count of complete sentences. The last
    sentence of `raw` may still be growing, so it is never judged here; nothing else is shown."""
    sentences = cited_sentences(raw)[:-1]
    if len(sentences) <= done:
        return [], done
    lex = engine.index.lexical()
    shown = [text for text, nums in sentences[done:] if sentence_support(text, nums, passages, engine.embed, lex.idf)[1]]
    return shown, len(sentences)


def _answer_check(analysis, kept: list[Sentence], passages: list[Passage]):
    """(sentences, status, notes, missing): the answering sentence first; partial or abstained when
    no verified sentence carries what was asked, as for the offline writer."""
    from ..ingest.nlp import entities
    from .check import check

    evs = []
    for s, ents in zip(kept, entities([s.text for s in kept])):
        p = passages[s.citations[0] - 1] if s.citations else None
        evs.append(check(analysis, s.text, ents, title=p.title if p else "", heading=p.heading if p else "",
                         published=p.published if p else "", publisher=p.publisher if p else "", block=p.text if p else ""))
    answering = [i for i, ev in enumerate(evs) if ev.carries >= 0.8 and ev.coverage == 1.0]
    if answering:
        first = answering[0]
        return [kept[first]] + kept[:first] + kept[first + 1 :], "answered", [], []
    asked = analysis.asked()
    if any(ev.coverage == 1.0 for ev in evs):
        return kept, "partial", [analysis.missing_note()], [asked]
    return kept, "abstained", [], [c.text for c in analysis.required if all(c in ev.unmet for ev in evs)] or [asked]


def _best_span(sentence: str, p: Passage, embed) -> tuple[int, int]:
    spans = sentence_spans(p.text) or [(0, len(p.text))]
    vecs = embed([sentence] + [p.text[a:b] for a, b in spans])
    i = int(np.argmax(vecs[1:] @ vecs[0]))
    a, b = spans[i]
    return p.char_start + a, p.char_start + b
