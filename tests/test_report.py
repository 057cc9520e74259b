"""The eval report: both files written, plots embedded, untrusted answer text escaped."""

from assay.eval.metrics import aggregate
from assay.eval.report import write_reports

KEYS = ["hit_at_k", "mrr", "fact_coverage", "abstention_correct"]


def _rows():
    return [
        {"id": "q1", "kind": "facts", "question": "How big?", "query": "How big?", "sources": ["a.md"],
         "answer": "Evil <script>alert('x')</script> | pipe [1]", "abstained": False,
         "citations": [{"n": 1, "article_id": "a.md", "title": "A", "quote": "Big."}],
         "retrieved": [{"chunk_id": "a#0", "article_id": "sub/a.md", "score": 0.9}],
         "metrics": {"hit_at_k": 1.0, "mrr": 1.0, "fact_coverage": 0.0, "abstention_correct": 1.0},
         "timings": {"retrieve": 0.2, "write": 0.1, "total": 0.3}},
        {"id": "q2", "kind": "unanswerable", "question": "Mars?", "query": "Mars?", "sources": [],
         "answer": "I could not find this in the documents.", "abstained": True, "citations": [], "retrieved": [],
         "metrics": {"hit_at_k": None, "mrr": None, "fact_coverage": None, "abstention_correct": 1.0},
         "timings": {"retrieve": 0.1, "write": 0.0, "total": 0.1}},
        {"id": "q3", "kind": "facts", "question": "Who?", "query": "Who?", "sources": ["b.md"],
         "answer": "", "abstained": True, "citations": [], "retrieved": [{"chunk_id": "c#1", "article_id": "c.md", "score": 0.2}],
         "metrics": {"hit_at_k": 0.0, "mrr": 0.0, "fact_coverage": 0.0, "abstention_correct": 0.0},
         "timings": {"retrieve": 0.4, "write": 0.0, "total": 0.4}},
    ]


def test_write_reports(tmp_path):
    rows = _rows()
    html_path, md_path = write_reports(tmp_path / "run", rows, aggregate(rows, KEYS))
    assert html_path == tmp_path / "run" / "report.html" and md_path == tmp_path / "run" / "report.md"
    page = html_path.read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 2
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    md = md_path.read_text(encoding="utf-8")
    assert "![" in md and "(metrics_by_kind.png)" in md and "(latency.png)" in md
    assert (tmp_path / "run" / "metrics_by_kind.png").read_bytes().startswith(b"\x89PNG")
    assert "<script>" not in md and "\\| pipe" in md
    # worst table: the wrong abstention (q3) comes before the low fact coverage (q1); q2 is fine
    assert md.index("abstained on an answerable question") < md.index("fact coverage 0.00")
    assert "| q2 |" not in md and "a.md" in md


def test_write_reports_without_rows(tmp_path):
    html_path, md_path = write_reports(tmp_path, [], aggregate([], KEYS))
    assert "data:image/png" not in html_path.read_text(encoding="utf-8")
    assert "(none)" in md_path.read_text(encoding="utf-8")


# --- outcomes: partial answers, the decline curve, SQuAD and splits ---------------------------

OUTCOME_KEYS = [*KEYS, "correct", "squad", "declined_ok", "partial"]


def _outcome_rows():
    def row(qid, kind, status, sources, confidence, split, **metrics):
        return {"id": qid, "kind": kind, "question": f"{qid}?", "sources": sources, "status": status,
                "abstained": status == "abstained", "confidence": confidence, "split": split,
                "expect": "answered" if sources else "partial", "answer": f"answer {qid}", "citations": [],
                "retrieved": [], "metrics": metrics, "timings": {"total": 0.2}}

    return [
        row("a1", "money", "answered", ["a.md"], 0.9, "tune", fact_coverage=1.0, correct=1.0, squad=1.0, partial=0.0),
        row("a2", "money", "answered", ["a.md"], 0.4, "test", fact_coverage=0.5, correct=0.0, squad=0.5, partial=0.0),
        row("n1", "nearmiss-attribute", "partial", [], 0.5, "tune", declined_ok=1.0, correct=1.0, squad=1.0, partial=1.0),
        row("n2", "nearmiss-attribute", "partial", [], 0.5, "test", declined_ok=0.0, correct=0.0, squad=0.0, partial=1.0),
        row("n3", "nearmiss-year", "answered", [], 0.3, "test", declined_ok=0.0, correct=0.0, squad=0.0, partial=0.0),
    ]


