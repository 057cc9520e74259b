"""Follow-up questions -> standalone queries (deterministic; LLM writers may condense instead).

    >>> standalone("And dysprosium oxide?", ["What was the average price of terbium oxide in 2022?"])
    'What was the average price of dysprosium oxide in 2022?'
    >>> standalone("When was it signed?", ["What is the US-Australia critical minerals framework?"])
    'When was the US-Australia critical minerals framework signed?'

- "and X?" / "what about X?" replaces the previous question's subject with X — the name, year or
  noun phrase of the same kind as X — and keeps its predicate;
- a pronoun ("it", "they", "that facility") is replaced by what it refers to in the previous
  question; when the follow-up brings its own subject (a topic switch phrased with a pronoun),
  nothing else of the old topic comes along;
- a bare follow-up ("Why?", "Where is that facility?") carries the previous question's words in
  parentheses, for retrieval, after the question itself.

The result is the query that is searched and shown ("searched for: …").
"""

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
    "had", "much", "many", "tell", "me", "more", "also", "else", "any", "us?", "please", "than", "ok", "okay", "so",
}
_ELLIPTIC = re.compile(r"^\s*(?:ok(?:ay)?,?\s+|so,?\s+)?(?:and what about|and how about|what about|how about|what of|and|but|also|same for|as for)\b[\s,]*(?P<rest>.*?)\s*[?.!]*\s*$", re.I)
# "ok and what …", "thanks. so where …": a reply to the previous answer before the question itself
_DISCOURSE = re.compile(r"^\s*(?:(?:ok(?:ay)?|alright|all right|thanks|thank you|got it|i see|hm+|so)(?:[\s,.!;:]+|$))+", re.I)
# "new question: …", "unrelated, but …", "changing the subject —": the question stands alone
_NEW_TOPIC = re.compile(r"^\s*(?:(?:a |one )?(?:new|different|separate|unrelated|another|other) (?:question|topic|subject)|unrelated(?: question)?|"
                        r"(?:changing|switching|change|switch) (?:the )?(?:subject|topics?)|on (?:a|another) (?:different |separate )?(?:note|topic))\b"
                        r"(?:,? but)?\s*[:,;.!—–-]*\s*", re.I)
_ELLIPTIC_START = re.compile(r"^\s*(and|but|what about|how about|and what about|what of|also|same for|why|how so)\b", re.I)
_WORD = re.compile(r"[\w$%.,'’-]+")
_YEAR = re.compile(r"\b(?:(?:fiscal year|fy)\s?)?((?:19|20)\d{2})\b", re.I)
_PREP = re.compile(r"^(?:for|with|in|on|to|from|of|at|by|under)\s+", re.I)
_GROUPS = {"PERSON": "person", "ORG": "org", "GPE": "place", "LOC": "place", "FAC": "place", "NORP": "norp",
           "PRODUCT": "thing", "EVENT": "thing", "LAW": "thing", "WORK_OF_ART": "thing"}
_GENERIC = {"us", "u.s", "u.s.", "usa", "the us", "the u.s.", "united states", "the united states", "america"}
_PERSONAL = {"he", "she", "his", "her", "him"}
_PLURAL = {"they", "them", "their", "theirs"}
_ANSWER_PRONOUNS = _PERSONAL | _PLURAL | {"its"}
_ORDINALS = r"first|second|third|fourth|fifth|last|final|initial|next|other"
_ORDINAL = re.compile(rf"\b(?:{_ORDINALS})\b", re.I)
_ORDINAL_ONE = re.compile(rf"(?:the\s+)?({_ORDINALS})\s+ones?", re.I)
MAX_TURNS = 4  # earlier turns that can matter to a follow-up
OWN_SUBJECT_WORDS = 3  # content words from which a follow-up has a subject of its own
CARRIED_WEIGHT = 0.25  # the carried context's share of relevance then


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


def typed_part(query: str) -> str:
    """A standalone query without the context carried in parentheses ("Why? (MP Materials award)" -> "Why?")."""
    return query.split(" (", 1)[0].strip() if query.rstrip().endswith(")") else query.strip()


def carried_weight(query: str) -> float:
    """How much the words carried in parentheses count for a sentence's relevance: fully when the
    question leans on them ("Why?", "where does that money come from?"), a quarter when it brings
    a subject of its own ("what did they spend on mapping critical minerals?": the old topic only
    in case "they" needs it). Fitted on the tune questions (dev and probe)."""
    typed = typed_part(query)
    if typed == query.strip() or len(content_words(typed)) < OWN_SUBJECT_WORDS:
        return 1.0
    return CARRIED_WEIGHT


def is_followup(question: str) -> bool:
    words = [w.strip(".,?!").lower() for w in _WORD.findall(question)]
    if _ELLIPTIC_START.match(question):
        return True
    if any(w in _PRONOUNS for w in words):
        return True
    return len(content_words(question)) <= 1


