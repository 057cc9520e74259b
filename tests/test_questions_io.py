"""Question files: JSONL and CSV parsing, per-row errors, and the project's own question set."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from assay.eval.metrics import normalize
from assay.eval.questions import Question, load_questions

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_good_rows(tmp_path):
    rows = [
        {"id": "a", "kind": "facts", "question": "How big?", "facts": [["1.9 million", "1,900,000"]], "sources": ["x.md"]},
        {"id": "b", "kind": "followup", "question": "And Canada?", "history": ["How big?"], "facts": [], "sources": ["x.md"]},
        {"id": "c", "question": "Off topic?"},
    ]
    path = _write(tmp_path, "q.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    questions, errors = load_questions(path)
    assert errors == []
    assert questions[0] == Question("a", "facts", "How big?", [], [["1.9 million", "1,900,000"]], ["x.md"])
    assert questions[1].history == ["How big?"] and questions[1].answerable
    assert questions[2].kind == "general" and not questions[2].answerable and questions[2].facts == []


def test_jsonl_bad_rows_are_reported_and_skipped(tmp_path):
    lines = [
        '{"id": "ok", "question": "Fine?"}',
        '{"id": "f1", "question": "Q?", "facts": ["flat", "list"]}',
        "{not json",
        '["a", "list"]',
        '{"id": "", "question": "Q?"}',
        '{"id": "s1", "question": "Q?", "sources": "x.md"}',
        '{"id": "ok", "question": "Again?"}',
        '{"id": "h1", "question": "Q?", "history": [1]}',
        '{"id": "q1", "question": 42}',
        '{"id": "f2", "question": "Q?", "facts": [[]]}',
    ]
    questions, errors = load_questions(_write(tmp_path, "questions.jsonl", "\n".join(lines)))
    assert [q.id for q in questions] == ["ok"]
    assert errors[0] == "questions.jsonl line 2: 'facts' must be a list of lists of strings"
    assert errors[1].startswith("questions.jsonl line 3: invalid JSON")
    assert errors[2] == "questions.jsonl line 4: each line must be a JSON object"
    assert "line 5: 'id' is required" in errors[3]
    assert "line 6: 'sources' must be a list" in errors[4]
    assert errors[5] == "questions.jsonl line 7: duplicate id 'ok' (first used on line 1)"
    assert "line 8: 'history'" in errors[6]
    assert "line 9: 'question' must be a string" in errors[7]
    assert "line 10: 'facts'" in errors[8]
    assert len(errors) == 9


def test_csv_compact_and_json_cells(tmp_path):
    text = (
        "id,kind,question,history,facts,sources\n"
        'c1,facts,How big?,,"1.9 million|1,900,000;us",x.md;sub/y.md\n'
        'c2,followup,"What about\nCanada?","[""How big?""]","[[""830,000""]]","[""x.md""]"\n'
        "\n"
        "c3,unanswerable,Mars?,,,\n"
    )
    questions, errors = load_questions(_write(tmp_path, "q.csv", "\ufeff" + text))
    assert errors == []
    c1, c2, c3 = questions
    assert c1.facts == [["1.9 million", "1,900,000"], ["us"]] and c1.sources == ["x.md", "sub/y.md"]
    assert c2.question == "What about\nCanada?" and c2.history == ["How big?"] and c2.facts == [["830,000"]]
    assert c3.facts == [] and c3.sources == [] and c3.history == []


def test_csv_bad_rows_name_their_line(tmp_path):
    text = (
        "id,question,facts,sources\n"
        'a,"Multi\nline?",x,y.md\n'  # lines 2-3
        'b,Q?,"[[1, 2]]",y.md\n'  # line 4
        'c,Q?,"[oops",y.md\n'  # line 5
        "d,Q?,x,y.md,extra\n"  # line 6
        "a,Dup?,,\n"  # line 7
        ",No id?,,\n"  # line 8
    )
    questions, errors = load_questions(_write(tmp_path, "set.csv", text))
    assert [q.id for q in questions] == ["a"]
    assert errors == [
        "set.csv line 4: 'facts' must be a list of lists of strings",
        "set.csv line 5: 'facts' looks like JSON but does not parse (Expecting value)",
        "set.csv line 6: has 5 cells but the header has 4",
        "set.csv line 7: duplicate id 'a' (first used on line 2)",
        "set.csv line 8: 'id' is required and must be a non-empty string",
    ]


def test_csv_missing_columns_and_files(tmp_path):
    questions, errors = load_questions(_write(tmp_path, "q.csv", "id,text\n1,hello\n"))
    assert questions == [] and errors == ["q.csv line 1: header must name the columns id and question (missing: question)"]
    with pytest.raises(FileNotFoundError, match="question file not found"):
        load_questions(tmp_path / "nope.jsonl")
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes('{"id": "x", "question": "caf\u00e9"}'.encode("latin-1"))
    questions, errors = load_questions(bad)
    assert questions == [] and "not UTF-8" in errors[0]


def test_jsonl_outcome_fields(tmp_path):
    rows = [
        {"id": "n1", "kind": "nearmiss-attribute", "split": "tune", "atype": "money", "question": "How much for the refinery?",
         "expect": "partial", "missing": [["amount", " how much "]], "related": ["a.md"], "absent": [["refinery", "$"]]},
        {"id": "a1", "question": "How big?", "facts": [["1.9 million"]], "sources": ["x.md"], "expect": "answered"},
        {"id": "u1", "question": "Mars?", "expect": "abstained", "missing": [], "related": [], "absent": []},
        {"id": "p1", "question": "Jobs and tons?", "facts": [["tons"]], "sources": ["x.md"], "expect": "partial"},
        {"id": "o1", "question": "Old row?"},
    ]
    questions, errors = load_questions(_write(tmp_path, "q.jsonl", "\n".join(json.dumps(r) for r in rows)))
    assert errors == []
    n1, a1, u1, p1, o1 = questions
    assert (n1.atype, n1.expect, n1.split) == ("money", "partial", "tune")
    assert n1.missing == [["amount", "how much"]] and n1.related == ["a.md"] and n1.absent == [["refinery", "$"]]
    assert a1.expect == "answered" and a1.answerable and u1.expect == "abstained" and not u1.answerable
    assert p1.expect == "partial" and p1.answerable  # partly answerable: facts for one part, a note for the other
    assert (o1.atype, o1.expect, o1.missing, o1.related, o1.absent) == ("", "", [], [], [])


def test_jsonl_outcome_fields_bad_shapes(tmp_path):
    lines = [
        '{"id": "e1", "question": "Q?", "expect": "maybe"}',
        '{"id": "e2", "question": "Q?", "expect": "answered"}',
        '{"id": "e3", "question": "Q?", "expect": "abstained", "sources": ["x.md"], "facts": [["x"]]}',
        '{"id": "m1", "question": "Q?", "missing": ["Mongolia"]}',
        '{"id": "m2", "question": "Q?", "missing": [[]]}',
        '{"id": "r1", "question": "Q?", "related": "a.md"}',
        '{"id": "r2", "question": "Q?", "related": [""]}',
        '{"id": "b1", "question": "Q?", "absent": [["x", 2]]}',
        '{"id": "t1", "question": "Q?", "atype": ["money"]}',
        '{"id": "ok", "question": "Q?", "expect": "", "atype": ""}',
    ]
    questions, errors = load_questions(_write(tmp_path, "q.jsonl", "\n".join(lines)))
    assert [q.id for q in questions] == ["ok"]
    assert errors == [
        "q.jsonl line 1: 'expect' must be \"answered\", \"partial\" or \"abstained\"",
        "q.jsonl line 2: 'expect' is \"answered\" but 'sources' is empty (an unanswerable question cannot be answered)",
        "q.jsonl line 3: 'expect' is \"abstained\" but 'sources' names gold files (an answerable question should not abstain)",
        "q.jsonl line 4: 'missing' must be a list of lists of strings",
        "q.jsonl line 5: 'missing' must be a list of lists of strings",
        "q.jsonl line 6: 'related' must be a list of non-empty strings",
        "q.jsonl line 7: 'related' must be a list of non-empty strings",
        "q.jsonl line 8: 'absent' must be a list of lists of strings",
        "q.jsonl line 9: 'atype' must be a string",
    ]


def test_csv_outcome_fields(tmp_path):
    text = (
        "id,question,split,atype,expect,missing,related,absent\n"
        "n1,How much?,test,money,partial,amount|how much;refinery,a.md;b.md,gallium refinery|$\n"
        'n2,Why?,,reason,partial,"[[""why""]]","[""c.md""]","[[""because""]]"\n'
        "n3,Huh?,,,sometimes,,,\n"
        'n4,Huh?,,,,"[""flat""]",,\n'
    )
    questions, errors = load_questions(_write(tmp_path, "q.csv", text))
    n1, n2 = questions
    assert (n1.split, n1.atype, n1.expect) == ("test", "money", "partial")
    assert n1.missing == [["amount", "how much"], ["refinery"]] and n1.related == ["a.md", "b.md"]
    assert n1.absent == [["gallium refinery", "$"]]
    assert n2.missing == [["why"]] and n2.related == ["c.md"] and n2.absent == [["because"]]
    assert errors == ["q.csv line 4: 'expect' must be \"answered\", \"partial\" or \"abstained\"",
                      "q.csv line 5: 'missing' must be a list of lists of strings"]


# --- the project's question set ------------------------------------------------------------


def _clean(text: str) -> str:
    """Roughly what ingest does to markdown: link text only, no tags or emphasis."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return normalize(text.replace("**", "").replace("\\", ""))


