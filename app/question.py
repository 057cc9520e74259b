"""Question analysis: what kind of answer is asked for, about what, and under which constraints.

    >>> a = analyze("How many jobs will E-VAC Magnetics' South Carolina plant create?")
    >>> a.atype, a.focus, [c.text for c in a.constraints]
    ('quantity', 'job', ['E-VAC Magnetics', 'South Carolina'])

- `atype`, the expected answer type: money, quantity (a count tied to its noun, the focus),
  percent, date, person, organization, place, reason, list, yesno or description;
- `focus`: the head noun of what is asked ("how many *jobs*", "which *company*", the *price*);
- `constraints`: the names (people, organisations, places, agreements) and years the answer must
  be about. Names come from spaCy's NER on the question, from its proper-noun runs, and from the
  index's own entity vocabulary matched case-insensitively, so "what did the department of energy
  give acme minerals in texas?" finds all three names; words the index does not know are first
  corrected against its vocabulary ("califronia" -> california). An ordinal ("the *second* phase")
  is a soft constraint: a sentence about that one leads, one about another one never answers.

The analysis is language-level only (spaCy's tokens, tags, lemmas and entities); whether a
sentence answers is decided in check.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..ingest.lexical import entity_key, tokenize
from .rewrite import typed_part

ATYPES = ("money", "quantity", "percent", "date", "person", "organization", "place", "reason", "use", "list", "yesno", "description")

# Head nouns that say which type an answer is ("the average *price*", "which *company*").
_FOCUS_TYPE = {
    **dict.fromkeys("price cost value worth amount budget funding fund investment financing loan grant award "
                    "subsidy money spending contribution appropriation payment commitment capital revenue sum "
                    "dollar deal rebate incentive".split(), "money"),
    **dict.fromkeys("percentage percent share proportion fraction rate".split(), "percent"),
    **dict.fromkeys("date year month day deadline time period".split(), "date"),
    **dict.fromkeys("person official minister president secretary leader ceo chair chairman head "
                    "director envoy ambassador founder representative executive chief governor mayor premier "
                    "senator administrator spokesperson".split(), "person"),
    **dict.fromkeys("company companies firm organization organisation agency department office body bank group "
                    "entity institution university program programme council commission ministry producer "
                    "manufacturer corporation business forum partnership".split(), "organization"),
    **dict.fromkeys("country state city region province site location place port county territory nation "
                    "area town continent".split(), "place"),
    **dict.fromkeys("reason purpose cause motive goal aim objective".split(), "reason"),
    # a country or a body: "which partner", "which members"
    **dict.fromkeys("partner ally member participant supplier buyer customer investor signatory".split(), "organization"),
    **dict.fromkeys("number count capacity output production size volume length population area total quantity "
                    "tonnage weight height depth distance".split(), "quantity"),
}
_MONEY_VERBS = frozenset("invest spend cost award pay fund provide commit allocate loan grant raise worth price "
                         "appropriate authorize contribute offer finance mobilize pledge chip receive get give "
                         "announce secure close lend".split())
# "what did they spend on X?": what is spent, paid, lent is an amount ("what did DOD award X" may be a contract)
_AMOUNT_VERBS = frozenset("spend cost pay invest lend loan charge budget pledge contribute allocate appropriate".split())
_TIME_UNITS = frozenset("day week month year hour decade".split())
_YESNO_START = frozenset("is are was were do does did can could will would has have had should may must shall".split())
_DESCRIBE = re.compile(r"^\s*(?:tell me(?: more)? about|explain|describe|give me an overview of|what do you know about|summari[sz]e)\b", re.I)
_WHY = re.compile(r"\b(?:why|how come|for what (?:purpose|reason)|what (?:is|was|are|were) the (?:purpose|reason|goal|aim)s?\b|what (?:reasons?|purposes?)\b)", re.I)
_USE_Q = re.compile(r"\b(?:what|which|how)\b.*\b(?:used|use)\b(?:\s+(?:for|in)\b.*|\s*\??\s*$)|\b(?:what|which)\b.*\b(?:uses|applications|end uses?)\b", re.I)
_EXCEPT = re.compile(r"\b(?:apart from|aside from|besides|other than|except(?: for)?|excluding|not counting)\s+([^,;?]+)", re.I)  # what the answer leaves out
_FOR_AT_END = re.compile(r"\bwhat\b.*\bfor\s*\??\s*$", re.I)
_YEAR = re.compile(r"(?<![\d$.,])(?:fy\s?)?((?:19|20)\d{2})(?:\s*[-–]\s*(\d{2,4}))?(?![\d%])", re.I)
# Names that scope nothing in this corpus (every article is about the US and its government).
GENERIC_NAMES = frozenset({
    "us", "u.s", "u.s.", "usa", "united states", "the united states", "america", "united states of america",
    "american", "americans", "the white house", "white house", "the administration", "administration",
    "the federal government", "federal government", "government", "president", "the president", "congress",
})
_MONTHS = frozenset("january february march april may june july august september october november december "
                    "jan feb mar apr jun jul aug sep sept oct nov dec".split())  # "in Nov 2023": a date, not a name
GENERIC_TERMS = frozenset(tokenize("us u.s. united states america american usa the of and"))
# "according to the USGS", "per the June 2024 fact sheet": where the answer comes from, not what it is about.
_SOURCE = re.compile(r"\b(?:according to|per|as reported (?:by|in)|in (?:the|its|their) [\w\s,'’-]*?(?:fact sheet|statement|report|blog|article|memo|order|summar(?:y|ies)))\b[^,?]*", re.I)
# "at the APEC event", "during the state visit", "mentioned in the G7 clean energy plan": where it
# was said or done. A name there must be met in the sentence's article, not in the sentence itself.
_SETTING = re.compile(r"\b(?:(?:at|during|on the sidelines of)\s+(?:the\s+)?[\w\s.&'’+-]*?\b(?:event|summit|meeting|ministerial|"
                      r"conference|forum|dialogue|visit|trip|dinner|ceremony|session|gathering)s?|mentioned in\s+(?:the\s+)?[\w\s.&'’+-]*?"
                      r"\b(?:plan|statement|declaration|fact sheet|report|order|communiqu[ée]|agreement|framework|strategy))\b", re.I)
# A document named by its kind and number ("EO 14415", "Executive Order 14017", "Proclamation 10962"):
# met anywhere in that document (its number stands at its top). Its kind alone ("the offshore
# minerals EO") names no one: it is "the order".
_DOCUMENT = re.compile(r"\b(?:E\.?\s?O\.?|executive orders?|proclamations?|(?:presidential|national security) memorand(?:um|a)|"
                       r"public laws?|P\.\s?L\.)(?:\s+(?:no\.?\s*)?(?P<number>\d[\d-]*))?", re.I)
# "Biden's 2021 supply chain executive order": whose document it is, met anywhere in it (its signature)
_AUTHOR_OF = re.compile(r"['’]s(?:\s+[\w-]+){0,5}?\s+(?:order|proclamation|memorandum|fact sheet|statement|plan|report|"
                        r"strategy|framework|remarks|speech|address)s?\b", re.I)
# "the Biden administration": the author of its documents, met anywhere in one
_ADMINISTRATION = re.compile(r"\b(?:administration|white house)$", re.I)
_HOLDER = r"secretary|minister|administrator"  # an office's holder; with its body, the department it heads
_OFFICE_AFTER = re.compile(rf"['’]?s?\s+(?:{_HOLDER}|department|ministry)\b", re.I)
_OFFICE_BEFORE = re.compile(rf"\b(?:{_HOLDER}|department|ministry) (?:of|for) (?:the )?$", re.I)
_OFFICE_IN = re.compile(rf"\b(?:{_HOLDER})\b", re.I)


def _office_of(text: str, start: int, end: int) -> bool:
    """"the commerce secretary", "the Secretary of Commerce", "Commerce Secretary": an office that a
    document names once and then calls "the Secretary", so its name is met anywhere in the article."""
    return bool(_OFFICE_AFTER.match(text, end) or _OFFICE_BEFORE.search(text[:start]) or _OFFICE_IN.search(text, start, end))


_NAME_LABELS = {"PERSON": "person", "ORG": "organization", "GPE": "place", "LOC": "place", "FAC": "place",
                "NORP": "norp", "PRODUCT": "thing", "EVENT": "thing", "LAW": "thing", "WORK_OF_ART": "thing"}


@dataclass
class Constraint:
    """Something the answer must be about: a name, a year, or which one of several ("the second phase")."""

    text: str  # as the question says it
    kind: str  # "name" | "year" | "ordinal" ("the second phase": terms are the noun's, `rank` the place)
    group: str = ""  # person | organization | place | norp | thing (names); "" for years
    required: bool = True  # False: descriptive (an adjective of nationality), scopes nothing by itself
    terms: list[str] = field(default_factory=list)  # tokenize() terms that must all occur
    carried: bool = False  # brought in from an earlier turn by the follow-up rewrite, not typed in this question
    setting: bool = False  # where it was said or done ("at the APEC event"): met anywhere in the sentence's article
    aliases: list[str] = field(default_factory=list)  # acronyms that stand for it ("doi" for "Interior"), as terms
    rank: int = 0  # ordinals: 2 for "the second phase"

    @property
    def article_wide(self) -> bool:
        """Whether the sentence's article may meet it (the conversation or the setting settled it)."""
        return self.kind == "name" and (self.carried or self.setting)

    def __repr__(self) -> str:
        return f"{self.kind}:{self.text}{'' if self.required else '?'}"


