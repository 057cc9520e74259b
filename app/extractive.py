"""The offline writer: choose, order and cite the sentences of the retrieved passages that answer
the question — and say what they do not say.

Every sentence is scored for relevance (embedding similarity and idf-weighted term overlap with
the question) and checked (check.py) for what the question asks: the expected answer type linked
to its focus, and its constraints (names, years). Then there are three outcomes:

- answered: the best sentence that passes the check leads; at most `MAX_SUPPORT` more sentences
  follow when they add asked-for facts (a list question gets its whole list, as items);
- partial: sentences are about the asked subject but none carries what was asked: quote the best
  of them, then "They don't say <what was asked>"; when a sentence states something else in place
  of the question's premise (another year, another place), say so;
- abstained: nothing retrieved is about the question.

Every quoted sentence is an exact span of its article, so each citation highlights the words the
answer rests on. Thresholds are fitted on the tune split of eval/dev.jsonl (see README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..ingest.lexical import tokenize
from ..ingest.split import sentence_spans
from .check import Evidence, check, contrary_change, contrary_count, defined_term
from .question import Analysis
from .retrieve import next_chunk_id
from .rewrite import carried_weight, typed_part
from .schema import Citation, Passage, Sentence

MAX_SUPPORT = 2  # sentences after the lead that add asked-for facts
MAX_EMBEDDED = 24  # candidate sentences embedded per answer (the rest only complete lists)
MAX_LIST_ITEMS = 8
W_DENSE, W_LEXICAL, W_PREDICATE = 0.55, 0.25, 0.20  # relevance: similarity, term overlap, overlap with what is asked of the subject
SOFT_BONUS = 0.03  # per descriptive name of the question the sentence also meets
_ONE_VALUE = frozenset({"money", "percent", "date", "quantity", "place", "person", "organization"})  # one value is asked
LIST_ENUM_BONUS = 0.05  # an enumerating sentence that names the asked kind ("minerals … include …") over list lines
ANTECEDENT_WEIGHT = 0.3  # a word of the sentence that a "This …" sentence leans on counts this much in it (0.3, 0.5, 0.7 tried on tune and probes 2–4: 0.5 and up let such sentences crowd in as supports)
_ANAPHOR = re.compile(r"^(?:This|These|That|Those|It|Its|They|Their|Such|The (?:same|latter|former)|(?:By )?[Dd]oing so|"
                      r"(?:Because of|Given|For|In light of|Due to|As a result of|In view of) (?:these|those|this|such)|Therefore|Thus)\b")
# A sentence saying what the step of the sentence before it will do: its purpose ("Doing so would
# streamline …", "This will help …", "These steps are intended to …")
_EFFECT = re.compile(r"^(?:(?:By )?[Dd]oing so|(?:This|These|That|Such)(?: \w+){0,3}|Together,? these(?: \w+){0,2}),? (?:\w+ ){0,2}?"
                     r"(?:will|would|could|can|is intended to|are intended to|is meant to|are meant to|aims? to|seeks? to|"
                     r"helps?|ensures?|allows?|enables?)\b")
_LABEL = re.compile(r"^[A-Z][^:.!?\n]{1,48}:\s+\S")


@dataclass
class Candidate:
    passage: Passage
    rank: int
    start: int  # article offsets
    end: int
    text: str
    ents: list = field(default_factory=list)  # entity spans relative to the sentence
    terms: frozenset = frozenset()
    dense: float = 0.0
    lexical: float = 0.0
    pcov: float = 0.0  # share (idf-weighted) of the question's non-name terms in the sentence
    score: float = 0.0  # relevance
    ev: Evidence | None = None
    in_list: bool = False
    sentence: int = -1  # its index in sentence_spans(passage.text): the ingest-time vector's row

    @property
    def context(self) -> str:
        return "\n".join(x for x in (self.passage.title, self.passage.heading, self.text) if x)


@dataclass
class Draft:
    status: str  # answered | partial | abstained
    chosen: list[Candidate] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # per chosen sentence: answer | support | item
    notes: list[str] = field(default_factory=list)  # Assay's own sentences ("They don't say …")
    missing: list[str] = field(default_factory=list)
    confidence: float = 0.0
    reason: str = ""


def candidates(passages: list[Passage]) -> list[Candidate]:
    """Every quotable sentence of the passages, once (overlapping chunks repeat sentences)."""
    seen: set[tuple[str, int, int]] = set()
    out = []
    for rank, p in enumerate(passages):
        groups = [span for g in list_groups(p) for span in g]
        for j, (a, b) in enumerate(sentence_spans(p.text)):
            start, end = p.char_start + a, p.char_start + b
            key = (p.article_id, start, end)
            text = p.text[a:b]
            if key in seen or len(text.split()) < 3:
                continue  # fragments are not answers
            if any(fa <= start and end <= fb for fa, fb in p.furniture):
                continue  # memo headers and signature blocks are never quoted
            seen.add(key)
            ents = [(s - a, e - a, label) for s, e, label in p.ents if a <= s and e <= b]
            in_list = any(x <= start < y for x, y in groups)
            out.append(Candidate(p, rank, start, end, text, ents, frozenset(tokenize(text)), in_list=in_list,
                                 sentence=j))
    return out


@dataclass(frozen=True)
class Thresholds:
    """The writer's decision thresholds (relevance scores in [0, 1]); `assay eval fit` fits them."""

    topical: float = 0.34  # no sentence this similar: off-topic (midway between the tune split's off-topic questions, at most 0.28, and its answerable ones, at least 0.41)
    answer: float = 0.475  # relevance a sentence that passes the check needs to be the answer
    about: float = 0.425  # relevance a sentence needs to be quoted as what the articles *do* say (partial)
    support: float = 0.8  # a support sentence scores at least this share of the lead's relevance