def test_project_question_set_is_valid_and_grounded():
    questions, errors = load_questions(ROOT / "eval" / "questions.jsonl")
    assert errors == []
    kinds = Counter(q.kind for q in questions)
    assert len(questions) >= 60
    assert kinds["unanswerable"] >= 8 and kinds["followup"] >= 5
    assert {"partners", "uses", "challenges", "facts"} <= set(kinds)
    corpus = {p.name: _clean(p.read_text(encoding="utf-8")) for p in (ROOT / "corpus").iterdir() if p.is_file()}
    problems = []
    for q in questions:
        if (q.kind == "unanswerable") != (not q.sources) or (q.sources and not q.facts) or (not q.sources and q.facts):
            problems.append(f"{q.id}: kind, facts and sources disagree")
        if q.kind == "followup" and not q.history:
            problems.append(f"{q.id}: follow-up without history")
        problems += [f"{q.id}: no corpus file {s}" for s in q.sources if s not in corpus]
        for fact in q.facts:
            if not any(normalize(a) in corpus.get(s, "") for s in q.sources for a in fact):
                problems.append(f"{q.id}: fact {fact} not in its gold files")
    assert problems == []


def test_project_question_set_keeps_the_shared_rows():
    shared = ROOT.parent / "shared" / "eval" / "questions.jsonl"
    if not shared.is_file():
        pytest.skip("../shared is not present")
    ours = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    theirs = shared.read_text(encoding="utf-8").splitlines()
    assert ours[: len(theirs)] == theirs