@dataclass
class Analysis:
    question: str  # the text analysed (a follow-up's standalone form, without its carried context)
    atype: str
    wh: str = ""  # the asking phrase as typed ("how many jobs", "when", "which company")
    focus: str = ""  # lemma of the head noun asked about, or ""
    element: str = ""  # list questions: the type of each item (place, organization, ...) or ""
    predicate: str = ""  # lemma of the main verb, "" for "be"/"have"
    constraints: list[Constraint] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)  # content terms of the question (tokenize())
    corrected: dict[str, str] = field(default_factory=dict)  # misspelt word -> the index's word
    excluded: frozenset = frozenset()  # terms the answer is to leave out ("apart from catalysts")

    @property
    def names(self) -> list[Constraint]:
        return [c for c in self.constraints if c.kind == "name"]

    @property
    def years(self) -> list[Constraint]:
        return [c for c in self.constraints if c.kind == "year"]

    @property
    def required(self) -> list[Constraint]:
        return [c for c in self.constraints if c.required]

    def asked(self) -> str:
        """What was asked, as a clause for "They don't say …": "how many jobs the plant will create"."""
        return asked_clause(self)

    def missing_note(self) -> str:
        """"They don't say how many jobs the plant will create (no number of jobs is given)."""
        kind = _NOTHING.get(self.atype, "")
        noun = self.wh.split()[-1] if self.wh and len(self.wh.split()) > 1 else ""
        if self.atype == "quantity" and noun and noun.lower() not in ("many", "much", "long", "big", "large"):
            kind = f"no number of {noun.lower()} is given"  # the question's own word: "people", "jobs"
        return f"They don't say {self.asked()}" + (f" ({kind})." if kind else ".")


def _nlp():
    from ..ingest.nlp import parse

    return parse


# Contractions typed without the apostrophe ("whats", "doesnt"): parsed as written, "whats" is
# "what" + a name "s" that no article mentions.
_APOSTROPHE = re.compile(r"\b(what|where|who|how|when|why|that|there|(?:is|are|was|were|does|do|did|has|have|had|could|should|would)(?=nt\b)|ca(?=nt\b)|wo(?=nt\b))(s|nt)\b", re.I)