def test_report_shows_outcomes_and_plots_the_decline_curve(tmp_path):
    from assay.eval.report import threshold_points

    rows = _outcome_rows()
    html_path, md_path = write_reports(tmp_path, rows, aggregate(rows, OUTCOME_KEYS))
    page, md = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 3  # + the decline curve
    assert (tmp_path / "decline_threshold.png").read_bytes().startswith(b"\x89PNG")
    assert "(decline_threshold.png)" in md and "confidence threshold" in page
    for title in ("SQuAD 2.0-style score", "Per split", "Outcome: expected (rows) against actual (columns)",
                  "Declining by confidence threshold", "decline_f1", "abstention_f1"):
        assert title in md, title
    assert "| correct | 0.400 | 5 |" in md and "| mean | 0.750 | 0.333 | 0.500 |" in md
    assert "| partial | 1 | 2 | 0 |" in md  # expected partial: n1 and n2 were, n3 answered
    # n2 is partial without saying what is missing; n3 answered an unanswerable question
    assert "does not say what is missing" in md and "| n3 | nearmiss-year |" in md and "| n1 |" not in md
    points, used = threshold_points(rows)
    assert used == 0.3  # the lowest confidence among answered questions
    at = {round(t, 2): (p, r) for t, p, r in points}
    assert at[0.0] == (1.0, 2 / 3)  # the two partials decline, both on unanswerable questions
    assert at[0.35] == (1.0, 1.0)  # + n3 (confidence 0.3)
    assert at[0.45] == (0.75, 1.0)  # + a2 (0.4), answerable
    assert at[1.0] == (0.6, 1.0)  # everything declined: 3 of 5 unanswerable
    assert "| 0.30 (this run) |" in md


def test_no_decline_curve_without_confidences_or_unanswerables(tmp_path):
    from assay.eval.report import threshold_points

    rows = [dict(r) for r in _outcome_rows()]
    assert threshold_points([{**r, "confidence": None} for r in rows]) == ([], None)
    assert threshold_points([r for r in rows if r["sources"]]) == ([], None)
    # no answered question: the curve is drawn, the run's threshold is not marked
    points, used = threshold_points([{**r, "status": "partial"} for r in rows])
    assert points and used is None
    html_path, _ = write_reports(tmp_path, [{**r, "status": "partial"} for r in rows], aggregate(rows, OUTCOME_KEYS))
    assert html_path.read_text(encoding="utf-8").count("data:image/png") == 3


def test_format_table_shows_outcomes_and_splits():
    from assay.eval.cli import format_table

    text = format_table(aggregate(_outcome_rows(), OUTCOME_KEYS))
    assert "correct" in text and "decl_ok" in text and "nearmiss-attribute " in text and "ALL" in text
    assert "abstention P – R 0.000 F1 –" in text  # no row abstained
    assert "declined (abstained or partial) P 1.000 R 0.667 F1 0.800" in text
    assert "SQuAD HasAns 0.750 NoAns 0.333 overall 0.500" in text
    assert "test (n=3): correct 0.000" in text and "tune (n=2): correct 1.000" in text


def _write_run(folder, rows):
    import json

    from assay.eval.run import summarize

    folder.mkdir()
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps(summarize(rows)), encoding="utf-8")
    return folder


def test_compare_shows_new_metrics_and_status_changes(tmp_path):
    from assay.eval.run import compare

    rows_a = _outcome_rows()
    rows_b = [dict(r) for r in rows_a]
    rows_b[4] = {**rows_b[4], "status": "partial", "metrics": {**rows_b[4]["metrics"], "partial": 1.0,
                                                                  "declined_ok": 1.0, "correct": 1.0, "squad": 1.0}}
    rows_b[1] = {**rows_b[1], "status": "abstained", "abstained": True}
    old_style = [{k: v for k, v in r.items() if k != "status"} for r in rows_a]  # a run from before statuses
    a, b, old = _write_run(tmp_path / "a", rows_a), _write_run(tmp_path / "b", rows_b), _write_run(tmp_path / "old", old_style)
    text = compare(a, b)
    for label in ("correct", "squad", "declined_ok", "decline_f1", "abstention_f1", "squad_has_ans", "squad_no_ans",
                  "Per kind, outcomes", "Per split"):
        assert label in text, label
    assert "n3 [nearmiss-year] answered -> partial" in text and "a2 [money] answered -> abstained" in text
    assert "Questions whose outcome changed (2)" in text
    assert "Status changes: answered -> abstained 1, answered -> partial 1" in text
    assert [line for line in text.splitlines() if line.startswith("correct ")] == [
        "correct                        0.400   0.600   +0.200"]
    # rows without a status read as answered/abstained: the partials show up as changes
    assert "n1 [nearmiss-attribute] answered -> partial" in compare(old, a)
    assert "Questions whose outcome changed (0)" in compare(b, b)