THRESHOLDS = Thresholds()  # answer/about/support fitted on the tune split of eval/dev.jsonl (206 questions) with `assay eval fit`, on late-chunked sentence vectors


@dataclass
class Scored:
    """Everything `decide` needs: the candidates with relevance and checks, or an early outcome."""

    cands: list[Candidate]
    early: Draft | None = None
    idf: object = None


def write(a: Analysis, query: str, passages: list[Passage], engine, t: Thresholds = THRESHOLDS) -> Draft:
    """Choose and order the sentences that answer `a` (the analysis of `query`), or say what is missing."""
    return decide(a, score(a, query, passages, engine), t)


def score(a: Analysis, query: str, passages: list[Passage], engine) -> Scored:
    """The expensive half of the writer: candidate sentences, their relevance and answer checks."""
    cands = candidates(passages)
    follows = _list_continuations(passages, engine)
    if follows:
        fetched = {id(q) for q in follows}
        more = [c for c in candidates([*passages, *follows]) if id(c.passage) in fetched]
        for c in more:
            c.rank += len(passages)
        cands += more
    if not cands:
        return Scored(cands, Draft("abstained", reason="no quotable sentence in the passages"))
    missing = _names_nowhere(a, passages, engine.index.lexical(), engine.index.article_text)
    if missing:
        names = ", ".join(missing)
        return Scored(cands, Draft("abstained", missing=missing, reason=f"the articles found do not mention {names}",
                                   notes=[f"The articles don't say anything about {names}."]))
    _score(a, query, cands, engine)
    return Scored(cands, None, engine.index.lexical().idf)