def analyze(question: str, lex=None, typed: str | None = None) -> Analysis:
    """Analyse `question` (any capitalisation); `lex` (the LexicalIndex) adds the corpus vocabulary.
    `typed`: what the user typed when `question` is a follow-up's standalone form; names it lacks
    are marked as carried from the conversation."""
    text = typed_part(question)
    text = _APOSTROPHE.sub(lambda m: m.group(1) + ("'s" if m.group(2) == "s" else "n't"), text)  # "whats", "doesnt"
    corrected = _corrections(text, lex) if lex is not None else {}
    text = spelled(text, corrected)
    doc = _nlp()(text)
    a = Analysis(question=text, atype="description", corrected=corrected)
    _answer_type(doc, a)
    a.constraints = _constraints(doc, a, lex)
    wh_words = set(tokenize(a.wh))
    a.excluded = frozenset(t for m in _EXCEPT.finditer(text) for t in tokenize(m.group(1)) if t not in GENERIC_TERMS)
    a.terms = [t for t in dict.fromkeys(tokenize(text)) if t not in wh_words and t not in a.excluded]
    if typed is not None:
        own = set(tokenize(typed))
        for c in a.constraints:
            c.carried = c.kind == "name" and not own & set(c.terms)
    return a


# ---------------------------------------------------------------- the answer type


def _answer_type(doc, a: Analysis) -> None:
    low = [t.lower_ for t in doc]
    text = doc.text
    root = next((t for t in doc if t.dep_ == "ROOT"), doc[0] if len(doc) else None)
    verbs = [t for t in doc if t.pos_ in ("VERB", "AUX") and t.lemma_ not in ("be", "have", "do", "will", "would", "can", "could", "should", "may", "might", "must")]
    a.predicate = verbs[0].lemma_.lower() if verbs else ""
    if _DESCRIBE.match(text):
        a.atype, a.wh = "description", _DESCRIBE.match(text).group(0)
        return
    used = [t for t in doc if t.lower_ in ("used", "use", "uses")]
    # "… on the market for chips used in US data centers": the modifier of an object, with an object of
    # its own, not what is asked ("what are magnets used in?", "what are rare earths used for in the US?")
    modifier = bool(used) and all(t.dep_ in ("acl", "relcl") and t.head.dep_ in ("pobj", "dobj") and any(
        c.dep_ == "prep" and any(g.dep_ == "pobj" for g in c.children) for c in t.children) for t in used)
    if (use := _USE_Q.search(text)) and not modifier and not re.search(r"\bhow (?:much|many)\b", text, re.I):  # "what is X used for?", "how are X used?", "what are the uses of X?": an application, not a cause
        a.atype = "use"
        # the asking phrase is its wh-word ("which industries"), not the whole clause, so that the subject and "use" stay what is asked about
        i = next(t.i for t in doc if t.idx >= use.start())
        noun = _noun_after(doc, i + 1) if low[i] in ("which", "what") and i + 1 < len(doc) and doc[i + 1].pos_ == "NOUN" else None
        a.wh = doc[i : (noun.i + 1 if noun is not None else i + 1)].text
        if noun is not None and noun.lemma_.lower() not in ("use", "application"):
            a.focus = noun.lemma_.lower()
        return
    if _WHY.search(text) or (_FOR_AT_END.search(text) and "how" not in low):
        a.atype, a.wh = "reason", (_WHY.search(text).group(0) if _WHY.search(text) else "what … for")
        return
    if re.search(r"\b(?:worth|cost|costs|price|prices|value of|dollar value)\b", text, re.I) and not re.search(r"\bhow (?:much|many)\b", text, re.I) and not re.search(r"\b(?:percent|percentage|share)\b", text, re.I) \
            and not re.match(r"^\s*(?:when|where|who|which (?:country|company|state))\b", text, re.I):
        i = _index_of(low, ("how", "what", "which"))
        a.atype, a.wh = "money", (doc[i].text if i is not None else "how much")
        a.focus = "value"
        return
    i = _index_of(low, ("how",), ("many", "much", "long", "big", "large", "far", "old", "soon", "often"))
    if i is not None:
        word = low[i + 1]
        noun = _noun_after(doc, i + 2)
        a.wh = doc[i : (noun.i + 1 if noun is not None else i + 2)].text
        if noun is not None:
            a.focus = noun.lemma_.lower()
        by = i > 0 and low[i - 1] == "by"
        if word == "many":
            a.atype = "quantity"
            if a.focus in _TIME_UNITS:
                a.atype = "date" if "within" in low[: i] or "after" in low else "quantity"
        elif word == "much":
            kind = _FOCUS_TYPE.get(a.focus)
            if by:
                a.atype = "percent"
            elif a.focus and kind != "money" and noun is not None and noun.pos_ in ("NOUN", "PROPN") and a.predicate not in _MONEY_VERBS:
                a.atype = "quantity"  # "how much lithium could they produce"; but "how much assistance has X given"
            else:
                a.atype = "money"
        elif word in ("long", "soon", "often", "old"):
            a.atype = "date" if word != "long" or any(w in low for w in ("take", "last", "have", "until", "within")) else "quantity"
        else:  # big, large, far
            a.atype = "money" if _FOCUS_TYPE.get(_subject_lemma(doc, i)) == "money" else "quantity"
            a.focus = a.focus or _subject_lemma(doc, i)
        return
    if _index_of(low, ("when",)) is not None or _wh_noun(doc, {"year", "date", "month", "day"}) is not None:
        a.atype, a.wh = "date", "when"
        return
    i = _index_of(low, ("where",))
    if i is not None:
        a.atype, a.wh = "place", "where"
        return
    wh = _wh_noun(doc)  # "which companies", "what percentage", "whose list"
    if wh is not None:
        det, noun = wh
        a.focus = noun.lemma_.lower()
        a.wh = doc[det.i : noun.i + 1].text
        kind = _FOCUS_TYPE.get(a.focus)
        plural = noun.tag_ in ("NNS", "NNPS") and a.focus not in ("percentage", "share")
        if plural and kind in (None, "organization", "place", "person"):
            a.atype, a.element = "list", kind or ""
        elif kind:
            a.atype = kind
        elif a.focus in ("kind", "type", "sort"):
            a.atype = "description"
        else:
            a.atype = "description"
        return
    i = _index_of(low, ("who", "whom", "whose"))
    if i is not None:
        a.atype, a.wh = "person", low[i]
        return
    if low and low[0] in ("list", "name", "enumerate"):
        noun = _noun_after(doc, 1)
        a.atype, a.wh = "list", low[0]
        if noun is not None:
            a.focus = noun.lemma_.lower()
            a.element = _FOCUS_TYPE.get(a.focus, "") if _FOCUS_TYPE.get(a.focus) in ("organization", "place", "person") else ""
        return
    i = _index_of(low, ("what", "which"))
    if i is not None:
        a.wh = low[i]
        if doc[i].dep_ == "dobj" and doc[i].head.lemma_.lower() in _AMOUNT_VERBS:
            a.atype, a.focus = "money", "amount"
            return
        subj = _copula_subject(doc, i)
        if subj is not None and subj.pos_ == "PROPN" and subj.tag_ != "NNPS":  # "What is the Partnership for RISE?": a name to describe
            subj = None
        if subj is not None:
            a.focus = subj.lemma_.lower()
            kind = _FOCUS_TYPE.get(a.focus)
            if subj.tag_ in ("NNS", "NNPS") and kind in (None, "organization", "place", "person"):
                a.atype, a.element = "list", kind or ""
            elif kind:
                a.atype = kind
            else:
                a.atype = "description"
            return
        a.atype = "description"
        return
    if low and (low[0] in _YESNO_START or (root is not None and root.i == 0 and root.lower_ in _YESNO_START)):
        a.atype, a.wh = "yesno", low[0]
        return
    a.atype = "description"


