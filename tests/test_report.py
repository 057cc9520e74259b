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
