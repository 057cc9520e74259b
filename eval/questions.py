"""Question files (JSONL or CSV) -> validated `Question`s plus one error line per bad row."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Question:
    id: str
    kind: str
    question: str
    history: list[str] = field(default_factory=list)  # earlier user turns, oldest first
    facts: list[list[str]] = field(default_factory=list)  # each fact: acceptable alternatives
    sources: list[str] = field(default_factory=list)  # gold file names; empty = unanswerable
    split: str = ""  # "tune" | "test" | "" (thresholds are fitted on tune, reported on test)
    atype: str = ""  # expected answer type: money, quantity, date, person, reason, list, yesno, ...
    expect: str = ""  # expected outcome: "answered" | "partial" | "abstained" | "" (not stated)
    missing: list[list[str]] = field(default_factory=list)  # each: alternatives a good "they don't say X" note contains
    related: list[str] = field(default_factory=list)  # articles a near-miss is about (closest, but not answering)
    absent: list[list[str]] = field(default_factory=list)  # grep-check groups for the question set's own test

    @property
    def answerable(self) -> bool:
        return bool(self.sources)


class RowError(ValueError):
    """One field of one row is malformed; the message names the field."""


def load_questions(path: str | Path) -> tuple[list[Question], list[str]]:
    """Read a .jsonl or .csv question file; bad rows are skipped and described in `errors`.

    >>> qs, errors = load_questions("eval/questions.jsonl")  # errors: ["questions.jsonl line 7: ..."]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"question file not found: {path} (expected a .jsonl or .csv file)")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets often prepend a BOM
    except UnicodeDecodeError as exc:
        return [], [f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8"]
    records = _csv_records(text) if path.suffix.lower() == ".csv" else _jsonl_records(text)
    questions, errors, first_line = [], [], {}
    for line, record in records:
        where = f"{path.name} line {line}"
        if isinstance(record, str):
            errors.append(f"{where}: {record}")
            continue
        try:
            q = _question(record)
        except RowError as exc:
            errors.append(f"{where}: {exc}")
            continue
        if q.id in first_line:
            errors.append(f"{where}: duplicate id {q.id!r} (first used on line {first_line[q.id]})")
            continue
        first_line[q.id] = line
        questions.append(q)
    return questions, errors


MAX_LINE_CHARS = 1_000_000  # one question record; more is not a question

# --- parsing: each yields (line number, dict of raw fields | error message) -----------------


def _jsonl_records(text: str):
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_CHARS:
            yield line, f"line is {len(raw):,} characters long, over the limit of {MAX_LINE_CHARS:,}"
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield line, f"invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        except RecursionError:
            yield line, "invalid JSON (nested too deeply)"
            continue
        yield line, record if isinstance(record, dict) else "each line must be a JSON object"


def _csv_records(text: str):
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in ("id", "question") if c not in header]
    if missing:
        yield 1, f"header must name the columns id and question (missing: {', '.join(missing)})"
        return
    prev_end = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell over the csv module's field limit: this row only
            line, prev_end = prev_end + 1, reader.line_num
            yield line, f"cannot be read as CSV ({exc})"
            continue
        line, prev_end = prev_end + 1, reader.line_num  # a quoted cell may span several lines
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            yield line, f"has {len(cells)} cells but the header has {len(header)}"
            continue
        record = {k: v for k, v in zip(header, cells) if v.strip()}
        try:
            for key in ("history", "sources", "related"):
                if key in record:
                    record[key] = _csv_list(record[key], key)
            for key in _GROUP_FIELDS:
                if key in record:
                    record[key] = _csv_facts(record[key], key)
        except RowError as exc:
            yield line, str(exc)
            continue
        yield line, record


def _csv_json(cell: str, key: str):
    try:
        return json.loads(cell)
    except json.JSONDecodeError as exc:
        raise RowError(f"{key!r} looks like JSON but does not parse ({exc.msg})") from None


def _csv_list(cell: str, key: str):
    cell = cell.strip()
    if cell.startswith("["):
        return _csv_json(cell, key)
    return [part.strip() for part in cell.split(";") if part.strip()]


def _csv_facts(cell: str, key: str = "facts"):
    """"a|b;c" -> [["a", "b"], ["c"]] (or a JSON list of lists), for facts, missing and absent."""
    cell = cell.strip()
    if cell.startswith("["):
        return _csv_json(cell, key)
    facts = [[alt.strip() for alt in fact.split("|") if alt.strip()] for fact in cell.split(";")]
    return [f for f in facts if f]


# --- validation ------------------------------------------------------------------------------


def _text(record: dict, key: str, required: bool = True, default: str = "") -> str:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"{key!r} is required and must be a non-empty string")
        return default
    if isinstance(value, int) and not isinstance(value, bool) and key == "id":
        return str(value)
    if not isinstance(value, str):
        raise RowError(f"{key!r} must be a string")
    return value.strip()


def _strings(value, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RowError(f"{key!r} must be a list of non-empty strings")
    return [v.strip() for v in value]


_GROUP_FIELDS = ("facts", "missing", "absent")  # lists of groups, each a list of alternatives/words
EXPECTS = ("answered", "partial", "abstained")


def _facts(value, key: str = "facts") -> list[list[str]]:
    if value is None:
        return []
    ok = isinstance(value, list) and all(
        isinstance(f, list) and f and all(isinstance(a, str) and a.strip() for a in f) for f in value
    )
    if not ok:
        raise RowError(f"{key!r} must be a list of lists of strings")
    return [[a.strip() for a in f] for f in value]


def _question(record: dict) -> Question:
    q = Question(
        id=_text(record, "id"),
        kind=_text(record, "kind", required=False, default="general"),
        question=_text(record, "question"),
        history=_strings(record.get("history"), "history"),
        facts=_facts(record.get("facts")),
        sources=_strings(record.get("sources"), "sources"),
        split=_split(record.get("split")),
        atype=_text(record, "atype", required=False),
        expect=_expect(record.get("expect")),
        missing=_facts(record.get("missing"), "missing"),
        related=_strings(record.get("related"), "related"),
        absent=_facts(record.get("absent"), "absent"),
    )
    if q.expect == "answered" and not q.sources:
        raise RowError("'expect' is \"answered\" but 'sources' is empty (an unanswerable question cannot be answered)")
    if q.expect == "abstained" and q.sources:
        raise RowError("'expect' is \"abstained\" but 'sources' names gold files (an answerable question should not abstain)")
    return q


def _expect(value) -> str:
    if value in (None, ""):
        return ""
    if value not in EXPECTS:
        raise RowError("'expect' must be \"answered\", \"partial\" or \"abstained\"")
    return value


def _split(value) -> str:
    if value in (None, ""):
        return ""
    if value not in ("tune", "test"):
        raise RowError("'split' must be \"tune\" or \"test\"")
    return value