def _index_of(low: list[str], first: tuple[str, ...], second: tuple[str, ...] | None = None) -> int | None:
    for i, w in enumerate(low):
        if w in first and (second is None or (i + 1 < len(low) and low[i + 1] in second)):
            return i
    return None


def _corpus_name(word: str, lex) -> bool:
    """A word of the corpus that is a name: mostly capitalised mid-sentence there, or (too rare to
    tell) no English word, inflected or not ("twigg", not "forces")."""
    from ..ingest.nlp import parse

    share = lex.capitals.get(word)
    if share is not None:
        return share >= CAPITAL_SHARE
    return not _is_english(parse(word)[0])


def _is_english(t) -> bool:
    """An English word, inflected ("runs") or compounded ("landmines") as typed."""
    from ..ingest.nlp import english_words

    english = english_words()
    stem = t.lemma_.lower()
    if t.lower_ in english or stem in english:
        return True
    return any(stem[:i] in english and stem[i:] in english for i in range(4, len(stem) - 3))


def _noun_after(doc, start: int):
    """The head noun of the phrase starting at `start` ("how many [new] EVs", "how much lithium")."""
    noun = None
    for t in doc[start : start + 5]:
        if t.pos_ in ("NOUN", "PROPN") or t.tag_ in ("NNS", "NN"):
            noun = t
            nxt = doc[t.i + 1] if t.i + 1 < len(doc) else None
            if nxt is None or nxt.pos_ not in ("NOUN", "PROPN"):
                return noun
        elif t.pos_ in ("ADJ", "NUM", "DET") or t.lower_ in ("more", "new", "of"):
            continue
        else:
            return noun
    return noun


def _wh_noun(doc, only: set[str] | None = None):
    """(determiner, noun) of "which companies", "what percentage", "whose list" — None if absent."""
    for t in doc:
        if t.lower_ in ("which", "what", "whose") and t.i + 1 < len(doc):
            noun = _noun_after(doc, t.i + 1)
            if noun is None or noun.i > t.i + 4:
                continue
            if any(x.pos_ in ("VERB", "AUX") for x in doc[t.i + 1 : noun.i]):
                continue
            if only is not None and noun.lemma_.lower() not in only:
                continue
            return t, noun
    return None


def _copula_subject(doc, i: int):
    """For "what is/was/are the X (of …)", the noun X."""
    if i + 1 < len(doc) and doc[i + 1].lemma_ == "be":
        return _noun_after(doc, i + 2)
    return None


def _subject_lemma(doc, i: int) -> str:
    """For "how big was the grant …", the lemma of "grant" (the subject; "the point-of-sale EV rebate": rebate)."""
    subject = next((t for t in doc[i + 2 :] if t.dep_ in ("nsubj", "nsubjpass") and t.pos_ in ("NOUN", "PROPN")), None)
    if subject is not None:
        return subject.lemma_.lower()
    for t in doc[i + 2 :]:
        if t.pos_ in ("NOUN", "PROPN"):
            nxt = doc[t.i + 1] if t.i + 1 < len(doc) else None
            if nxt is None or (nxt.pos_ not in ("NOUN", "PROPN") and nxt.text not in ("-", "–")):
                return t.lemma_.lower()
    return ""


# ---------------------------------------------------------------- constraints


