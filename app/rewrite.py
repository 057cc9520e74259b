"""Follow-up questions -> standalone queries (deterministic; LLM writers may condense instead)."""

from __future__ import annotations

import re

_PRONOUNS = {
    "it", "its", "it's", "that", "this", "these", "those", "they", "them", "their", "theirs",
    "there", "he", "she", "his", "her", "him", "one", "ones", "such", "same",
}
_QUESTION_WORDS = {
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was", "were",
    "do", "does", "did", "can", "could", "will", "would", "should", "the", "a", "an", "of", "on", "in",
    "to", "for", "and", "or", "with", "about", "by", "from", "at", "as", "be", "been", "has", "have",
    "had", "much", "many", "tell", "me", "more", "also", "else", "any", "us?", "please", "than",
}
_ELLIPTIC_START = re.compile(r"^\s*(and|but|what about|how about|and what about|what of|also|same for|why|how so)\b", re.I)
_WORD = re.compile(r"[\w$%.,'’-]+")


def content_words(text: str) -> list[str]:
    """Words of a question that carry its subject (question words and pronouns removed)."""
    out = []
    for w in _WORD.findall(text):
        w = w.strip(".,?!'’")
        lw = w.lower()
        if not w or lw in _QUESTION_WORDS or lw in _PRONOUNS:
            continue
        out.append(w)
    return out


def is_followup(question: str) -> bool:
    words = [w.strip(".,?!").lower() for w in _WORD.findall(question)]
    if _ELLIPTIC_START.match(question):
        return True
    if any(w in _PRONOUNS for w in words):
        return True
    return len(content_words(question)) <= 1


def standalone(question: str, history: list[str] | None, specificity=None) -> str:
    """The query to search for: `question` plus the subject it leaves implicit, if it is a follow-up.

    >>> standalone("Where is that facility?", ["What did the Department of Defense award MP Materials?"])
    'Where is that facility? (Department Defense award MP Materials)'
    """
    if not history:
        return question.strip()
    previous = ""
    for turn in history:  # each earlier turn may itself be a follow-up
        previous = standalone(turn, [previous] if previous else None, specificity) if previous else turn.strip()
    if not is_followup(question):
        return question.strip()
    context = re.sub(r"\s*\(|\)", " ", previous)
    mine = {w.lower() for w in content_words(question)}
    carried = [w for w in content_words(context) if w.lower() not in mine]
    if specificity and mine and _ELLIPTIC_START.match(question):
        # "And dysprosium oxide?" after a question about terbium oxide: the new subject replaces
        # the old one — the most specific carried word(s) — while "average price 2022" stays.
        words = [w for w in carried if not w[0].isdigit()]
        if words:
            top = max(specificity(w) for w in words)
            if top >= min(specificity(w) for w in content_words(question)):
                carried = [w for w in carried if w[0].isdigit() or specificity(w) < top]
    if not carried:
        return question.strip()
    return f"{question.strip()} ({' '.join(dict.fromkeys(carried))})"
