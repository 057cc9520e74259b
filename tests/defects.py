"""Text defects a reader must never see in a quoted sentence, as plain checks.

Used by tests/test_text_defects.py on every shipped article (load + sentence_spans over every block) and
meant for the same scan over the answers of the development question set: each check takes the text a
reader would see and returns human-readable defect strings (empty list = clean). The checks are written
independently of the loader's own rules, so a loader change cannot quietly redefine "clean".

- `sentence_defects(sentence, headings, next_text=None)`: a sentence cut at an abbreviation or inside a
  legal citation, sub-clauses (a), (b) run together, a heading glued to the sentence, memo or signature
  furniture quoted as a sentence.
- `row_defects(row)`: a linearised table row that kept a footnote marker.
- `furniture_like(text)`: memo headers, signature lines, datelines, time stamps.
- `article_defects(article)`: all of the above over one loaded Article.
"""

from __future__ import annotations

import re

# Abbreviations after which a sentence can never end: a number, a name or a citation always follows.
# ("Gov.", "St." are not here: "But anyway, thanks, Gov." ends a sentence.)
NEVER_FINAL = ("U.S.C.", "C.F.R.", "Sec.", "No.", "Nos.", "e.g.", "i.e.", "Pub. L.", "Pub.", "Stat.",
               "Fed. Reg.", "Fed.", "Reg.", "Mr.", "Mrs.", "Ms.", "Dr.")
# Abbreviations that can end a sentence ("... in Washington, D.C. The leaders ..."), but not when the
# text after them goes on with a number, a lowercase word, "(" or "§" (checked when next_text is given).
MAYBE_FINAL = ("Inc.", "Co.", "Corp.", "Ltd.", "LLC.", "et seq.", "etc.", "Jr.")
_DOTTED = re.compile(r"(?:^|[\s(“\"'])((?:[A-Za-z]\.){2,})$")  # "U.S.", "D.C.", "U.K.", "a.m."
_CONTINUES = re.compile(r"\s*(?:\d|[a-z]|\(|§)")
_CITATION_TAIL = re.compile(r"^\d+[a-z]?(?:\([a-zA-Z0-9]{1,4}\))+")  # "1862(b)) ..." cut from "19 U.S.C."

_CLAUSE = re.compile(r"(?:^|[.:;] |; and |; or )\(([a-z]|[ivx]{1,5}|\d{1,2})\) ")
_ROMAN = {r: i + 1 for i, r in enumerate("i ii iii iv v vi vii viii ix x xi xii".split())}
_SMALL = r"(?:of|and|or|the|to|for|in|on|a|an|with|by|through|from|under|into|that)"
_RUN_IN = re.compile(rf"^(?:Sec(?:tion)?\.?|SEC(?:TION)?\.?)\s*\d{{1,3}}[A-Za-z]?\.\s+[A-Z][\w’'\-]*"
                     rf"(?:\s+(?:[A-Z0-9][\w’'\-,]*|{_SMALL})){{0,20}}\.\s*(?:\(|[A-Z])")  # "Sec. 3. Title. (a) ..."

# A heading glued to its text: the heading, then a word that opens sentences ("Key Outcomes The United States
# will ..."), not the heading's words going on ("Goodwill Industries International is ...").
_OPENER = re.compile(r"(?:The|This|These|That|Those|It|In|On|At|As|By|For|From|To|With|We|Our|Their|They|He|She|"
                     r"A|An|Today|Under|Through|Since|Over|After|Before|Both|Each|All|President|Secretary)\b")

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = rf"(?:{_MONTH}\s+\d{{1,2}},\s+\d{{4}}|\d{{1,2}}\s+{_MONTH}\s+\d{{4}})"
_FURNITURE = [
    re.compile(r"^MEMORANDUM FOR\b"),
    re.compile(r"^SUBJECT:\s"),
    re.compile(rf"^THE WHITE HOUSE,?(?:\s+{_DATE}\.?)?$"),
    re.compile(rf"^{_DATE}\.?$"),
    re.compile(r"^\d{1,2}:\d{2}\s*[AaPp]\.?[Mm]\.?(?:\s+[A-Z]{2,4})?\.?$"),
    re.compile(r"^For the Government of\b[^.!?]*:$"),
    # A signature: a name in capitals with an initial ("DONALD J. TRUMP", "JOSEPH R. BIDEN JR.").
    re.compile(r"^[A-Z][A-Z’'\-]+(?:\s+[A-Z]\.)+\s+[A-Z][A-Z’'\-]+(?:,?\s+[JS]R\.)?(?:\s+[A-Z][A-Z’'\-]+(?:\s+[A-Z]\.)*"
               r"(?:\s+[A-Z][A-Z’'\-]+)*)?$"),
]