def _constraints(doc, a: Analysis, lex) -> list[Constraint]:
    out: list[Constraint] = []
    taken: list[tuple[int, int]] = []  # character spans already used
    wh_span = _span_of(doc.text, a.wh)

    sources = [(m.start(), m.end()) for m in _SOURCE.finditer(doc.text)]
    settings = [(m.start(), m.end()) for m in _SETTING.finditer(doc.text)]

    found: list[tuple[int, int, str, str, int]] = []  # (start, end, text, group, priority)

    def add(text: str, group: str, start: int, end: int, required: bool = True, priority: int = 0) -> None:
        found.append((start, end, text, group, priority))

    def keep(text: str, group: str, start: int, end: int, required: bool = True) -> None:
        key = entity_key(text)
        if not key or all(w in _MONTHS or _YEAR.fullmatch(w) or w in ("and", "or") for w in key.split()):
            return  # "FY2024 and FY2025" are years (below), "March" a month
        if any(s < end and start < e for s, e in taken):
            return
        document = _DOCUMENT.fullmatch(text.strip())
        if document and not document.group("number"):
            return
        if key in GENERIC_NAMES or all(w in GENERIC_NAMES for w in key.split()):
            taken.append((start, end))  # "US reserves": worth preferring, scopes nothing on its own here
            out.append(Constraint(text=text.strip(), kind="name", group=group, required=False, terms=tokenize(text)))
            return
        if wh_span and wh_span[0] <= start and end <= wh_span[1] and group != "norp":
            required = False  # "which *Australian* department": describes the answer, scopes nothing
        in_source = any(s <= start and end <= e for s, e in sources)
        if in_source:
            required = False  # "according to the USGS": the source, matched against title and publisher
        terms = [t for t in tokenize(text) if (not t.isdigit() or len(t) != 4) and t not in GENERIC_TERMS and t not in _MONTHS]
        if not terms:
            return
        taken.append((start, end))
        out.append(Constraint(text=text.strip(), kind="name", group=group, required=required or (group == "norp" and not in_source), terms=terms,
                              setting=bool(document) or bool(_AUTHOR_OF.match(doc.text, end)) or _office_of(doc.text, start, end)
                              or _department(text, lex) or _ADMINISTRATION.search(text) is not None
                              or any(s <= start and end <= e for s, e in settings)))

    # 1. the index's own entity vocabulary, matched on words whatever their case (longest first)
    if lex is not None and getattr(lex, "entities", None):
        words = [(m.start(), m.end()) for m in re.finditer(r"[\w'’.&+-]+", doc.text)]
        for n in range(min(6, len(words)), 0, -1):
            for j in range(len(words) - n + 1):
                start, end = words[j][0], words[j + n - 1][1]
                phrase = doc.text[start:end].rstrip(".?!,")
                key = entity_key(phrase)
                rec = lex.entities.get(key)
                if not rec or len(key) <= 2 or rec[0] not in _NAME_LABELS:
                    continue
                if " " not in key and phrase.islower() and getattr(lex, "capitals", {}).get(key, 0.0) < CAPITAL_SHARE:
                    continue  # a lowercase word the corpus mostly writes in lowercase ("leaders", "building")
                add(phrase, _NAME_LABELS[rec[0]], start, start + len(phrase), priority=2)
    # 1b. words the corpus writes as names ("mp", "lynas", "texas" typed in lowercase)
    if lex is not None and getattr(lex, "capitals", None) and doc.text == doc.text.lower():
        run: list = []
        for t in [*doc, None]:
            if t is not None and (lex.capitals.get(t.lower_, 0) >= CAPITAL_SHARE or (run and t.lower_ in ("of", "and", "for", "the") and
                                                                                  t.i + 1 < len(doc) and lex.capitals.get(doc[t.i + 1].lower_, 0) >= CAPITAL_SHARE)):
                run.append(t)
                continue
            while run and run[-1].lower_ in ("of", "and", "for", "the"):
                run.pop()
            while len(run) > 1 and run[-1].pos_ == "NOUN" and any(x.pos_ == "PROPN" for x in run[:-1]):
                run.pop()  # "lobito railway": the corpus capitalises "railway" inside names only; the name is "lobito"
            if run and not (len(run) == 1 and run[0].lower_ in _QUESTION_START):
                start, end = run[0].idx, run[-1].idx + len(run[-1].text)
                add(doc.text[start:end], "thing", start, end, priority=3)
            run = []
    # 1c. words neither the corpus nor English knows are names ("iluka" typed in lowercase)
    if lex is not None and getattr(lex, "words", None):
        for t in doc:
            w = t.lower_
            if (t.is_alpha and len(w) >= 4 and w not in lex.words and not t.is_stop and not _is_english(t) and w not in _QUESTION_START
                    and w.rstrip("s") not in _QUESTION_START and w.rstrip("s") not in ("that", "it", "there", "here")):
                add(t.text, "thing", t.idx, t.idx + len(t.text), priority=3)
    # 2. spaCy's entities in the question
    for e in doc.ents:
        if e.label_ in _NAME_LABELS:
            for part in _unglued(e, lex):  # "the Department of Energy give Acme Minerals" is two names
                text = part.text[4:] if part.text.lower().startswith("the ") else part.text
                add(text, _NAME_LABELS[e.label_], part.start_char + len(part.text) - len(text), part.end_char, priority=1)
    # 3. runs of proper nouns that NER missed ("C5+1 Critical Minerals Dialogue")
    run: list = []
    for t in [*doc, None]:
        if t is not None and t.tag_ in ("NNP", "NNPS") and t.pos_ != "VERB" and (t.i > 0 or t.lower_ not in _QUESTION_START):
            run.append(t)  # "MP Materials", "C5+1 Critical Minerals Dialogue"
            continue
        if t is not None and run and (t.like_num or t.text == "§") and not _YEAR.fullmatch(t.text):
            run.append(t)  # "42 U.S.C. 13344", "Section 232": the number is part of the name
            continue
        if (t is not None and run and t.lower_ in ("of", "&", "for", "-", "+", "on") and t.i + 1 < len(doc)
                and doc[t.i + 1].tag_ in ("NNP", "NNPS")):
            run.append(t)  # "Department of Defense", "E-VAC", "C5+1"
            continue
        if run and any(x.text[:1].isupper() for x in run):
            first = run[0]
            if first.i > 0 and doc[first.i - 1].like_num and not _YEAR.fullmatch(doc[first.i - 1].text) and (
                    first.text.isupper() or "." in first.text):
                first = doc[first.i - 1]  # "42 U.S.C.", "40 CFR"; not a count ("13 Regional Technology Hubs")
            start, end = first.idx, run[-1].idx + len(run[-1].text)
            add(doc.text[start:end], "thing", start, end, priority=0)
        run = []
    for t in doc:  # acronyms ("USTDA", "DFC") are names whatever the tagger says
        if t.text.isupper() and len(t.text) >= 2 and t.is_alpha:
            add(t.text, "organization", t.idx, t.idx + len(t.text), priority=2)
    # Proper-noun runs first (the widest names, cut at words typed in lowercase that the corpus
    # writes in lowercase: "Department of Defense award MP Materials" is two), then spaCy's entities,
    # the corpus's own names (for lowercase questions) and acronyms, each only where nothing is
    # taken yet. A span takes the kind (person, place, …) of the entity or name that overlaps it.
    for start, end, text, group, _p in sorted(found, key=lambda f: (f[4], -(f[1] - f[0]))):
        for a_, b_ in _free_parts(doc, start, end, taken, lex):
            label = group if group != "thing" else next(
                (g for s_, e_, _t, g, _q in sorted(found, key=lambda f: f[4]) if g != "thing" and s_ < b_ and a_ < e_), group)
            keep(doc.text[a_:b_], label, a_, b_)
    names = [c for c in out if c.kind == "name" and c.required]
    if any(c.group != "person" for c in names) or _DOCUMENT.search(doc.text):  # or the person signed the order asked about
        for c in names:
            # "why does Biden want …": the article may say "the President"; but a name no article
            # has at all ("… in Malawi", which the tagger may take for a person) still scopes
            if c.group == "person" and (lex is None or all(t in lex for t in c.terms)):
                c.required = False
    # 4. quoted phrases must appear as they are ("what 'processed critical minerals' means")
    for m in re.finditer(r"[\"“‘']([^\"”’']{3,80})[\"”’']", doc.text):
        terms = [t for t in tokenize(m.group(1)) if t not in GENERIC_TERMS]
        if terms and not any(s < m.end() and m.start() < e for s, e in taken):
            taken.append((m.start(), m.end()))
            out.append(Constraint(text=m.group(1), kind="name", group="thing", terms=terms))
    # 5. years
    for m in _YEAR.finditer(doc.text):
        year, tail = m.group(1), m.group(2)
        if wh_span and wh_span[0] <= m.start() < wh_span[1]:
            continue
        if tail:
            end_year = tail if len(tail) == 4 else year[:2] + tail
            out.append(Constraint(text=m.group(0), kind="year", terms=[year, end_year]))
        else:
            out.append(Constraint(text=m.group(0), kind="year", terms=[year]))
    # 6. ordinals: "the second phase" prefers sentences about that phase, never those about another one
    for t in doc:
        rank = ORDINALS.get(t.lower_)
        if rank and t.dep_ == "amod" and t.head.pos_ == "NOUN" and t.head.i > t.i:
            out.append(Constraint(text=f"{t.text} {t.head.text}", kind="ordinal", required=False,
                                  terms=tokenize(t.head.lemma_), rank=rank))
    for c in out:
        if c.kind == "name":
            c.aliases = _aliases(c, lex)
    return out


