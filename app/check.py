"""Does a sentence answer the question? The check every answer sentence passes, whichever writer.

A sentence can be the answer only if it carries the expected answer type, linked to the focus,
and meets the question's constraints, in itself or in its heading, title or date:

- money, percent, date: a span of that kind (spaCy entities stored at ingest, or the written
  forms "$35 million", "13%", "July 31, 2022");
- quantity: a number attached to the focus ("how many *workers*" needs a number next to workers
  or a word that means the same);
- person, organization, place: an entity of that kind that the question does not already name
  (for a *company*, not a government body);
- use: a statement of an application ("used in", "end use", "essential for manufacturing").
- reason: a causal or purpose statement ("because", "due to", "in order to", "aims to", "to
  support …") about the asked event;
- list: two or more items (list lines, or an enumeration in the sentence);
- yes/no and description: any sentence about the constraints.

A constraint the sentence misses while stating something of the same kind instead (another
year, another place) is a conflict: the question's premise may be contradicted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..ingest.lexical import tokenize
from .question import ORDINALS, Analysis, Constraint, initialisms, ordinals_of

_MONEY = re.compile(r"(?:\$|US\$|A\$|C\$|€|£|¥)\s?\d|\b\d[\d,.]*\s*(?:million|billion|trillion)?\s*(?:dollars|usd|euros?|yen|pounds sterling)\b", re.I)
_PERCENT = re.compile(r"\d[\d,.]*\s*(?:%|percent\b|per cent\b|percentage points?\b)", re.I)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE = re.compile(rf"\b(?:{_MONTHS})\b|\b(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?\s+\d|\b(?:19|20)\d{{2}}\b|\b(?:q[1-4]|fy)\s?\d{{2,4}}\b|\b(?:within|after|for|in|by)\s+(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|thirty|sixty|ninety)\s+(?:days?|weeks?|months?|years?)\b|\b(?:spring|summer|fall|autumn|winter)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])(?:\d[\d,]*(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|dozens?|hundreds|thousands)"
                     r"(?:[\s-]+(?:million|billion|thousand|hundred))?(?![\w])", re.I)
_CAUSAL = re.compile(
    r"\b(?:because|since|due to|owing to|as a result|in order to|so that|so as to|aim(?:s|ed)? (?:to|at)|intend(?:s|ed)? to|"
    r"designed to|in an effort to|seek(?:s|ing)? to|the (?:purpose|goal|aim|objective) (?:is|was|of)|in response to|"
    r"reflecting|thanks to|driven by|given (?:that|the)|which (?:will|would) (?:help|allow|enable)|to help|to ensure|to support|"
    r"mak(?:e|es|ing) (?:it|them|this|these|the \w+|\w+) (?:a|an|the|more|less)\b|result(?:s|ed)? (?:in|from)|lead(?:s)? to|caus(?:e|es|ed)\b|"
    r"to strengthen|to reduce|to increase|to promote|to secure|to enable|to address|to build|to accelerate|to advance|"
    r"to protect|to diversify|to expand|to boost|to counter|to meet|to create|to lower|to improve|to facilitate|to foster|"
    r"to bolster|to mitigate|to prevent|to avoid|to make|to develop|to establish|to provide|to encourage|to attract|"
    r"to spur|to unlock|to catalyze|to deepen|to enhance|to coordinate|to identify|to demonstrate|to test)\b", re.I)
# A government body, by its first word or its last ("the Environmental Protection Agency")
_GOVERNMENT = re.compile(r"^(?:.*\b(?:agency|department|administration|bureau|commission|ministry)$|(?:the\s+)?(?:u\.?s\.?|united states|federal|national|department|office|agency|administration|bureau|"
                         r"commission|council|ministry|government|senate|house|congress|secretary|state of|export|"
                         r"international development|development finance|european|g7|white house)\b)", re.I)
# Three or more items: "cobalt, graphite, lithium, and nickel"; "semiconductor manufacturing and
# advanced packaging; large capacity batteries; … and pharmaceuticals"; long named items too.
_ENUM = re.compile(r"(?:[^,;:]{1,120},\s*){2,}(?:and|or)\s+\w|(?:[^;:]{1,200};\s*){2,}(?:and|or)\s+\w|"
                   r"\b(?:such as|including|include|namely)\s+[^,;.]{2,120},\s*[^,;.]{2,120}?\s(?:and|or)\s+\w", re.I)  # "such as A, B and C"
_RANGE = re.compile(r"\b((?:19|20)\d{2})\s*[-–]\s*(\d{2}|(?:19|20)\d{2})\b")
_DEFINES = re.compile(r"\b(?:the term\b[^.]{0,80}?\b(?:(?:shall )?means?|refers to|includes)|is defined as|(?:is|are) (?:a|an|the)\s+\w+|(?:(?:shall )?means?|refers to)\b|"
                      r"(?:also|otherwise|commonly) (?:known|referred to) as\b|\((?:i\.e\.|that is),?\s)", re.I)
_TERM_DEFINED = re.compile(r"\bthe terms?\s+[“\"‘']([^”\"’']{1,80})[”\"’']", re.I)  # which term a definition defines
_PLACE = frozenset({"GPE", "LOC", "FAC"})
# An office named for its holder: "the Secretary of Commerce", "the Assistant to the President for National Security Affairs"
_OFFICE = re.compile(r"\b(?:Secretary|Minister|Administrator|Director|Chair(?:man|woman|person)?|Ambassador|Attorney General|"
                     r"Trade Representative|Assistant to the President)(?:\s+(?:of|for)\s+(?:the\s+)?[A-Z][\w&’'-]*"
                     r"(?:\s+(?:and\s+|of\s+)?[A-Z][\w&’'-]*)*)?")
_OFFICE_FOCUS = frozenset("official officer secretary minister administrator director head chair member leader".split())
# "until when", "by what date", "the deadline": the question asks when a period ends; a date answers
# it when it is introduced as an end ("through July 31, 2022", "no later than", "by").
_DEADLINE_ASKED = re.compile(r"\b(?:until|till|through|by)\s+(?:when|what (?:date|day|time|month|year))|\bdeadline\b|\bno later than\b", re.I)
_DEADLINE = re.compile(r"\b(?:until|till|through|by|before|no later than|deadline(?: of| is)?|ends? (?:on|in)|expires? (?:on|in))\s*$", re.I)
_COUNTRY_OR_BODY = frozenset("partner ally member participant supplier buyer customer investor signatory".split())
SIMILAR_FOCUS = 0.58  # word embedding cosine: "jobs"/"workers" 0.66, "people"/"employees" 0.59, "jobs"/"projects" 0.56
_GROUP_LABELS = {"person": {"PERSON"}, "organization": {"ORG"}, "place": _PLACE, "thing": {"PRODUCT", "EVENT", "LAW", "WORK_OF_ART"}}


@dataclass
class Evidence:
    carries: float = 0.0  # 1: the expected type, linked to the focus; 0.5: the type without the link; 0: neither
    answer: str = ""  # the span that answers ("$35 million", "Tennessee"), when there is one
    met: list[Constraint] = field(default_factory=list)
    unmet: list[Constraint] = field(default_factory=list)
    conflicts: list[tuple[Constraint, str]] = field(default_factory=list)  # (unmet constraint, what the sentence says instead)

    @property
    def coverage(self) -> float:
        """Share of required constraints met (1.0 when the question has none)."""
        need = [c for c in self.met + self.unmet if c.required]
        return sum(c in self.met for c in need) / len(need) if need else 1.0


def check(a: Analysis, sentence: str, ents: list[tuple[int, int, str]], *, title: str = "", heading: str = "",
          published: str = "", publisher: str = "", terms: frozenset | None = None, in_list: bool = False,
          similar=None, block: str = "", block_terms: frozenset | None = None, article: str = "") -> Evidence:
    """How well `sentence` (with its entity spans, relative to the sentence) answers `a`.

    Names may also be met in the sentence's passage (`block`: "MP Materials … At the time, Mountain
    Pass had only eight employees", "the Department … announced … It will fund …"): a passage is
    one section of one article, and its sentences refer back; `block_terms` is tokenize(block) when
    the caller has it). A name carried from an earlier turn of the conversation (the EU of "When do
    they want it wrapped up?") or naming the setting ("at the APEC event") may be met anywhere in
    the sentence's `article`: the conversation, or the event, has settled what the article is
    about. Years are met only in the sentence, its heading, title or date."""
    ev = Evidence()
    terms = terms if terms is not None else frozenset(tokenize(sentence))
    context = frozenset(tokenize(" ".join((title, heading, publisher, _date_words(published))))) | terms
    raw_context = " . ".join((sentence, title, heading, publisher, published[:4]))  # " . ": no name runs across parts
    block_context = context | (block_terms if block_terms is not None else frozenset(tokenize(block))) if block else context
    block_raw = raw_context + " . " + block
    for c in a.constraints:
        if (_meets(c, context, raw_context, sentence) or (c.kind == "name" and block and _meets(c, block_context, block_raw, sentence))
                or (c.article_wide and article and _meets(c, block_context | frozenset(tokenize(article)), block_raw + " . " + article, sentence))):
            ev.met.append(c)
        else:
            ev.unmet.append(c)
            alt = _alternative(c, sentence, ents, a)
            if alt:
                ev.conflicts.append((c, alt))
    ev.carries, ev.answer = _carries(a, sentence, ents, terms, in_list, heading, similar)
    if a.atype == "reason" and ev.carries >= 1.0 and not _about_event(a, sentence):
        ev.carries = 0.5  # a purpose or cause, but not of the asked event ("why was X *chosen*")
    if any(c.kind == "ordinal" for c, _ in ev.conflicts):
        ev.carries = min(ev.carries, 0.5)  # about "the first phase" when the second was asked: not its answer
    return ev


# ---------------------------------------------------------------- constraints


def defined_term(sentence: str) -> str:
    """The term a definition defines ("The term “critical minerals” means …" -> critical minerals), or ""."""
    m = _TERM_DEFINED.search(sentence)
    return m.group(1) if m else ""


def _date_words(day: str) -> str:
    """"2025-04-15" -> "2025 April": a question may name the date an article carries."""
    parts = (day or "").split("-")
    if len(parts) >= 2 and parts[1].isdigit() and 1 <= int(parts[1]) <= 12:
        return f"{parts[0]} {_MONTHS.split('|')[int(parts[1]) - 1]}"
    return parts[0]


def acronyms_met(c: Constraint, context: frozenset, raw: str) -> bool | None:
    """For a name with acronyms ("DOE", "US LNG"): whether each acronym occurs, or its expansion does
    ("Department of Energy", "liquefied natural gas"), and the name's other words; None without acronyms."""
    acronyms = [w for w in re.findall(r"\b[A-Z]{2,6}\b", c.text) if w.lower() in c.terms]
    if not acronyms:
        return None
    initials = initialisms(raw)
    rest = [t for t in c.terms if t not in {w.lower() for w in acronyms}]
    return all(w.lower() in context or w in initials for w in acronyms) and all(t in context for t in rest)


def _meets(c: Constraint, context: frozenset, raw: str, sentence: str) -> bool:
    if c.kind == "ordinal":
        return c.rank in ordinals_of(c.terms[0], sentence) if c.terms else False
    if c.kind == "year":
        low = raw.lower()
        if c.text.lower() in low or all(y in low for y in c.terms):
            return True
        for m in _RANGE.finditer(raw):  # "2020-23" covers 2021
            lo, hi = int(m.group(1)), int(m.group(2) if len(m.group(2)) == 4 else m.group(1)[:2] + m.group(2))
            if all(lo <= int(y) <= hi for y in c.terms):
                return True
        return False
    if c.group == "norp":
        return norp_met(c, context)
    if all(t in context for t in c.terms) and (len(c.terms) != 2 or _together(c.terms, raw)):
        return True  # two common words must stand together: "Energy Fuels"
    if len(c.terms) >= 3 and sum(t in context for t in c.terms) >= len(c.terms) - 1:
        return True  # "the C5+1 Critical Minerals Dialogue" vs "the C5+1 Dialogue on critical minerals"
    if acronyms_met(c, context, raw):
        return True
    return any(al in context for al in c.aliases)  # "DOI" for "Interior", "MSP" for "Minerals Security Partnership"


def norp_met(c: Constraint, context: frozenset) -> bool:
    """A nationality is met by its country: "Australian" by "Australia's", "Pakistani" by "Pakistan"."""
    return any(t in context or any(w.startswith(t[: max(4, len(t) - 3)]) for w in context) for t in c.terms)


def _together(terms: list[str], raw: str) -> bool:
    """The words of a name stand close together in one part of the text ("Energy Fuels" is not met
    by "Department of Energy … fossil fuels"): all within len(terms) + 2 words of each other."""
    span = len(terms) + 2
    for part in raw.split(" . "):
        toks = tokenize(part)
        where = {t: [i for i, x in enumerate(toks) if x == t] for t in terms}
        if not all(where.values()):
            continue
        for i in where[terms[0]]:
            if all(any(abs(j - i) <= span for j in where[t]) for t in terms[1:]):
                return True
    return False


def _alternative(c: Constraint, sentence: str, ents, a: Analysis) -> str:
    """What the sentence states in place of an unmet constraint (another year, another place,
    another one of several: "the first phase" for "the second phase"), or ""."""
    if c.kind == "ordinal":
        other = ordinals_of(c.terms[0], sentence) if c.terms else set()
        return f"the {next(w for w, r in ORDINALS.items() if r == min(other))} {c.terms[0]}" if other else ""
    if c.kind == "year":
        asked = set(c.terms)
        years = [y for y in re.findall(r"\b(?:19|20)\d{2}\b", sentence) if y not in asked]
        return years[0] if years else ""
    labels = _GROUP_LABELS.get(c.group)
    if not labels:
        return ""
    named = {t for other in a.constraints if other.kind == "name" for t in other.terms}
    for s, e, label in ents:
        if label in labels:
            text = sentence[s:e]
            if not set(tokenize(text)) <= named:
                return text
    return ""


# ---------------------------------------------------------------- the answer type


def _new_name(a: Analysis):
    """A test: is a name not one the question itself gives ("General Electric" is the question's "GE")?"""
    named = {t for c in a.constraints if c.kind == "name" for t in tokenize(c.text)}
    asked_acronyms = {w for c in a.constraints for w in re.findall(r"\b[A-Z]{2,6}\b", c.text)}

    def new(text: str) -> bool:
        if set(tokenize(text)) <= named:
            return False
        words = [w for w in re.findall(r"[A-Za-z][\w’'-]*", text) if w.lower() not in ("the", "of", "and", "for")]
        return "".join(w[0].upper() for w in words) not in asked_acronyms
    return new


def answer_name(a: Analysis, sentence: str, ents, label: str) -> str:
    """The name of kind `label` (ORG, PERSON) that answers `a` in `sentence`, one the question does
    not give; "" when there is none. For ORG: a company before a government body ("the Department …
    has awarded MP Materials $35 million" -> MP Materials), then a proper-noun run the small model
    did not tag, then a name it took for a person ("Syrah Resources"), then the government body."""
    new = _new_name(a)
    named = [(sentence[s:e], lab) for s, e, lab in ents if new(sentence[s:e])]
    if label != "ORG":  # a person, else one named by office ("the Secretary of Commerce shall submit …")
        office = next((m.group(0) for m in _OFFICE.finditer(sentence) if new(m.group(0))), "") if label == "PERSON" else ""
        return next((t for t, lab in named if lab == label), "the " + office if office else "")
    orgs = [t for t, lab in named if lab == "ORG"]
    company = next((t for t in orgs if not _GOVERNMENT.match(t)), "")
    if company:
        return company
    from ..ingest.nlp import parse

    run: list = []
    for t in [*parse(sentence), None]:
        if (t is not None and t.i > 0 and t.text[:1].isupper() and t.pos_ in ("PROPN", "NOUN")
                and not any(s <= t.idx < e for s, e, _lab in ents)):
            run.append(t)  # untagged: inside no entity the model did find
            continue
        text = sentence[run[0].idx : run[-1].idx + len(run[-1].text)] if run else ""
        if any(x.pos_ == "PROPN" for x in run) and new(text) and not _GOVERNMENT.match(text):
            return text
        run = []
    return next((t for t, lab in named if lab == "PERSON"), orgs[0] if orgs else "")


def _carries(a: Analysis, sentence: str, ents, terms: frozenset, in_list: bool, heading: str = "", similar=None) -> tuple[float, str]:
    kind = a.atype
    labels = [label for _s, _e, label in ents]
    spans = {label: sentence[s:e] for s, e, label in reversed(ents)}
    if kind == "money":
        for s, e, label in ents:
            if label == "MONEY" and re.search(r"\d", sentence[s:e]):
                return 1.0, sentence[s:e]
        m = _MONEY.search(sentence)
        if m:
            return 1.0, m.group(0)
        label_part = sentence.split(":", 1)[0] if ":" in sentence else ""
        if re.search(r"\b(?:dollars?|usd|prices?)\b|\$", heading + " " + label_part, re.I) and _NUMBER.search(sentence):
            return 1.0, _NUMBER.search(sentence).group(0)  # a table row under "Price, dollars per kilogram"
        return 0.0, ""
    if kind == "percent":
        m = _PERCENT.search(sentence)
        if "PERCENT" in labels:
            return 1.0, spans["PERCENT"]
        return (1.0, m.group(0)) if m else (0.0, "")
    if kind == "date":
        deadline = bool(_DEADLINE_ASKED.search(a.question))  # "until what date …?": the date a period ends
        found = (0.0, "")
        for s, e, label in ents:
            if sentence[s:e] in ("may", "march"):
                continue  # "the Secretary may continue": a verb the tagger (or the pattern) takes for a month
            if label in ("DATE", "TIME") and _DATE.search(sentence[s:e]) and not _only_asked_years(sentence[s:e], a):
                if not deadline or _DEADLINE.search(sentence[max(0, s - 24) : s]):
                    return 1.0, sentence[s:e]  # a year, a month, "within 90 days" — not "14017", an order's number
                found = max(found, (0.5, sentence[s:e]))
        m = next((x for x in _DATE.finditer(sentence) if x.group(0) not in ("may", "march")), None)
        if m and not _only_asked_years(m.group(0), a) and not found[0]:
            return (1.0 if not deadline or _DEADLINE.search(sentence[max(0, m.start() - 24) : m.start()]) else 0.5), m.group(0)
        return found if found[0] else (0.5, spans["DATE"]) if "DATE" in labels else (0.0, "")
    if kind == "quantity":
        return _quantity(a, sentence, ents, similar)
    new = _new_name(a)
    if kind in ("person", "organization", "place"):
        want = {"person": {"PERSON"}, "organization": {"ORG"}, "place": _PLACE}[kind]
        if kind == "organization" and a.focus in _COUNTRY_OR_BODY:
            want = {"ORG", "GPE", "NORP"}  # a partner, a member: a country as well as a body
        if kind == "place" and a.focus in ("city", "state", "country", "province", "county", "town", "nation"):
            want = {"GPE"}
        best = (0.0, "")
        for s, e, label in ents:
            text = sentence[s:e]
            fresh = new(text)
            if label == "FAC" and " " not in text.strip():
                continue  # a lone capitalised word ("Framework") is no place
            if label in want and fresh:
                if kind == "organization" and a.focus in ("company", "companies", "firm", "producer", "manufacturer", "business") and _GOVERNMENT.match(text):
                    best = max(best, (0.5, text))
                    continue
                return 1.0, text
            if kind == "person" and label == "ORG" and fresh and a.wh in ("who", "whom"):
                best = max(best, (0.8, text))  # "who mines bastnaesite?": a company can be the "who"
        if kind == "person" and best[0] < 1.0:  # "the Secretary of Defense shall submit …": a person by office
            office = next((m.group(0) for m in _OFFICE.finditer(sentence) if new(m.group(0))), "")
            if office:
                return (1.0 if a.focus in _OFFICE_FOCUS else max(best[0], 0.8)), office
        return best
    if kind == "reason":
        m = _CAUSAL.search(sentence)
        return (1.0, m.group(0)) if m else (0.0, "")
    if kind == "use":
        m = _USE.search(sentence)
        return (1.0, m.group(0)) if m else (0.5, "")
    if kind == "list":
        if a.element in ("person", "organization", "place"):  # items of the asked kind
            want = {"person": {"PERSON"}, "organization": {"ORG"}, "place": _PLACE}[a.element]
            if a.focus in _COUNTRY_OR_BODY:
                want = {"ORG", "GPE", "NORP"}
            found = sum(label in want and new(sentence[s:e]) for s, e, label in ents)
            return (1.0 + 0.01 * min(found, 9), "") if found >= 2 else (0.8, "") if in_list and found else (0.5, "")
        if in_list or _ENUM.search(sentence):
            return 1.0, ""
        return 0.5, ""
    if kind == "description" and _DEFINES.search(sentence):
        term = _TERM_DEFINED.search(sentence)
        names = [c for c in a.names if not c.article_wide]  # what is to be defined (not whose term it is)
        names = [c for c in names if c.required] or names  # "'processed critical minerals' … in the Section 232 order"
        defined = set(tokenize(term.group(1))) if term else set(terms)
        if not (any(set(c.terms) <= defined for c in names) if names else (defined & set(a.terms) if term else True)):
            return 0.85, ""  # the definition of another term ("critical minerals" for "processed critical minerals")
        return 1.0, ""  # "The term “X” means …", "X is a …": the definition leads
    return (0.85, "") if kind == "description" else (1.0, "")  # yes/no: the constraints and the relevance decide


# What a use sentence says: "used in/for", "end use", "applications", "essential for …", "to make …",
# "magnets power everything from …", "goes into", "technologies such as …".
_USE = re.compile(r"\b(?:(?:are|is|was|were|be|being) used\b|used (?:in|for|to|by)\b|end[- ]uses?\b|uses? (?:in|include)\b|applications? (?:include|such as)\b|"
                  r"(?:essential|needed|necessary|required|critical|vital|key|important|indispensable) (?:for|to|in)\b|"
                  r"(?:for|in) (?:manufactur\w*|making|producing|the production of)\b|to (?:make|produce|manufacture|power|build)\b|"
                  r"components? (?:of|in|for)\b|\bpower(?:s|ed|ing)? (?:everything|our|the|electric|modern)\b|\bgo(?:es)? into\b|"
                  r"\b(?:products|technologies|devices|goods) (?:such as|like|including)\b)", re.I)


_LIGHT_VERBS = frozenset("be have do make want get take give say need use let put go come see consider regard view call deem "
                         "describe think believe".split())  # and verbs of seeing a thing as something


def _about_event(a: Analysis, sentence: str) -> bool:
    """For "why": does the sentence speak of the asked event (one of the question's own verbs)?"""
    from ..ingest.nlp import parse

    q = parse(a.question)
    verbs = [t for t in q if t.pos_ == "VERB" and t.lemma_.lower() not in _LIGHT_VERBS]
    if not verbs:
        return True
    lemmas = {t.lemma_.lower() for t in parse(sentence)}
    stems = set(tokenize(" ".join(lemmas)))

    def has(word: str) -> bool:
        return word in lemmas or any(s in stems for s in tokenize(word))

    for v in verbs:  # the event: a verb of the question, with its object when it has one ("sign … an *agreement*")
        objects = [c for c in v.children if c.dep_ in ("dobj", "attr", "oprd") and c.pos_ in ("NOUN", "PROPN")]
        if has(v.lemma_.lower()) and all(has(o.lemma_.lower()) for o in objects):
            return True
    return False


def _only_asked_years(text: str, a: Analysis) -> bool:
    """A date span that is just a year the question itself names is no answer to "when"."""
    years = set(re.findall(r"\b(?:19|20)\d{2}\b", text))
    asked = {y for c in a.years for y in c.terms}
    return bool(years) and years <= asked and not re.search(_MONTHS, text, re.I) and not re.search(r"\d{1,2},", text)


def _quantity(a: Analysis, sentence: str, ents, similar=None) -> tuple[float, str]:
    focus = set(tokenize(a.focus)) if a.focus else set()
    taken = [(s, e) for s, e, label in ents if label in ("MONEY", "PERCENT")]
    years = set(re.findall(r"\b(?:19|20)\d{2}\b", " ".join(c.text for c in a.years)))
    found = 0.0, ""
    for m in _NUMBER.finditer(sentence):
        if any(s <= m.start() < e for s, e in taken):
            continue
        if m.group(0) in years or (re.fullmatch(r"(?:19|20)\d{2}", m.group(0)) and not focus & {"year"}):
            continue  # a year is not a count
        if not focus:
            return 1.0, m.group(0)
        after = sentence[m.end() : m.end() + 60]
        before = sentence[max(0, m.start() - 60) : m.start()]
        near = set(tokenize(" ".join(after.split()[:5]))) | set(tokenize(" ".join(before.split()[-4:])))
        if focus & near:
            return 1.0, (m.group(0) + " " + " ".join(after.split()[:2])).strip()
        nouns = [w.strip(",.;:()") for w in after.split()[:3] if len(w.strip(",.;:()")) > 2 and w[:1].isalpha()]
        if similar is not None and nouns and max(similar(a.focus, w) for w in nouns) >= SIMILAR_FOCUS:
            return 1.0, (m.group(0) + " " + " ".join(after.split()[:2])).strip()  # "people" ~ "employees"
        found = max(found, (0.5, m.group(0)))
    if focus & {"day", "week", "month", "year"}:
        for s, e, label in ents:
            if label == "DATE" and re.search(r"\d", sentence[s:e]):
                return 1.0, sentence[s:e]
    return found


# ---------------------------------------------------------------- premises of change

_DOWN = frozenset("cut reduce lower decrease drop decline fall shrink lose remove cancel end terminate withdraw halt stop "
                  "suspend lapse abandon scrap exclude ban block reject close slash shut slower slow later delay fewer less "
                  "worse weaker smaller longer".split())
_UP = frozenset("increase raise expand extend renew add additional grow boost include including strengthen launch open "
                "accelerate approve more higher continue build renewed extended expanded added increased faster quicker "
                "sooner earlier greater better stronger larger shorter".split())


def contrary_change(a: Analysis, sentence: str) -> tuple[str, str] | None:
    """(the question's verb of change, the sentence's opposite phrase) when the question assumes a
    decrease ("why did X *cut* its investment") and the sentence reports the opposite ("an
    *additional* investment"), or the reverse; None otherwise."""
    from ..ingest.nlp import parse

    q = parse(a.question)
    asked = next((t for t in q if t.lemma_.lower() in _DOWN | _UP and t.pos_ in ("VERB", "NOUN", "ADJ")), None)
    if asked is None:
        return None
    lemma = asked.lemma_.lower()
    opposite = _UP if lemma in _DOWN else _DOWN
    doc = parse(sentence)
    same = _DOWN if lemma in _DOWN else _UP
    if any(t.lemma_.lower() in same for t in doc):
        return None
    for t in doc:
        if t.lemma_.lower() in opposite or t.lower_ in opposite:
            words = [t.text] + [x.text for x in doc[t.i + 1 : t.i + 4] if x.pos_ in ("NOUN", "PROPN", "ADJ", "ADP", "DET", "NUM")][:2]
            return asked.text + (" " + asked.nbor().text if asked.i + 1 < len(q) and asked.nbor().dep_ == "prt" else ""), " ".join(words)
    return None


def contrary_count(a: Analysis, sentence: str) -> tuple[str, str] | None:
    """(the question's count, the sentence's) when the question assumes a count of a thing ("why did
    Commerce designate only *13* Tech Hubs") and the sentence, which names that thing, gives another
    count and never the asked one ("the designation of *31* communities … as … Tech Hubs"); None otherwise."""
    from ..ingest.nlp import parse

    q = parse(a.question)
    asked = next((t for t in q if _count(t) and not (t.i > 0 and q[t.i - 1].text[:1].isupper())), None)  # "Section 232": a name
    if asked is None:
        return None
    thing = asked.head.lemma_.lower()
    doc = parse(sentence)
    if asked.text in re.findall(r"\d+", sentence) or not any(t.lemma_.lower() == thing for t in doc):
        return None
    for t in doc:  # a count of that thing, or of what is then called that thing ("31 communities … as … Tech Hubs")
        if not _count(t):
            continue
        window = doc[t.head.i : t.i + 13]
        called = any(x.lower_ == "as" for x in window) and any(x.lemma_.lower() == thing for x in window)
        if t.head.lemma_.lower() == thing or called:
            return q[asked.i : asked.head.i + 1].text, f"{t.text} {t.head.text}"
    return None


def _count(t) -> bool:
    """A number counting the noun it modifies ("31 communities"), not a year, share or amount."""
    nxt = t.nbor().lower_ if t.i + 1 < len(t.doc) else ""
    return (t.like_num and bool(re.fullmatch(r"\d{1,4}", t.text)) and not _YEAR_LIKE.fullmatch(t.text) and t.head.pos_ in ("NOUN", "PROPN")
            and t.head.i > t.i and nxt not in ("%", "percent", "million", "billion", "trillion", "thousand")
            and not (t.i > 0 and t.doc[t.i - 1].text in ("$", "€", "£")))


_YEAR_LIKE = re.compile(r"(?:19|20)\d{2}")
