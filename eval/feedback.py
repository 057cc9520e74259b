"""`assay eval import-feedback FILE`: the chat's thumbs-down answers -> draft eval questions.

The chat appends one JSON line per vote or comment to its feedback file (ASSAY_FEEDBACK, default
`.assay/feedback.jsonl`; see assay.app.chat.conversations.feedback_record): the answer's id, the
vote ("up" | "down" | null when withdrawn), an optional comment, the question with the earlier
questions of its conversation, and the answer given with its status and citations. Lines of one
answer are merged (the last vote counts; comments are kept in order).

Every down-voted answer becomes a draft in the question-file format (`eval/questions.py`) for a
person to complete: the question and its history as asked, the answer Assay gave and the user's
comment for reference, and blanks for what only a person can say — the expected facts, the gold
sources, the expected outcome. A draft is marked ``"draft": true`` and its ``todo`` says what to
fill in; `assay eval` refuses question files that still contain drafts (see `drafts_in`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

TODO = ("fill in `facts` (each fact a list of acceptable phrasings) and `sources` (gold article file names), "
        "or leave both empty and set `expect` to \"abstained\" if the articles do not answer it; set `split`; "
        "then delete `draft` and `todo`")


def json_lines(path: Path):
    """(line number, parsed value, "") for each non-blank line of a JSONL file, or
    (line number, None, the parse error) for a line that is not JSON."""
    for n, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            yield n, json.loads(raw), ""
        except json.JSONDecodeError as e:
            yield n, None, e.msg
        except RecursionError:
            yield n, None, "nested too deeply"


def read_feedback(path: str | Path) -> tuple[list[dict], list[str]]:
    """The feedback file's answers, one merged record per answer id; and one line per bad line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feedback file not found: {path} (the chat writes it when someone rates an answer)")
    merged: dict[str, dict] = {}
    problems: list[str] = []
    for n, rec, error in json_lines(path):
        if error:
            problems.append(f"{path.name} line {n}: invalid JSON ({error})")
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("question"), str) or not rec.get("id"):
            problems.append(f"{path.name} line {n}: not a feedback record (needs id and question)")
            continue
        cur = merged.setdefault(str(rec["id"]), {**rec, "comments": []})
        for key in ("vote", "answer", "status", "citations", "history", "query", "missing", "writer", "time"):
            if key in rec:
                cur[key] = rec[key]
        if (rec.get("comment") or "").strip():
            cur["comments"].append(rec["comment"].strip())
    return list(merged.values()), problems


def draft_id(rec: dict) -> str:
    key = json.dumps([rec.get("history") or [], rec["question"]], ensure_ascii=False)
    return "fb-" + hashlib.sha1(key.encode()).hexdigest()[:10]


def to_draft(rec: dict) -> dict:
    """One down-voted answer as a draft eval question."""
    return {
        "id": draft_id(rec),
        "draft": True,
        "todo": TODO,
        "kind": "feedback",
        "question": rec["question"],
        "history": [h for h in rec.get("history") or [] if isinstance(h, str) and h.strip()],
        "facts": [],
        "sources": [],
        "expect": "",
        "split": "",
        "answer_given": rec.get("answer", ""),
        "status_given": rec.get("status", ""),
        "cited_given": [f"[{c.get('n')}] {c.get('article_id', '')}: {c.get('quote', '')}" for c in rec.get("citations") or [] if isinstance(c, dict)],
        "comment": " / ".join(rec.get("comments") or []),
        "feedback_time": rec.get("time", ""),
    }


def existing_keys(path: Path) -> set[str]:
    """ids and (history, question) keys already in a question or drafts file (so nothing is imported twice)."""
    keys: set[str] = set()
    if not path.is_file():
        return keys
    for _n, rec, _error in json_lines(path):
        if isinstance(rec, dict) and isinstance(rec.get("question"), str):
            keys.add(str(rec.get("id")))
            keys.add(draft_id(rec))
    return keys


def import_feedback(feedback: str | Path, out: str | Path, skip: list[str | Path] = (), include_up: bool = False) -> dict:
    """Append drafts for the down-voted answers of `feedback` to `out`; returns counts and problems.

    Answers already drafted in `out`, or asked the same way in a `skip` file (e.g. eval/dev.jsonl),
    are not added again."""
    records, problems = read_feedback(feedback)
    out = Path(out)
    seen = existing_keys(out)
    for s in skip:
        seen |= existing_keys(Path(s))
    wanted = [r for r in records if r.get("vote") == "down" or (include_up and r.get("vote") == "up")]
    drafts, dupes = [], 0
    for r in wanted:
        d = to_draft(r)
        if d["id"] in seen:
            dupes += 1
            continue
        seen.add(d["id"])
        drafts.append(d)
    if drafts:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as f:
            for d in drafts:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    return {"answers": len(records), "down": sum(r.get("vote") == "down" for r in records),
            "up": sum(r.get("vote") == "up" for r in records), "written": len(drafts), "already": dupes,
            "problems": problems, "out": str(out)}


def drafts_in(path: str | Path) -> list[str]:
    """ids of rows still marked as drafts in a question file."""
    out = []
    p = Path(path)
    if not p.is_file() or p.suffix.lower() != ".jsonl":
        return out
    for _n, rec, _error in json_lines(p):
        if isinstance(rec, dict) and rec.get("draft"):
            out.append(str(rec.get("id")))
    return out