ORDINALS = {w: i + 1 for i, w in enumerate("first second third fourth fifth sixth seventh eighth ninth tenth".split())}
ORDINALS |= {f"{i}{'st' if i == 1 else 'nd' if i == 2 else 'rd' if i == 3 else 'th'}": i for i in range(1, 11)}
_COUNTED = {w: i + 1 for i, w in enumerate("one two three four five six seven eight nine ten".split())}
_COUNTED |= {w.lower(): i + 1 for i, w in enumerate("I II III IV V VI VII VIII IX X".split())} | {str(i): i for i in range(1, 11)}


def ordinals_of(term: str, text: str) -> set[int]:
    """Which ones of `term` (a noun's term) `text` speaks of: {1} for "the first phase", {2} for
    "Phase II" or "phase two", {1, 2} for "the first and second phases"."""
    words = re.findall(r"[\w-]+|[^\w\s]", text)
    found: set[int] = set()
    for i, w in enumerate(words):
        if tokenize(w) != [term]:
            continue
        for j in range(i - 1, max(-1, i - 5), -1):  # "the first primary vanadium mine", "the first and second phases"
            low = words[j].lower()
            if low in ORDINALS:
                found.add(ORDINALS[low])
            elif not words[j][0].isalnum() or low in _FUNCTION_WORDS:
                break
        after = words[i + 1] if i + 1 < len(words) else ""
        if after.lower() in _COUNTED and (after.isupper() or after.islower() or after.isdigit()):
            found.add(_COUNTED[after.lower()])  # "Phase II", "phase two"
    return found


_FUNCTION_WORDS = frozenset("the a an this that these those its their his her our of in on at for to by with from as".split())


_GOVERNMENT_BODY = re.compile(r"^(?:u\.s\. )?(?:department|ministry|secretary|office|bureau|agency) of (?:the )?(\w+)$")


def _name_initials(words: list[str]) -> set[str]:
    """The two acronyms of a name's words: of its capitalised words ("Department of Energy" -> DE)
    and of all but "the"/"and" (-> DOE)."""
    return {"".join(w[0] for w in words if w[0].isupper()),
            "".join(w[0].upper() for w in words if w.lower() not in ("the", "and", "&"))}


def initialisms(text: str) -> set[str]:
    """Initials of the capitalised name runs in `text` ("Department of Energy" -> DOE and DE) and of
    two capitalised words in a row ("Electric Vehicle" -> EV), and
    of any three to five words in a row ("liquefied natural gas" -> LNG)."""
    words = re.findall(r"[A-Za-z][\w’'-]*", text)
    out = {"".join(w[0] for w in words[i : i + n]).upper() for n in (3, 4, 5) for i in range(len(words) - n + 1)}
    for m in re.finditer(r"(?:[A-Z][\w’'-]*(?:\s+(?:of|for|the|on|in|to|at|&)\s+(?:the\s+)?|\s+))+[A-Z][\w’'-]*", text):
        run = m.group(0).split()
        out |= _name_initials(run)
        caps = [w for w in run if w[0].isupper()]
        out |= {a[0] + b[0] for a, b in zip(caps, caps[1:])}  # "Electric Vehicle Charging Action Plan" -> EV
    return out


_bodies_cache: dict[tuple, dict[str, list[str]]] = {}


def _government_bodies(lex) -> dict[str, list[str]]:
    """short name -> the corpus's government bodies of that name ("interior" -> ["Department Of The
    Interior", …]), built once per state of the lexical index, not on every question."""
    key = (id(lex), getattr(lex, "seq", 0), getattr(lex, "n_docs", 0))
    if key not in _bodies_cache:
        bodies: dict[str, list[str]] = {}
        for k in lex.entities:
            m = _GOVERNMENT_BODY.match(k)
            if m:
                bodies.setdefault(m.group(1), []).append(k.title())
        _bodies_cache.clear()  # one index per process in practice: keep the latest only
        _bodies_cache[key] = bodies
    return _bodies_cache[key]


def _department(text: str, lex) -> bool:
    """"why did Commerce conclude …": a department called by its short name acts through its head,
    whom its documents call "the Secretary" once named, so it is met anywhere in an article."""
    return lex is not None and bool(getattr(lex, "entities", None)) and entity_key(text) in _government_bodies(lex)