def decide(a: Analysis, scored: Scored, t: Thresholds = THRESHOLDS) -> Draft:
    """The cheap half: the outcome and the sentences, from scored candidates and thresholds."""
    if scored.early is not None:
        return scored.early
    cands = scored.cands
    pool = [c for c in cands if c.ev is not None]
    top_dense = max(c.dense for c in pool)
    if top_dense < t.topical:
        return Draft("abstained", reason=f"off-topic for these articles (best similarity {top_dense:.2f})")
    about = sorted((c for c in pool if c.ev.coverage == 1.0), key=lambda c: -c.score)
    answers = [c for c in about if c.ev.carries >= 0.8 and c.score >= t.answer]
    top = (answers or [c for c in about if c.score >= t.about] or [None])[0]
    if top is not None and a.atype in ("reason", "yesno", "description"):
        change = contrary_change(a, top.text)
        if change is not None:  # "why did X cut …?" where the article reports an increase
            verb, phrase = change
            return Draft("partial", [top], ["answer"], [f"They report “{phrase}”, not that it was {verb}: the question's premise does not match."],
                         missing=[verb, phrase], confidence=round(top.score, 3), reason=f"the articles contradict “{verb}”")
        count = contrary_count(a, top.text)
        if count is not None:  # "why only 13 Tech Hubs?" where the article designates 31
            asked_count, stated = count
            return Draft("partial", [top], ["answer"], [f"They give “{stated}”, not {asked_count}: the question's premise does not match."],
                         missing=[asked_count], confidence=round(top.score, 3), reason=f"the articles contradict “{asked_count}”")
    if answers:
        return _answered(a, answers, about, cands, t)
    asked = a.asked()
    said = [c for c in about if c.score >= t.about]
    if said:
        best = said[0]
        nxt = next((c for c in pool if c.passage is best.passage and 0 < c.start - best.end <= 2), None)
        completes = nxt is not None and nxt.ev.coverage == 1.0 and (
            (a.atype in ("date", "quantity") and nxt.ev.carries >= 1.0) or (a.atype == "reason" and _EFFECT.match(nxt.text)))
        if completes:
            # the answer completes the sentence before it ("… comments on the Request for Information …
            # Comments can be made through July 31, 2022"): a date or a count tied to its noun; for "why",
            # what the asked step will do ("… to add Australia as a 'domestic source' … Doing so would streamline …")
            return Draft("answered", [nxt, best], ["answer", "support"], confidence=round(best.score, 3))
        return Draft("partial", [best], ["answer"], [a.missing_note()], missing=[asked],
                     confidence=round(best.score * best.ev.carries, 3),
                     reason=f"the passages are about it but do not say {asked}")
    conflict = _conflict(a, pool, scored.idf, t)
    if conflict is not None:
        c, constraint, alt = conflict
        return Draft("partial", [c], ["answer"], [f"They say {alt}, not {constraint.text}."], missing=[constraint.text],
                     confidence=round(c.score, 3), reason=f"the articles state {alt} where the question says {constraint.text}")
    best = max(pool, key=lambda c: c.score)
    unmet = [c.text for c in best.ev.unmet if c.required]
    if unmet:
        names = ", ".join(unmet)
        return Draft("abstained", missing=unmet, reason=f"no passage is about {names} (best sentence score {best.score:.2f})",
                     notes=[f"The articles don't say anything about {names}."])
    return Draft("abstained", missing=[asked], reason=f"weak support (best sentence score {best.score:.2f})")


def _score(a: Analysis, query: str, cands: list[Candidate], engine) -> None:
    """Relevance for the most promising sentences, and the answer check for each of them."""
    lex = engine.index.lexical()
    qterms = list(dict.fromkeys(tokenize(query)))  # the standalone query: a follow-up's carried subject counts
    own, carried = set(tokenize(typed_part(query))), carried_weight(query)  # a follow-up's carried context counts less when it has its own subject
    weights = {t: lex.idf(t) * (1.0 if t in own else carried) for t in qterms if t not in a.excluded}  # "apart from X": X is not asked
    total = sum(weights.values()) or 1.0
    named = {t for k in a.constraints if k.kind != "ordinal" for t in k.terms}
    pweights = {t: lex.idf(t) for t in a.terms if t not in named}  # what is asked about the subject
    ptotal = sum(pweights.values())
    leads = _lead_ins(cands)
    before = _antecedents(cands)
    for c in cands:  # a name the sentence meets through its title or heading counts as its own words
        lead = leads.get(id(c), frozenset())
        context = c.terms | (named & frozenset(tokenize(" ".join((c.passage.title, c.passage.heading))))) | lead
        own = c.terms | lead
        # "This tariff shall be effective …" is read with the sentence that names the tariff, at a discount
        inherited = before[id(c)].terms if id(c) in before else frozenset()
        c.lexical = sum(w * (1.0 if t in context else ANTECEDENT_WEIGHT if t in inherited else 0.0) for t, w in weights.items()) / total
        c.pcov = sum(w * (1.0 if t in own else ANTECEDENT_WEIGHT if t in inherited else 0.0)
                     for t, w in pweights.items()) / ptotal if ptotal else 0.0
    # Embedding every sentence is the answer's main cost: score the most promising ones only
    # (term overlap first, then passage rank); the rest stay available to complete a list.
    order = sorted(range(len(cands)), key=lambda i: (-cands[i].lexical, cands[i].rank))
    pool = [cands[i] for i in sorted(order[:MAX_EMBEDDED])]
    vecs = sentence_vectors(pool, engine)
    qv = engine.embed([query], cache="q")[0]

    def similar(x: str, y: str) -> float:  # word-level meaning ("people" ~ "employees"), cached by the engine
        vx, vy = engine.embed([x, y])
        return float(vx @ vy)

    passage_terms: dict[str, frozenset] = {}  # a passage's words, once for all of its sentences
    articles: dict[str, str] = {}  # a follow-up's carried names, and the setting's, may be met anywhere in the article
    article_wide = any(k.article_wide and k.required for k in a.constraints)
    for c, v, d in zip(pool, vecs, vecs @ qv):
        c.dense = float(d)
        c.vec = v
        c.score = W_DENSE * c.dense + W_LEXICAL * c.lexical + W_PREDICATE * c.pcov + 0.02 / (1 + c.rank)
        p = c.passage
        if p.chunk_id not in passage_terms:
            passage_terms[p.chunk_id] = frozenset(tokenize(p.text))
        if article_wide and p.article_id not in articles:
            articles[p.article_id] = engine.index.article_text(p.article_id) or ""
        c.ev = check(a, c.text, c.ents, title=p.title, heading=p.heading, published=p.published, publisher=p.publisher,
                     terms=c.terms, in_list=c.in_list, similar=similar, block=p.text, block_terms=passage_terms[p.chunk_id],
                     article=articles.get(p.article_id, ""))
        c.score += SOFT_BONUS * sum(1 for k in c.ev.met if not k.required)  # "US reserves", "Australian": preferred, not required