def test_development_question_set_parses_with_its_outcome_fields():
    questions, errors = load_questions(ROOT / "eval" / "dev.jsonl")
    assert errors == []
    assert {q.split for q in questions} == {"tune", "test"} and all(q.atype for q in questions)
    problems = []
    for q in questions:
        if q.expect not in ("answered", "partial", "abstained"):
            problems.append(f"{q.id}: expect {q.expect!r}")
        if q.kind.startswith("nearmiss") and (q.sources or not q.missing):
            problems.append(f"{q.id}: a near-miss has no gold sources and says what is missing")
        if q.expect != "answered" and not q.sources and not q.missing and q.kind != "offtopic":
            problems.append(f"{q.id}: an on-topic declined question without `missing`")
    assert problems == []


def test_a_deeply_nested_line_and_an_oversized_csv_cell_are_row_errors_not_tracebacks(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"id": "a", "question": "What is gallium?"}\n' + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    questions, errors = load_questions(deep)
    assert [q.id for q in questions] == ["a"] and len(errors) == 1 and "line 2" in errors[0] and "nested too deeply" in errors[0]
    big = tmp_path / "big.csv"
    big.write_text("id,question\nq1," + "x" * 140_000 + "\nq2,What is gallium?\n", encoding="utf-8")
    questions, errors = load_questions(big)
    assert [q.id for q in questions] == ["q2"] and len(errors) == 1 and "line 2" in errors[0], errors