def may_name_answer(question: str) -> bool:
    """Whether `question` has a pronoun that may stand for the previous turn's answer: "where's
    their plant?" after "who got the loan?" asks where the borrower's plant is."""
    return _has_word(question, _ANSWER_PRONOUNS)


def personal(question: str) -> bool:
    """Whether `question` refers to a person ("he", "her")."""
    return _has_word(question, _PERSONAL)


def _has_word(text: str, words: set[str]) -> bool:
    return any(w.strip(".,?!'’").lower() in words for w in _WORD.findall(text))


def standalone(question: str, history: list[str] | None, specificity=None, answer: str | None = None) -> str:
    """The query to search for: `question` made standalone against the earlier user turns.

    `answer`: the name the last turn's answer gave (a company, a person), when that turn asked
    for one; "they", "their", "he" or "its" then stand for it rather than for a noun of the
    question."""
    question = question.strip()
    rest = _DISCOURSE.sub("", question)
    if rest.strip(" ?.!"):  # "ok?" alone stays what it is
        question = rest[:1].upper() + rest[1:] if question[:1].isupper() else rest
    fresh = _NEW_TOPIC.match(question)
    if fresh and question[fresh.end() :].strip(" ?.!"):
        rest = question[fresh.end() :]
        return rest[:1].upper() + rest[1:] if question[:1].isupper() else rest
    if not history:
        return question
    previous = ""
    for turn in history[-MAX_TURNS:]:  # each earlier turn may itself be a follow-up
        previous = standalone(turn, [previous], specificity) if previous else turn.strip()
    previous = typed_part(previous)
    if not is_followup(question):
        return question
    m = _ELLIPTIC.match(question)
    if m and m.group("rest") and len(m.group("rest").split()) <= 7 and not _has_verb(m.group("rest")):
        swapped = _substitute(previous, m.group("rest"), specificity)
        if swapped:
            return swapped
    resolved, own = _resolve_pronouns(question, previous, answer)
    if resolved != question and own and not (answer and answer in resolved):
        return resolved  # a new subject of its own: the old topic stays behind
    return _carry(resolved, previous, question, specificity)


_PRONOUNS = {"he", "she", "it", "they", "him", "her", "his", "hers", "its", "them", "their", "theirs", "this", "that",
             "these", "those", "there", "one", "ones"}


def acceptable(question: str, history: list[str], rewritten: str) -> bool:
    """An LLM's standalone rewrite is used only if it keeps every content word of the question,
    adds none that the question and the earlier turns lack (no new claim, no answer), and is
    still a question, not a statement."""
    from ..ingest.lexical import tokenize

    own = set(tokenize(question)) - _PRONOUNS  # "she", "it", "that": what the rewrite resolves
    known = own | {t for turn in history for t in tokenize(turn)}
    got = set(tokenize(rewritten))
    asks = rewritten.rstrip().endswith("?") or bool(re.match(r"(?i)\s*(what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|could|will|would|should|has|have|had)\b", rewritten))
    return bool(got) and own <= got and got <= known and asks


# ---------------------------------------------------------------- "and X?"


def _nlp(text: str):
    from ..ingest.nlp import parse

    return parse(text)


def _has_verb(text: str) -> bool:
    return any(t.pos_ == "VERB" for t in _nlp(text))