def sentence_vectors(pool: list[Candidate], engine) -> np.ndarray:
    """A vector per candidate: the one ingest pooled from the chunk's own forward pass (late
    chunking), so that answering embeds only the query; sentences without one are embedded now."""
    out: list = [None] * len(pool)
    if hasattr(engine, "sentence_vectors"):
        stored: dict = {}
        for i, c in enumerate(pool):
            cid = c.passage.chunk_id
            if cid not in stored:
                rows = engine.sentence_vectors(cid)
                stored[cid] = rows if rows is not None and len(rows) == len(sentence_spans(c.passage.text)) else None
            rows = stored[cid]
            if rows is not None and 0 <= c.sentence < len(rows) and rows[c.sentence].any():
                out[i] = rows[c.sentence]
    todo = [i for i, v in enumerate(out) if v is None]
    if todo:
        for i, v in zip(todo, engine.embed([pool[i].context for i in todo])):
            out[i] = v
    return np.stack(out) if out else np.zeros((0, 1), dtype=np.float32)


def _answered(a: Analysis, answers: list[Candidate], about: list[Candidate], cands: list[Candidate], t: Thresholds) -> Draft:
    if a.excluded:  # "apart from catalysts, …": a sentence that names what is left out answers only when no other does
        kept = [c for c in answers if not c.terms & a.excluded]
        if kept:
            answers, about = kept, [c for c in about if not c.terms & a.excluded]
    if a.atype == "list":
        listed = _best_list(a, about, cands, t)
        if listed:
            head, items = listed
            return Draft("answered", ([head] if head else []) + items, (["answer"] if head else []) + ["item"] * len(items),
                         confidence=round(max(c.score for c in items), 3))
    if a.atype == "list":  # the enumeration that names the asked kind
        focus = set(tokenize(a.focus)) if a.focus else set()
        # a sentence whose asked-kind word introduces the items leads, even as a list line; then the
        # enumerating sentences outside lists
        def rank(c: Candidate) -> tuple:
            bonus = _enum_bonus(a, focus, c)
            return bonus > LIST_ENUM_BONUS, c.ev.carries >= 1.0 and not c.in_list, c.score + bonus

        lead = max(answers, key=rank)
    else:  # "what's in the second phase?": a sentence about the second phase leads, before one about the plan
        named_one = [c for c in answers if any(k.kind == "ordinal" for k in c.ev.met)]
        lead = max(named_one or answers, key=lambda c: (c.ev.carries, c.score) if a.atype == "description" else (c.score + 0.05 * c.ev.carries, 0))
    if _opens_list(lead):  # "… several challenges remain:" says nothing without the items it opens
        items = expand_list(lead, about, cands)
        if items and items[0] is lead and len(items) > 2:
            return Draft("answered", items, ["answer"] + ["item"] * (len(items) - 1), confidence=round(lead.score, 3))
        rest = [c for c in answers if not _opens_list(c)]
        if not rest:
            return Draft("answered", [lead], ["answer"], confidence=round(lead.score, 3))
        return _answered(a, rest, [c for c in about if c is not lead], cands, t)
    chosen = [lead]
    for c in answers + about:
        if len(chosen) > MAX_SUPPORT or c in chosen or c.score < t.support * lead.score or _opens_list(c):
            continue
        if c.ev.carries < 0.8 and a.atype not in ("description", "yesno", "reason"):
            continue  # a support sentence must add an asked-for fact
        if any(k.kind == "ordinal" for k, _ in c.ev.conflicts):
            continue  # about another one of them ("the first phase")
        if a.atype == "description" and lead.ev.carries >= 1.0 and c.ev.carries < 1.0 and defined_term(c.text):
            continue  # the asked term's definition leads: another term's definition adds nothing
        if a.atype in _ONE_VALUE and c.passage.article_id != lead.passage.article_id and c.pcov <= lead.pcov:
            continue  # one amount, date or place is asked: another article's is another fact, unless it says more of what was asked
        if any(float(c.vec @ x.vec) > 0.92 for x in chosen):
            continue  # says the same as a sentence already chosen
        chosen.append(c)
    chosen = _with_continuations(chosen, cands)
    # The lead first; the rest in reading order (by article of first appearance).
    rest = chosen[1:]
    first_seen: dict[str, int] = {}
    for pos, c in enumerate(rest):
        first_seen.setdefault(c.passage.article_id, pos)
    same = lead.passage.article_id

    def beside(c: Candidate) -> bool:  # the sentence the lead leans on, or the one that leans on the lead
        return c.passage.article_id == same and ((0 < c.start - lead.end <= 2 and bool(_ANAPHOR.match(c.text)))
                                                 or (0 < lead.start - c.end <= 2 and bool(_ANAPHOR.match(lead.text))))

    rest.sort(key=lambda c: (not beside(c), c.passage.article_id != same, first_seen[c.passage.article_id], c.start))
    chosen = [lead, *rest]
    return Draft("answered", chosen, ["answer"] + ["support"] * (len(chosen) - 1), confidence=round(lead.score, 3))


