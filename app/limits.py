"""Bounded work per request (issue 15): the same caps on what one question may carry, in the CLI,
the `/ask` API and the chat. One home for the numbers and for the messages that name them."""

from __future__ import annotations

MAX_QUESTION_CHARS = 2000  # a question longer than this is refused, not cut (its end may be the point)
MAX_HISTORY_TURNS = 20  # earlier user turns kept (the follow-up rewrite reads only the last few)
MAX_TURN_CHARS = 2000  # each kept turn is cut to this
MAX_K = 50  # passages one question may retrieve


class InputRefused(ValueError):
    """A request outside the caps; the message says what to change."""


def check_k(k) -> int:
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise InputRefused(f"k must be a whole number of passages (1-{MAX_K}), not {k!r}") from None
    if not 1 <= k <= MAX_K:
        raise InputRefused(f"k must be between 1 and {MAX_K} passages, not {k}")
    return k


def bound(question: str, history: list[str] | None) -> tuple[str, list[str], list[str]]:
    """(question, history, notes): the history cut to the caps, with a note for each cut.
    Raises InputRefused for a question over MAX_QUESTION_CHARS."""
    question = (question or "").strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise InputRefused(f"the question is {len(question):,} characters long; Assay reads questions of up to "
                           f"{MAX_QUESTION_CHARS:,} characters — shorten it")
    turns = [t for t in (history or []) if isinstance(t, str) and t.strip()]
    notes = []
    if len(turns) > MAX_HISTORY_TURNS:
        notes.append(f"history cut: only the last {MAX_HISTORY_TURNS} of {len(turns)} earlier questions are used")
        turns = turns[-MAX_HISTORY_TURNS:]
    if any(len(t) > MAX_TURN_CHARS for t in turns):
        notes.append(f"history cut: earlier questions are read up to {MAX_TURN_CHARS:,} characters each")
        turns = [t[:MAX_TURN_CHARS] for t in turns]
    return question, turns, notes