def _substitute(previous: str, rest: str, specificity) -> str | None:
    """The previous question with its subject of the same kind as `rest` replaced by `rest`."""
    prep_m = _PREP.match(rest)
    x = _PREP.sub("", rest).strip(" ,")
    if not x:
        return None
    prev = _nlp(previous)
    if re.fullmatch(r"(?:(?:fiscal year|fy)\s?)?(?:19|20)\d{2}", x.strip(), re.I):
        m = next(_YEAR.finditer(previous), None)  # "FY2025" -> "FY2022": the fiscal year stays a fiscal year
        year = re.search(r"(?:19|20)\d{2}", x).group(0)
        return previous[: m.start(1)] + year + previous[m.end(1) :] if m else None
    # 1. "and for/with X?": what the same preposition governed ("… Declaration for Uzbekistan")
    if prep_m:
        prep = prep_m.group(0).strip().lower()
        for t in prev:
            if t.lower_ == prep and t.dep_ == "prep":
                objs = [c for c in t.children if c.dep_ == "pobj"]
                if objs:
                    # "and for the data center in Ghana?" after "… for the two solar projects in
                    # Angola?": X brings its own "in …", so the old object goes with all of its own
                    span = _subtree(objs[0]) if any(w.dep_ == "prep" for w in _nlp(x)) else _phrase(objs[0])
                    return previous[: span[0]] + x + previous[span[1] :]
    # 2. "the second one" after "what's in the first phase?": the ordinal changes, its noun stays
    one = _ORDINAL_ONE.fullmatch(x)
    if one:
        last = next(reversed(list(_ORDINAL.finditer(previous))), None)
        if last is not None:
            return previous[: last.start()] + one.group(1) + previous[last.end() :]
    # 3. a named entity of the same kind (not a generic "the US"), the kind read in context
    names = [e for e in prev.ents if _GROUPS.get(e.label_) and e.text.lower() not in _GENERIC]
    group = _group_of(_nlp(x))
    for e in reversed(names):
        start, end = _expand(prev, e)
        candidate = previous[:start] + x + previous[end:]
        if group == _GROUPS[e.label_] or (not group and _label_at(candidate, start, start + len(x)) == _GROUPS[e.label_]):
            return candidate
    if names and _looks_like_a_name(x):  # NER disagrees with itself on a lone name: take the last name asked about
        start, end = _expand(prev, names[-1])
        return previous[:start] + x + previous[end:]
    # 4. a noun phrase with the same head noun ("the second phase" for "the first … phase")
    head = _head(_nlp(x))
    for chunk in prev.noun_chunks:
        if head and chunk.root.lemma_.lower() == head and chunk.root.pos_ != "PRON":
            return previous[: chunk.start_char] + x + previous[chunk.end_char :]
    # 5. the most specific word of the previous question (its subject), as before
    if specificity is None:
        return None
    # the subject is a noun ("lithium", not "enough"), and no date ("Oct 2022")
    nouns = {t.text for t in prev if t.pos_ in ("NOUN", "PROPN") and t.ent_type_ not in ("DATE", "TIME")}
    words = [w for w in content_words(previous) if not w[0].isdigit() and w in nouns]
    if not words:
        return None
    top = max(words, key=specificity)
    if specificity(top) < min(specificity(w) for w in content_words(x) or [x]):
        return None
    i = previous.find(top)
    return previous[:i] + x + previous[i + len(top) :] if i >= 0 else None


def _looks_like_a_name(x: str) -> bool:
    words = [w for w in x.split() if w.lower() not in ("the", "of", "and")]
    return bool(words) and len(words) <= 5 and all(w[:1].isupper() or w.isupper() for w in words)


def _phrase(token) -> tuple[int, int]:
    """Character span of a token's noun phrase: its modifiers and conjuncts, not its clauses or
    prepositional phrases ("its Advanced Energy Manufacturing and Recycling Grant Program")."""
    keep, todo = [token], [token]
    while todo:
        t = todo.pop()
        for c in t.children:
            if c.dep_ not in ("prep", "relcl", "acl", "advcl", "punct", "appos"):
                keep.append(c)
                todo.append(c)
    doc = token.doc
    left, right = min(t.i for t in keep), max(t.i for t in keep)
    return doc[left].idx, doc[right].idx + len(doc[right].text)


def _subtree(token) -> tuple[int, int]:
    """Character span of a token's whole phrase, its prepositional phrases included."""
    sub = list(token.subtree)
    return sub[0].idx, sub[-1].idx + len(sub[-1].text)


def _expand(doc, ent) -> tuple[int, int]:
    """An entity's span widened over the proper nouns around it ("Thacker" -> "Thacker Pass")."""
    i, j = ent.start, ent.end
    while i > 0 and doc[i - 1].tag_ in ("NNP", "NNPS"):
        i -= 1
    while j < len(doc) and doc[j].tag_ in ("NNP", "NNPS"):
        j += 1
    return doc[i].idx, doc[j - 1].idx + len(doc[j - 1].text)


def _label_at(text: str, start: int, end: int) -> str:
    """The entity kind spaCy gives the span [start, end) of `text` in context, or ""."""
    for e in _nlp(text).ents:
        if e.start_char < end and start < e.end_char:
            return _GROUPS.get(e.label_, "")
    return ""


def _group_of(doc) -> str:
    for e in doc.ents:
        if _GROUPS.get(e.label_):
            return _GROUPS[e.label_]
    return ""


def _head(doc) -> str:
    nouns = [t for t in doc if t.pos_ in ("NOUN", "PROPN")]
    return nouns[-1].lemma_.lower() if nouns else ""


# ---------------------------------------------------------------- pronouns