def _conflict(a: Analysis, pool: list[Candidate], lex_idf, t: Thresholds) -> tuple[Candidate, object, str] | None:
    """A sentence about the question that states something else in place of one of its constraints
    (another year, another place or body): the question's premise is contradicted.

    Only when every other constraint is met, and the unmet one is absent from the sentence (none of
    its distinctive words), not merely worded differently."""
    need = [c for c in a.constraints if c.required]
    if len(need) < 2 and not a.years:
        return None
    best = None
    for c in pool:
        unmet = [u for u in c.ev.unmet if u.required]
        if len(unmet) != 1 or c.score < t.about:
            continue
        hit = next(((k, alt) for k, alt in c.ev.conflicts if k is unmet[0]), None)
        if hit is None:
            continue
        constraint, alt = hit
        if constraint.kind == "name":
            distinctive = [t for t in constraint.terms if lex_idf(t) >= 2.0] or constraint.terms
            if any(t in c.terms for t in distinctive):
                continue
        if best is None or c.score > best[0].score:
            best = (c, constraint, alt)
    return best


def _names_nowhere(a: Analysis, passages: list[Passage], lex, article_text=None) -> list[str]:
    """Required names of the question that no retrieved passage mentions at all: none of their
    words, or not their most distinctive word ("Iluka Resources" where only "resources" occurs).
    A name the whole article may meet (a follow-up's carried name, a setting, "EO 14415") may be
    anywhere in the passages' articles (`article_text`: article id -> its text)."""
    from .check import acronyms_met, norp_met

    have: set[str] = set()
    for p in passages:
        have.update(tokenize(" ".join((p.title, p.heading, p.text, p.publisher))))
    raw = " . ".join(" . ".join((p.title, p.text)) for p in passages)
    wide = [c for c in a.names if c.required and c.article_wide]
    if wide and article_text is not None:
        texts = [article_text(i) or "" for i in dict.fromkeys(p.article_id for p in passages)]
        have_wide, raw_wide = have | set(tokenize(" ".join(texts))), raw + " . " + " . ".join(texts)
    out = []
    for c in a.names:
        if not c.required:
            continue
        if c.article_wide and article_text is not None:
            have_c, raw_c = have_wide, raw_wide
        else:
            have_c, raw_c = have, raw
        if c.group == "norp" and norp_met(c, frozenset(have_c)):
            continue  # "Pakistani" is met by "Pakistan"
        present = sum(t in have_c for t in c.terms)
        rarest = max(c.terms, key=lambda t: lex.idf(t) if t in lex else 99.0)
        if present == 0 or (len(c.terms) >= 2 and (present / len(c.terms) < 0.5 or rarest not in have_c)):
            if not acronyms_met(c, frozenset(have_c), raw_c) and not any(al in have_c for al in c.aliases):
                out.append(c.text)
    return out


