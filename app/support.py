"""Does a passage support a sentence? One scorer for the answer verifier and for evaluation.

Offline and model-light: the share of the sentence's content terms (idf-weighted, numbers
must match exactly) found in the passage, blended with the embedding similarity between the
sentence and the passage's closest sentence. No NLI model ships on PyPI, so this is lexical
entailment's honest cousin: it catches invented numbers and names (a capitalised word the passage lacks caps the
score below the threshold, as a missing number does), not subtle negation.
"""

from __future__ import annotations

import re

import numpy as np

from ..ingest.lexical import tokenize
from ..ingest.split import sentence_spans

SUPPORT_THRESHOLD = 0.55
_NUMBER = re.compile(r"\d[\d,.]*")


_NAME = re.compile(r"\b[A-Z][a-z]{2,}\b")
_OPENS = ".!?:;\"“‘'(-–—•*"  # a capitalised word right after these starts a sentence, clause or quote


def _stem(word: str) -> str:
    return re.sub(r"(?:'s|’s|s)$", "", word.lower())


def _names(text: str) -> set[str]:
    """Capitalised words inside a sentence (not the first word of it, of a clause or of a quote):
    the names it asserts, stemmed ("Americans" ~ "American")."""
    text = re.sub(r"^[\W_]+", "", text.strip())
    out = set()
    for m in _NAME.finditer(text):
        before = text[: m.start()].rstrip()
        if before and before[-1] not in _OPENS:
            out.add(_stem(m.group()))
    return out


def _numbers(text: str) -> set[str]:
    return {n.rstrip(".,").replace(",", "") for n in _NUMBER.findall(text)}


def term_support(sentence: str, passage: str, idf=None) -> float:
    """Idf-weighted share of the sentence's terms present in the passage (1.0 = all there)."""
    terms = tokenize(sentence)
    if not terms:
        return 0.0
    have = set(tokenize(passage))
    weight = idf or (lambda _t: 1.0)
    total = sum(max(weight(t), 0.1) for t in terms)
    found = sum(max(weight(t), 0.1) for t in terms if t in have)
    return found / total


def support_score(sentence: str, passage: str, embed=None, idf=None, context: str = "") -> float:
    """0..1; numbers or names in the sentence that the passage (or its `context`: title and
    heading) lacks cap the score below the threshold."""
    lexical = term_support(sentence, passage, idf)
    score = lexical
    if embed is not None:
        spans = sentence_spans(passage)
        parts = [passage[a:b] for a, b in spans] or [passage]
        vecs = embed([sentence, *parts])
        cos = float(np.max(vecs[1:] @ vecs[0]))
        score = 0.6 * lexical + 0.4 * max(cos, 0.0)
    missing_numbers = _numbers(sentence) - _numbers(passage)
    missing_names = _names(sentence) - {_stem(w) for w in re.findall(r"[A-Za-z]+", f"{context} {passage}")}
    if missing_numbers or missing_names:  # an invented number or name is never "supported"
        score = min(score, SUPPORT_THRESHOLD - 0.05)
    return round(score, 4)


def supports(sentence: str, passage: str, embed=None, idf=None) -> bool:
    return support_score(sentence, passage, embed, idf) >= SUPPORT_THRESHOLD