_ROW_MARKERS = [
    (re.compile(r"\b(?:19|20)\d\d\s?e\b"), "estimate marker after a year"),
    (re.compile(r"(?:^|[\s:])e(?=\s*(?:[:;,—]|$))"), "lone 'e' marker"),
    (re.compile(r":\s\d{1,2}\s(?=[<>]?\d{1,3}(?:,\d{3})*(?:\.\d+)?(?:;|$))"), "footnote number before a value"),
    (re.compile(r"(?<=[a-z])\s\d{1,2}(?=:|\s—)"), "footnote number after a label"),
    (re.compile(r"(?<=[a-z])\s\d{1,2}(?=\s[a-z])"), "footnote number inside a label"),
]


def _ends_with(sentence: str, abbrev: str) -> bool:
    if not sentence.endswith(abbrev):
        return False
    before = sentence[: -len(abbrev)]
    return not before or before[-1] in " \t(“\"'‘-‐–—/"  # a word of its own ("StudentAid.Gov." is not "Gov.")


def sentence_defects(sentence: str, headings: list[str] | tuple[str, ...] = (),
                     next_text: str | None = None) -> list[str]:
    """What is wrong with `sentence` as a quoted sentence. `headings`: the headings of its article;
    `next_text`: the text right after it in its block (None: the sentence is seen alone, as in an answer)."""
    s = sentence.strip()
    out: list[str] = []
    if not s:
        return out
    final = s.rstrip("”’\"')]")
    for abbrev in NEVER_FINAL:
        if _ends_with(final, abbrev):
            out.append(f"ends in the abbreviation {abbrev!r}")
            break
    else:
        dotted = _DOTTED.search(final)
        maybe = next((a for a in MAYBE_FINAL if _ends_with(final, a)), None) or (dotted.group(1) if dotted else None)
        if maybe and next_text is not None and _CONTINUES.match(next_text):
            out.append(f"ends in the abbreviation {maybe!r} though the text goes on ({next_text[:20]!r})")
    if _CITATION_TAIL.match(s):
        out.append("starts inside a legal citation")
    if _runs_clauses(s):
        out.append("runs sub-clauses (a), (b) ... together")
    if _RUN_IN.match(s):
        out.append("starts with a run-in section heading")
    elif _RUN_IN.match(s + " A"):
        out.append("is a section heading, not a sentence")
    for h in headings:
        h = h.strip()
        if h and s.startswith(h + " ") and _OPENER.match(s, len(h) + 1):
            out.append(f"starts with the heading {h!r} glued to the text")
            break
    if furniture_like(s):
        out.append("is memo or signature furniture, not a sentence")
    return out


def _runs_clauses(s: str) -> bool:
    """Two sequential markers ((a) then (b), (i) then (ii), (1) then (2)) each opening a clause."""
    seen: dict[str, int] = {}
    for m in _CLAUSE.finditer(s):
        label = m.group(1)
        readings = []
        if len(label) == 1 and label.isalpha():
            readings.append(("a", ord(label) - 96))
        if label in _ROMAN:
            readings.append(("i", _ROMAN[label]))
        if label.isdigit():
            readings.append(("1", int(label)))
        for kind, n in readings:
            if seen.get(kind) == n - 1:
                return True
            if n == 1 or m.start() == 0:  # a sequence starts at its first marker or at the sentence's start
                seen[kind] = n
    return False


def furniture_like(text: str) -> bool:
    """A memo header, signature line, dateline or time stamp: part of a document, never a sentence of it."""
    t = text.strip()
    return len(t) <= 2000 and any(p.search(t) for p in _FURNITURE)


def row_defects(row: str) -> list[str]:
    """Footnote markers a linearised table row kept ("Mine production e 2024: 14 270,000")."""
    return [f"{why}: {m.group(0).strip()!r} in {row[:80]!r}"
            for pattern, why in _ROW_MARKERS if (m := pattern.search(row))]


def article_defects(article) -> list[str]:
    """Every defect of one loaded Article: sentences of its text blocks, its table rows, furniture outside
    furniture blocks. Sentences are split with the splitter the answer writer uses."""
    from assay.ingest.split import sentence_spans

    text = article.text
    headings = [text[b.start : b.end] for b in article.blocks if b.kind == "heading"]
    out: list[str] = []
    for b in article.blocks:
        block = text[b.start : b.end]
        if b.kind == "row":
            out += [f"{article.id}: row {d}" for d in row_defects(block)]
            continue
        if b.kind in ("heading", "furniture"):
            continue
        if furniture_like(block):
            out.append(f"{article.id}: furniture outside a furniture block: {block[:80]!r}")
        spans = sentence_spans(text, b.start, b.end)
        for i, (a, z) in enumerate(spans):
            nxt = text[z : spans[i + 1][1]] if i + 1 < len(spans) else None
            for d in sentence_defects(text[a:z], headings, nxt):
                if "furniture" in d and furniture_like(block):
                    continue  # already reported for the block
                if nxt is None and d.startswith("ends in the abbreviation"):
                    continue  # the end of its block: nothing was cut off
                out.append(f"{article.id}: {d}: {text[a:z][:100]!r}")
    return out