# ---------------------------------------------------------------- lists


def _lead_ins(cands: list[Candidate]) -> dict[int, frozenset]:
    """For each list item, the words of the sentence that introduces its list ("There is authorized
    to be appropriated … (1)" before "(A) $23,000,000 for each of fiscal years 2021 and 2022;"): an
    item is read with it. A lead-in is the sentence just before the list that does not end in . ! ?"""
    out: dict[int, frozenset] = {}
    cache: dict[tuple[str, int], frozenset] = {}
    groups: dict[str, list] = {}  # a passage's lists, found once for all of its items
    for c in cands:
        if not c.in_list:
            continue
        p = c.passage
        if p.chunk_id not in groups:
            groups[p.chunk_id] = list_groups(p)
        group = next((g for g in groups[p.chunk_id] if any(x <= c.start < y for x, y in g)), None)
        if group is None:
            continue
        key = (p.chunk_id, group[0][0])
        if key not in cache:
            before = p.text[: group[0][0] - p.char_start]
            spans = sentence_spans(before)
            last = before[spans[-1][0] : spans[-1][1]] if spans else ""
            cache[key] = frozenset(tokenize(last)) if last and last.rstrip()[-1:] not in ".!?" else frozenset()
        out[id(c)] = cache[key]
    return out


_CLAUSE_MARK = re.compile(r"\((?:[A-Za-z]|[ivx]{1,5}|\d{1,2})\)\s")