def _resolve_pronouns(question: str, previous: str, answer: str | None = None) -> tuple[str, bool]:
    """(question with its pronouns replaced by their referents, whether it has a subject of its own).

    A pronoun is resolved once (its first mention) and only when the question itself has no
    antecedent before it ("its AI hackathons …, what are they for?": they = the hackathons)."""
    doc = _nlp(question)
    prev = _nlp(previous)
    own = [t for t in doc if t.pos_ in ("NOUN", "PROPN") and t.lower_ not in _QUESTION_WORDS and not _demonstrated(t)]
    out, pos, done = [], 0, set()
    for t in doc:
        low = t.lower_
        kind = ("it" if low in ("it", "its") or (low in ("this", "that") and t.pos_ == "PRON") else
                "they" if low in _PLURAL else "he" if low in _PERSONAL else
                "that" if low in ("that", "this", "these", "those") and t.dep_ == "det" else "")
        if not kind or kind in done:
            continue
        before = [x for x in own if x.i < t.i]
        if kind == "they" and any(x.tag_ in ("NNS", "NNPS") for x in before):
            continue  # the question's own plural noun is the antecedent
        ref = (answer if answer and (kind in ("they", "he") or low == "its") else
               _main_subject(prev, t.dep_) if kind == "it" else _plural_referent(prev) if kind == "they" else
               next((e.text for e in prev.ents if e.label_ == "PERSON"), None) if kind == "he" else _same_head(prev, t.head))
        if not ref:
            continue
        done.add(kind)
        out.append(question[pos : t.idx])
        if kind == "that":
            out.append(ref)
            pos = t.head.idx + len(t.head.text)
        else:
            out.append(ref + (("'" if ref.endswith("s") else "'s") if low in ("its", "their") else ""))
            pos = t.idx + len(t.text)
    if not out:
        return question, bool(own)
    out.append(question[pos:])
    return "".join(out), bool(own)


def _demonstrated(t) -> bool:
    return any(c.lower_ in ("that", "this", "these", "those") and c.dep_ == "det" for c in t.children)


_NAME_TYPES = frozenset(_GROUPS)


def _main_subject(prev, role: str = "") -> str | None:
    """What "it" most likely refers to: the thing the previous question asked about ("which
    smelter …"), else its noun phrase in the same role (object for an object), else its most
    specific named one."""
    asked = next((c for c in prev.noun_chunks if c[0].lower_ in ("what", "which") and len(c) > 1 and c.root.tag_ in ("NN", "NNP")
                  and c.root.pos_ in ("NOUN", "PROPN")), None)
    if asked is not None:  # "which smelter did … exempt? — which state is it in?": it is the smelter asked about
        return "the " + asked[1:].text
    chunks = [c for c in prev.noun_chunks if c.root.pos_ in ("NOUN", "PROPN") and c[0].lower_ not in ("what", "which", "who", "how", "whose")
              and c.root.tag_ not in ("NNS", "NNPS")]  # "it" is one thing: never "US chip companies"
    if role in ("dobj", "pobj"):
        objects = [c for c in chunks if c.root.dep_ == role]
        if objects:
            chunks = objects + [c for c in chunks if c not in objects]
    named = [c for c in chunks if any(t.ent_type_ in _NAME_TYPES for t in c) and c.text.lower() not in _GENERIC]
    pick = ((chunks[:1] if role in ("dobj", "pobj") and chunks and chunks[0].root.dep_ == role else []) or named or chunks or [None])[0]
    if pick is None:
        return None
    text = pick.text
    return text if text[:1].isupper() or text.lower().startswith("the ") else "the " + text


def _plural_referent(prev) -> str | None:
    ents = [e for e in prev.ents if _GROUPS.get(e.label_) in ("place", "org", "person")]
    names = [e.text for e in ents]
    # two names are "they" when the question joins them ("Australia and the US"), not when one
    # only qualifies a noun ("US chip companies … in Vietnam")
    joined = [(a, b) for a in ents for b in ents if a.start < b.start and b.root.dep_ == "conj" and b.root.head == a.root]
    if joined:
        a, b = joined[0]
        return f"{a.text} and {b.text}"
    plural = [(c[1:] if c[0].lower_ in ("what", "which") else c) for c in prev.noun_chunks
              if c.root.tag_ in ("NNS", "NNPS") and c[0].lower_ not in ("who", "how") and (len(c) > 1 or c[0].lower_ not in ("what", "which"))]
    return plural[0].text if plural else (names[0] if names else None)  # "which US chip companies …": they are US chip companies


def _same_head(prev, head) -> str | None:
    """For "that facility": the previous noun phrase whose head is "facility" (with its modifiers)."""
    lemma = head.lemma_.lower()
    for c in prev.noun_chunks:
        if c.root.lemma_.lower() == lemma:
            return c.text if c.text.lower().startswith(("the ", "a ", "an ")) or c.text[:1].isupper() else "the " + c.text
    return None


# ---------------------------------------------------------------- carrying context


def _carry(resolved: str, previous: str, question: str, specificity) -> str:
    """`resolved` plus the previous question's words it leaves implicit, in parentheses."""
    context = re.sub(r"\s*\(|\)", " ", previous)
    mine = {w.lower() for w in content_words(resolved)}
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
        return resolved
    return f"{resolved} ({' '.join(dict.fromkeys(carried))})"