def _aliases(c: Constraint, lex) -> list[str]:
    """Acronyms a sentence may use for the name: its own initials ("Minerals Security Partnership"
    -> MSP) and, for a department called by its short name ("Interior's rule", "Commerce"), the
    initials of the corpus's government bodies of that name ("Department of the Interior" -> DOI)."""
    names = [c.text] if len(c.text.split()) >= 2 else []
    if len(c.terms) == 1 and lex is not None and getattr(lex, "entities", None):
        names += _government_bodies(lex).get(c.text.lower(), [])
    out = {a for n in names for a in _name_initials(re.findall(r"[A-Za-z][\w’'-]*", n))}
    country = _CAPITALS.get(entity_key(c.text))  # "Seoul is making $5.3 billion available": Korea's government
    return sorted({t for a in out if 3 <= len(a) <= 6 for t in tokenize(a) if t not in c.terms}  # "DE", "MM": too ambiguous
                  | set(tokenize(country) if country else ()))


# A capital standing for its country's government, as news writing has it ("Seoul", "Tokyo", "Beijing")
_CAPITALS = {"seoul": "Korea", "tokyo": "Japan", "beijing": "China", "canberra": "Australia", "ottawa": "Canada",
             "new delhi": "India", "jakarta": "Indonesia", "manila": "Philippines", "hanoi": "Vietnam", "brasilia": "Brazil",
             "brasília": "Brazil", "mexico city": "Mexico", "santiago": "Chile", "buenos aires": "Argentina", "lima": "Peru",
             "luanda": "Angola", "kinshasa": "Congo", "lusaka": "Zambia", "nairobi": "Kenya", "dodoma": "Tanzania",
             "astana": "Kazakhstan", "tashkent": "Uzbekistan", "ulaanbaatar": "Mongolia", "riyadh": "Saudi", "kyiv": "Ukraine",
             "moscow": "Russia", "taipei": "Taiwan", "berlin": "Germany", "paris": "France", "rome": "Italy", "brussels": "EU"}


def _free_parts(doc, start: int, end: int, taken: list[tuple[int, int]], lex) -> list[tuple[int, int]]:
    """The character spans of [start, end)'s tokens that no taken span covers, cut at common words."""
    caps = getattr(lex, "capitals", None) or {}
    words = getattr(lex, "words", None) or {}
    parts, run = [], []
    for t in doc:
        if t.idx < start or t.idx >= end:
            continue
        free = not any(s <= t.idx < e for s, e in taken)
        lowercase = t.text.islower() and not doc.text.islower()  # typed in lowercase inside a capitalised question
        common = lowercase and t.lower_ in words and caps.get(t.lower_, 0.0) <= 0.2 and t.lower_ not in ("of", "and", "for", "the", "on", "&", "de")
        name_like = caps.get(t.lower_, 0.0) >= CAPITAL_SHARE  # the tagger misreads lowercase names ("mp" as a verb)
        if free and not common and (t.pos_ not in ("VERB", "AUX", "PUNCT") or name_like) or (free and run and t.lower_ in ("of", "and", "&", "-")):
            run.append(t)
            continue
        if run:
            parts.append(run)
        run = []
    if run:
        parts.append(run)
    out = []
    for r in parts:
        while r and r[-1].lower_ in ("of", "and", "&", "-", "the", "'s", "’s"):
            r = r[:-1]
        while r and r[0].lower_ in ("the", "of", "and", "for", "on", "&", "in", "to", "with"):
            r = r[1:]
        if r:
            out.append((r[0].idx, r[-1].idx + len(r[-1].text)))
    return out


def _unglued(span, lex=None) -> list:
    """An entity span cut at the verbs inside it, and at words the corpus writes in lowercase (the
    small model glues "the Department of Defense award MP Materials" into one ORG)."""
    caps = getattr(lex, "capitals", None) or {}
    words = getattr(lex, "words", None) or {}
    parts, start = [], span.start
    for t in span:
        common = t.lower_ in words and caps.get(t.lower_, 0.0) <= 0.2 and t.lower_ not in ("of", "and", "for", "the", "on", "&", "de")
        if t.pos_ in ("VERB", "AUX") or t.tag_ in ("VB", "VBD", "VBP", "VBZ") or (common and t.i > span.start):
            if t.i > start:
                parts.append(span.doc[start : t.i])
            start = t.i + 1
    if start < span.end:
        parts.append(span.doc[start : span.end])
    # a name has a noun; a nationality ("Pakistani", tagged an adjective) is a name by itself
    return [p for p in parts if any(x.pos_ in ("PROPN", "NOUN") for x in p) or (span.label_ == "NORP" and len(p) == len(span))]


def _span_of(text: str, phrase: str) -> tuple[int, int] | None:
    if not phrase:
        return None
    i = text.lower().find(phrase.lower())
    return (i, i + len(phrase)) if i >= 0 else None


def spelled(text: str, corrected: dict[str, str]) -> str:
    """`text` with the misspelt words of `Analysis.corrected` put right; a capitalised part may
    end a camel-case name ("GlobalFoundires" -> "GlobalFoundries")."""
    for wrong, right in corrected.items():
        left = "(?<![A-Z])" if wrong[0].isupper() else "(?<![A-Za-z])"
        text = re.sub(rf"{left}{re.escape(wrong)}\b", right, text)
    return text


def _corrections(text: str, lex) -> dict[str, str]:
    """Words of `text` that neither the index nor English knows, one edit away from a word the
    index does know ("califronia" -> california; "widen" stays "widen", never "biden")."""
    from ..ingest.nlp import english_words

    english = english_words()
    out = {}
    for m in re.finditer(r"[A-Za-z][a-z]{3,}", text):
        word = m.group(0)
        # a capitalised English word the corpus never uses may be a misspelt name ("Twig" for Twigg)
        as_name = word[0].isupper() and m.start() > 0 and word.lower() not in lex.words
        if word.lower() in english and not as_name:
            continue
        fix = lex.spell(word.lower(), shortest=4 if as_name else 5) if hasattr(lex, "spell") else None
        if fix and word.lower() in english and not _corpus_name(fix, lex):
            continue  # an English word is only ever corrected to a name ("Forest" stays, never "forces")
        if fix and fix != word.lower():
            out[word] = fix if word.islower() else fix.capitalize()
    return out