def list_groups(p: Passage) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Runs of ≥2 sibling lines in a passage (article offsets): the items of a list (lines one
    newline apart, the Article contract's items) or consecutive "Label: text" paragraphs. Found
    once per passage text: candidates, the list choice and its expansion all ask."""
    return _list_groups(p.text, p.char_start)


@lru_cache(maxsize=4096)
def _list_groups(text: str, char_start: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    groups, labels = [], []
    pos = 0
    for block in text.split("\n\n"):
        lines, off = [], pos
        for line in block.split("\n"):
            if line.strip():
                lines.append((char_start + off, char_start + off + len(line)))
            off += len(line) + 1
        pos += len(block) + 2
        if len(lines) >= 2:
            groups.append(lines)
            labels = []
            continue
        text = block.strip()
        head = text.split(":", 1)[0]
        if lines and _LABEL.match(text) and len(head.split()) <= 5 and not any(ch in head for ch in ",;—0123456789"):
            labels.append(lines[0])
            continue
        if lines and _CLAUSE_MARK.match(text):  # "(A) $23,000,000 for …", "(B) …": lettered clauses, one per paragraph
            labels.append(lines[0])
            continue
        if len(labels) >= 2:
            groups.append(labels)
        labels = []
    if len(labels) >= 2:
        groups.append(labels)
    return tuple(tuple(g) for g in groups)


def _best_list(a: Analysis, about: list[Candidate], cands: list[Candidate], t: Thresholds):
    """(lead-in or None, items) that answer a list question, or None.

    Two shapes compete on relevance: the list lines of one passage (items of the asked kind), and
    one sentence that enumerates the items ("… include critical minerals, uranium, copper, …"),
    which leads when it names the asked kind itself."""
    focus = set(tokenize(a.focus)) if a.focus else set()
    best_group, group_score = None, -1.0
    groups: dict[tuple, list[Candidate]] = {}
    lines: dict[int, int] = {}  # candidate -> the start of its list line
    for c in about:
        for group in list_groups(c.passage):
            line = next((x for x, y in group if x <= c.start < y), None)
            if line is not None:
                groups.setdefault((c.passage.chunk_id, group[0][0]), []).append(c)
                lines[id(c)] = line
    for members in groups.values():
        typed = [c for c in members if c.ev.carries >= 0.8]
        top = max(c.score for c in members)
        if typed and top >= t.answer and top > group_score:
            best_group, group_score = members, top
    if best_group is not None:
        typed = [c for c in best_group if c.ev.carries >= 0.8]
        if len({lines[id(c)] for c in typed}) == 1 and max(c.ev.carries for c in typed) > 1.0:
            return None  # one line of the list names the items itself ("New Consulates: … in Bengaluru and Ahmedabad")
    enum, enum_score = None, -1.0
    for c in about:
        bonus = _enum_bonus(a, focus, c)
        if (c.in_list and bonus <= LIST_ENUM_BONUS) or c.ev.carries < 1.0 or c.score < t.answer:
            continue  # a list line competes as one sentence only when it enumerates the asked kind itself
        if c.score + bonus > enum_score:
            enum, enum_score = c, c.score + bonus
    if enum is not None and enum_score >= group_score:
        return None  # the enumerating sentence leads, as an ordinary answer
    if best_group is None:
        for c in (c for c in about if _opens_list(c) and c.score >= t.answer):
            items = expand_list(c, about, cands)
            if items and len(items) > 2:
                return items[0], items[1:]
        return None
    items = expand_list(max(best_group, key=lambda c: c.score), about, cands)
    if not items:
        return None
    head = items[0] if not items[0].in_list or _opens_list(items[0]) else None
    return head, [c for c in items if c is not head]


def _enum_bonus(a: Analysis, focus: set, c: Candidate) -> float:
    """How much an enumerating sentence is preferred for a list question: for naming the asked kind
    ("minerals"), and again when that word introduces the items ("“Minerals” covered by the order
    include critical minerals, uranium, copper …"), not when it only stands near some other series
    ("… signed an order to boost mineral production, streamline permitting, and …")."""
    if not focus & c.terms:
        return 0.0
    stem = re.escape(a.focus[: max(4, len(a.focus) - 2)])
    m = re.search(rf"\b{stem}\w*\W{{0,3}}\b[^.;]{{0,80}}?(?:\binclud(?:e|es|ed|ing)|\bsuch as|\bnamely|\bare|\bwere|:)\s", c.text, re.I)
    return LIST_ENUM_BONUS * (2 if m and _ENUM_AFTER.match(c.text, m.end()) else 1)


_ENUM_AFTER = re.compile(r"(?:[^,;]{1,80},\s*){2,}|(?:[^;]{1,160};\s*){2,}")  # matched where the cue ends


def _opens_list(c: Candidate) -> bool:
    """A lead-in line ("… include the following:"), which needs the items it introduces."""
    return c.text.rstrip().endswith(":")


def expand_list(lead: Candidate, about: list[Candidate], cands: list[Candidate]) -> list[Candidate] | None:
    """The whole list the lead belongs to or opens (its lead-in first, then one sentence per item)."""
    p = lead.passage
    for group in list_groups(p):
        inside = any(a <= lead.start < b for a, b in group)
        opens = 0 <= group[0][0] - lead.end <= 3 and _opens_list(lead)
        if not (inside or opens):
            continue
        head = lead if opens else next((x for x in cands if x.passage is p and 0 <= group[0][0] - x.end <= 3), None)
        if inside:  # a nested list: the item that opens it ("… the following clean energy components:") leads its own items
            at = next(i for i, (a, b) in enumerate(group) if a <= lead.start < b)
            nested = [i for i in range(at + 1) if p.text[group[i][0] - p.char_start : group[i][1] - p.char_start].rstrip().endswith(":")]
            if nested:
                head = _line_head(cands, p, group[nested[-1]]) or head
                group = group[nested[-1] + 1 :]
        items = [x for line in group[:MAX_LIST_ITEMS] if (x := _line_head(cands, p, line)) is not None]
        nxt = next_chunk_id(p.chunk_id)
        q = next((x.passage for x in cands if x.passage.chunk_id == nxt), None)
        if q is not None and group and group[-1][1] >= p.char_end - 2:  # the list runs on in the next chunk
            lines = next(iter(list_groups(q)), ())
            if lines and lines[0][0] <= q.char_start + 2:
                items += [x for line in lines[: MAX_LIST_ITEMS - len(items)] if (x := _line_head(cands, q, line)) is not None]
        return ([head] if head is not None else []) + items
    return None


def _line_head(cands: list[Candidate], p: Passage, line: tuple[int, int]) -> Candidate | None:
    """The first sentence of a list line of passage `p` (article offsets), as a candidate."""
    a, b = line
    return next((x for x in cands if x.passage is p and a <= x.start < b), None)


def _list_continuations(passages: list[Passage], engine) -> list[Passage]:
    """The next chunk of each passage whose last list runs to its end (chunking cut the list), where
    that chunk was not itself retrieved: the rest of the list may be there."""
    have = {p.chunk_id for p in passages}
    out: list[Passage] = []
    following = getattr(engine, "following", None)
    for p in passages:
        groups = list_groups(p)
        if following is None or not groups or groups[-1][-1][1] < p.char_end - 2:
            continue
        nxt = following(p)
        if nxt is not None and nxt.chunk_id not in have:
            have.add(nxt.chunk_id)
            out.append(nxt)
    return out


def _antecedents(cands: list[Candidate]) -> dict[int, Candidate]:
    """For each sentence that leans on the one before it ("This tariff …", "It …"), that sentence."""
    ends = {(c.passage.article_id, c.end): c for c in cands}
    out: dict[int, Candidate] = {}
    for c in cands:
        if _ANAPHOR.match(c.text):
            prev = ends.get((c.passage.article_id, c.start - 1)) or ends.get((c.passage.article_id, c.start - 2))
            if prev is not None:
                out[id(c)] = prev
    return out


def _with_continuations(chosen: list[Candidate], cands: list[Candidate]) -> list[Candidate]:
    """A chosen sentence is followed by the next one when that one leans on it ("This includes…"),
    and a lead that leans on the sentence before it is followed by that sentence."""
    out: list[Candidate] = []
    before = _antecedents(cands)
    for i, c in enumerate(chosen):
        if c not in out:
            out.append(c)
        if i == 0 and id(c) in before and before[id(c)] not in chosen:
            out.append(before[id(c)])
        nxt = next((x for x in cands if x.passage is c.passage and 0 < x.start - c.end <= 2), None)
        if nxt is not None and nxt not in out and _ANAPHOR.match(nxt.text):
            out.append(nxt)
    return out


# ---------------------------------------------------------------- citing


def cite(draft: Draft) -> tuple[str, list[Sentence], list[Citation]]:
    """Answer text with one [n] per cited passage, its sentences and citations (exact spans)."""
    citations: dict[str, Citation] = {}
    sentences, parts = [], []
    for c, kind in zip(draft.chosen, draft.kinds):
        p = c.passage
        cit = citations.get(p.chunk_id) or _merged(citations, p, c.start, c.end)
        if cit is None:
            cit = citations[p.chunk_id] = Citation.of(len(citations) + 1, p, c.start, c.end)
        cit.spans.append([c.start, c.end])
        sentences.append(Sentence(text=c.text, citations=[cit.n], kind=kind, support=1.0, start=c.start, end=c.end, article_id=p.article_id))
        parts.append(("- " if kind == "item" else "") + f"{c.text} [{cit.n}]")
    for note in draft.notes:
        sentences.append(Sentence(text=note, citations=[], kind="note"))
        parts.append(note)
    text = ""
    for i, part in enumerate(parts):
        sep = "" if i == 0 else ("\n" if part.startswith("- ") or parts[i - 1].startswith("- ") else " ")
        text += sep + part
    return text, sentences, list(citations.values())


def _merged(citations: dict[str, Citation], p: Passage, start: int, end: int) -> Citation | None:
    """The citation of an overlapping passage of the same article that holds this sentence too:
    one number for one place (overlapping chunks repeat sentences)."""
    for cit in citations.values():
        if cit.article_id == p.article_id and cit.passage_start <= start and end <= cit.passage_end:
            return cit
    return None
