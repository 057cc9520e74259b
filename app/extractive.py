"""The offline writer: pick, order and cite the sentences of the retrieved passages that answer
the question. Every quoted sentence is an exact span of its article, so each citation highlights
the words the answer rests on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..ingest.lexical import tokenize
from ..ingest.split import sentence_spans
from .schema import Citation, Passage, Sentence

MAX_SENTENCES = 4
MAX_EMBEDDED = 24  # candidate sentences embedded per answer (32 -> 24: same eval outcomes, -25% answer time)
# Calibrated on eval/questions.jsonl (see README "Abstention"): below both, the passages are
# about the topic but do not answer the question.
MIN_SENTENCE_SCORE = 0.40  # best combined sentence score ...
MIN_DENSE = 0.45  # ... unless some sentence is at least this similar to the question
MIN_TOPICAL = 0.25  # no sentence this similar: the question is off-topic for the corpus


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


def extractive(query: str, passages: list[Passage], engine, max_sentences: int = MAX_SENTENCES):
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
            context = c.terms | set(tokenize(" ".join((c.passage.title, c.passage.heading, date_words(c.passage.published)))))
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
            cit = citations[p.chunk_id] = Citation.of(len(citations) + 1, p, c.start, c.end)
        cit.spans.append([c.start, c.end])
        sentences.append(Sentence(text=c.text, citations=[cit.n], support=1.0, start=c.start, end=c.end, article_id=p.article_id))
        parts.append(f"{c.text} [{cit.n}]")
    return " ".join(parts), sentences, list(citations.values())


_MONTHS = "January February March April May June July August September October November December".split()


def date_words(day: str) -> str:
    """"2025-04-15" -> "2025 April": a question may name the date an article carries."""
    parts = (day or "").split("-")
    if len(parts) >= 2 and parts[1].isdigit() and 1 <= int(parts[1]) <= 12:
        return f"{parts[0]} {_MONTHS[int(parts[1]) - 1]}"
    return parts[0]