# ---------------------------------------------------------------- "they don't say …"

_NOTHING = {"money": "no amount is given", "percent": "no share or rate is given", "date": "no date is given",
            "person": "no person is named", "organization": "no organization is named", "place": "no place is named",
            "reason": "no reason is given", "use": "no use is given", "list": "no such list is given", "quantity": "no number is given"}
CAPITAL_SHARE = 0.8  # a word the corpus capitalises this often mid-sentence is (part of) a name
_QUESTION_START = frozenset("what which who when where why how is are was were do does did can could will would tell explain describe name list".split())
_AUX = frozenset("will would did does do is are was were has have had can could should may might must shall".split())
_IRREGULAR = {"make": "made", "give": "gave", "take": "took", "get": "got", "go": "went", "come": "came", "hold": "held",
              "set": "set", "put": "put", "lead": "led", "run": "ran", "build": "built", "spend": "spent", "buy": "bought",
              "sell": "sold", "say": "said", "meet": "met", "begin": "began", "choose": "chose", "send": "sent",
              "bring": "brought", "find": "found", "become": "became", "cut": "cut", "grow": "grew", "know": "knew",
              "see": "saw", "pay": "paid", "lose": "lost", "leave": "left", "win": "won", "keep": "kept", "write": "wrote",
              "lend": "lent", "rise": "rose", "fall": "fell", "sign": "signed", "think": "thought", "tell": "told"}


def asked_clause(a: Analysis) -> str:
    """The question as an indirect clause: "How many jobs will the plant create?" -> "how many jobs the plant will create"."""
    q = a.question.strip().rstrip("?.! ")
    quoted = "that" if not q else f"the answer to “{q}”"
    if a.atype == "yesno":
        clause = _declarative(q)
        return "whether " + clause if clause is not None else quoted
    i = q.lower().find(a.wh.lower()) if a.wh else -1
    if i < 0 or a.atype == "description":
        return quoted
    head = q[i : i + len(a.wh)]
    clause = _declarative(q[i + len(a.wh) :].strip())
    return (head[:1].lower() + head[1:] + " " + clause).strip() if clause is not None else quoted


def _declarative(rest: str) -> str | None:
    """"will the plant create" -> "the plant will create"; "did they sign it" -> "they signed it";
    "will the Ministerial be held" -> "the Ministerial will be held"."""
    words = rest.split()
    if not words or words[0].lower() not in _AUX:
        return rest
    aux = words[0].lower()
    body = words[1:]
    if not body:
        return rest
    if aux in ("do", "does", "did"):  # parsed with its auxiliary, whose head is the verb ("does the fact sheet *give*")
        full = _nlp()(" ".join(words))
        v = full[0].head
        if full[0].dep_ == "aux" and v.i > 1 and v.lower_ == v.lemma_.lower():
            adverbs = v.i
            while adverbs > 2 and full[adverbs - 1].pos_ == "ADV" and full[adverbs - 1].lower_ != "not":
                adverbs -= 1  # "did they *quickly* sign": the adverb stays before the verb
            form = v.text if aux == "do" else _third_person(v.lemma_.lower()) if aux == "does" else _past(v.lemma_.lower())
            return " ".join(x for x in (full[1:adverbs].text, full[adverbs : v.i].text, form, full[v.i + 1 :].text) if x)
    doc = _nlp()(" ".join(body))
    if doc[0].pos_ in ("VERB", "AUX"):
        return " ".join([aux, doc.text])  # "how many people | will work there": the wh-phrase is the subject
    clauses = {x.i for t in doc if t.dep_ == "relcl" for x in t.subtree}  # "the projects *that Commerce backed*"
    verb_at = next((t.i for t in doc if t.pos_ in ("VERB", "AUX") and t.i > 0 and t.i not in clauses), None)
    if verb_at is None:
        subj = [t for t in doc if t.dep_ in ("nsubj", "nsubjpass") and t.i not in clauses]
        if subj and aux in ("is", "are", "was", "were"):  # "is the compact binding" -> "the compact is binding"
            end = max(x.i for x in subj[0].subtree) + 1
            return " ".join([doc[:end].text, aux, doc[end:].text]).strip()
        if aux in ("do", "does", "did"):
            return None  # its verb not found ("did the commission chip in"): no clause to make
        return " ".join([*body, aux])  # "was the average price of X" -> "the average price of X was"
    while verb_at > 1 and doc[verb_at - 1].pos_ in ("ADV", "PART") and doc[verb_at - 1].lower_ != "not":
        verb_at -= 1  # "is the compact legally binding" -> "the compact is legally binding"
    subject, group = doc[:verb_at].text, doc[verb_at:]
    if aux in ("do", "does", "did") and any(t.pos_ == "VERB" for t in group):
        v = next(t for t in group if t.pos_ == "VERB")
        if v.i > verb_at:  # "did they *quickly* sign": keep the adverb before the verb
            return " ".join(x for x in (subject, doc[verb_at:v.i].text, _past(v.lemma_) if aux == "did" else
                                        (_third_person(v.lemma_) if aux == "does" else v.text), doc[v.i + 1 :].text) if x)
        form = v.text if aux == "do" else (_third_person(v.lemma_) if aux == "does" else _past(v.lemma_))
        return " ".join(x for x in (subject, form, group[1:].text) if x)
    return " ".join(x for x in (subject, aux, group.text) if x)


def _third_person(lemma: str) -> str:
    if lemma.endswith(("s", "sh", "ch", "x", "z", "o")):
        return lemma + "es"
    if lemma.endswith("y") and len(lemma) > 2 and lemma[-2] not in "aeiou":
        return lemma[:-1] + "ies"
    return {"have": "has", "be": "is"}.get(lemma, lemma + "s")


def _past(lemma: str) -> str:
    if lemma in _IRREGULAR:
        return _IRREGULAR[lemma]
    if lemma.endswith("e"):
        return lemma + "d"
    if lemma.endswith("y") and len(lemma) > 2 and lemma[-2] not in "aeiou":
        return lemma[:-1] + "ied"
    return lemma + "ed"
