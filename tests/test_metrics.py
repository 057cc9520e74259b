"""Hand-computed checks of the evaluation metrics, including their undefined (None) cases."""

import pytest

from assay.eval import metrics as m

GOLD = ["a.md", "b.md"]


def test_retrieval_metrics_match_by_file_name():
    retrieved = ["x.md", "sub/a.md", "sub/a.md", "y.md"]
    assert m.hit_at_k(retrieved, GOLD, 1) == 0.0
    assert m.hit_at_k(retrieved, GOLD, 2) == 1.0
    assert m.mrr(retrieved, GOLD) == 0.5
    assert m.context_recall(retrieved, GOLD) == 0.5  # a.md found twice, b.md never
    assert m.context_recall(retrieved + ["b.md"], ["sub/a.md", "b.md"]) == 1.0


def test_retrieval_metrics_edge_cases():
    assert m.mrr(["x.md", "y.md"], GOLD) == 0.0
    assert m.hit_at_k([], GOLD, 5) == 0.0
    assert m.context_recall([], GOLD) == 0.0
    for value in (m.hit_at_k(["a.md"], [], 3), m.mrr(["a.md"], []), m.context_recall(["a.md"], [])):
        assert value is None  # unanswerable: no gold


def test_fact_coverage_alternatives_and_normalisation():
    answer = "MP Materials got $35\u00a0million [1]. It\u2019s at Mountain\n Pass \u2014 California [2][3]."
    facts = [["35 million"], ["mountain pass"], ["it's"], ["pass - california"], ["Texas", "Nevada"]]
    assert m.fact_coverage(answer, facts) == pytest.approx(4 / 5)
    assert m.fact_coverage(answer, [["1.9 million", "1,900,000"]]) == 0.0
    assert m.fact_coverage("Reserves are 1,900,000 tons.", [["1.9 million", "1,900,000"]]) == 1.0


def test_fact_coverage_markers_do_not_break_or_fake_matches():
    assert m.fact_coverage("It is in Mountain [1] Pass.", [["mountain pass"]]) == 1.0
    assert m.fact_coverage("See [1].", [["[1]"]]) == 0.0


def test_fact_coverage_edge_cases():
    assert m.fact_coverage("anything", []) is None
    assert m.fact_coverage("", [["canada"]]) == 0.0
    assert m.fact_coverage(None, [["canada"]]) == 0.0
    assert m.fact_coverage("Canada", ["canada"]) == 1.0  # a bare string is one fact with one alternative


def test_answered_and_abstention():
    assert m.answered(False) and not m.answered(True)
    assert m.abstention_correct(True, []) == 1.0
    assert m.abstention_correct(False, ["a.md"]) == 1.0
    assert m.abstention_correct(True, ["a.md"]) == 0.0
    # 3 unanswerable (abstained on 2), 2 answerable (abstained on 1): precision 2/3, recall 2/3, false rate 1/2
    scores = m.abstention_scores([True, True, False, True, False], [True, True, True, False, False])
    assert scores["abstention_precision"] == pytest.approx(2 / 3)
    assert scores["abstention_recall"] == pytest.approx(2 / 3)
    assert scores["false_abstention_rate"] == 0.5
    none = m.abstention_scores([False, False], [False, False])
    assert none["abstention_precision"] is None and none["abstention_recall"] is None
    assert none["false_abstention_rate"] == 0.0


def test_parse_markers_forms():
    assert m.parse_markers("A [1]. B [2, 3]. C [4][5]. D [2,2].") == [1, 2, 3, 4, 5, 2, 2]
    assert m.parse_markers("no markers, [x], [1a], [ ]") == []
    assert m.parse_markers("") == []


def test_cited_sentences_dedupes_markers_per_sentence():
    text = "MP got $35 million [1][1]. It is in California. [2] Lynas got more [2, 3][3]"
    assert m.cited_sentences(text) == [
        ("MP got $35 million.", [1]),
        ("It is in California.", [2]),
        ("Lynas got more", [2, 3]),
    ]
    assert m.cited_sentences("") == []


def test_citation_validity():
    assert m.citation_validity([1, 2, 3, 5], 3) == 0.75
    assert m.citation_validity([0, 1], 1) == 0.5
    assert m.citation_validity([], 3) is None
    assert m.citation_validity([1], 0) == 0.0


def test_citation_support():
    # 3 sentences: supported, uncited (counts as unsupported), supported -> recall 2/3
    assert m.citation_support_recall([True, False, True]) == pytest.approx(2 / 3)
    # sentence 1 cites [1][1][2] -> pairs (1,1) and (1,2) once each; one of them supports
    pairs = [(s, n) for s, ns in m.cited_sentences("X is Y [1][1][2].") for n in ns]
    assert pairs == [("X is Y.", 1), ("X is Y.", 2)]
    assert m.citation_support_precision([True, False]) == 0.5
    assert m.citation_support_recall([]) is None
    assert m.citation_support_precision([]) is None


def test_cited_gold():
    assert m.cited_gold(["x.md", "dir/b.md"], GOLD) == 1.0
    assert m.cited_gold(["x.md"], GOLD) == 0.0
    assert m.cited_gold([], GOLD) == 0.0
    assert m.cited_gold(["a.md"], []) is None


def test_percentile_matches_numpy_linear():
    values = [4.0, 1.0, 3.0, 2.0]
    assert m.percentile(values, 50) == 2.5
    assert m.percentile(values, 95) == pytest.approx(3.85)  # rank 2.85 -> 3 + 0.85
    assert m.percentile(values, 0) == 1.0 and m.percentile(values, 100) == 4.0
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([], 50) is None
    with pytest.raises(ValueError):
        m.percentile(values, 101)


def _row(kind, abstained, sources, timings=None, **metrics):
    return {"kind": kind, "abstained": abstained, "sources": sources, "metrics": metrics, "timings": timings or {}}


def test_aggregate_means_counts_kinds_and_latency():
    rows = [
        _row("facts", False, ["a.md"], {"retrieve": 1.0, "write": 0.5, "total": 1.5}, fact_coverage=1.0, mrr=0.5),
        _row("facts", False, ["a.md"], {"retrieve": 3.0, "write": 0.5, "total": 3.5}, fact_coverage=0.0, mrr=None),
        _row("unanswerable", True, [], {"retrieve": 2.0, "total": 2.0}, fact_coverage=None, mrr=None),
        _row("unanswerable", False, [], {}, fact_coverage=None, mrr=None),
    ]
    s = m.aggregate(rows, ["fact_coverage", "mrr", "missing"])
    assert s["n"] == 4
    assert s["means"] == {"fact_coverage": 0.5, "mrr": 0.5, "missing": None}
    assert s["counts"] == {"fact_coverage": 2, "mrr": 1, "missing": 0}
    assert s["by_kind"]["facts"] == {"n": 2, "means": {"fact_coverage": 0.5, "mrr": 0.5, "missing": None},
                                     "counts": {"fact_coverage": 2, "mrr": 1, "missing": 0}}
    assert s["by_kind"]["unanswerable"]["means"]["fact_coverage"] is None
    ab = s["abstention"]
    assert (ab["abstention_precision"], ab["abstention_recall"], ab["false_abstention_rate"]) == (1.0, 0.5, 0.0)
    assert s["latency"]["retrieve"] == {"p50": 2.0, "p95": pytest.approx(2.9), "n": 3}
    assert s["latency"]["write"]["p50"] == 0.5 and s["latency"]["total"]["n"] == 3


def test_aggregate_all_none_and_empty():
    s = m.aggregate([_row("facts", False, ["a.md"], fact_coverage=None)], ["fact_coverage"])
    assert s["means"]["fact_coverage"] is None and s["counts"]["fact_coverage"] == 0
    assert s["latency"]["total"] == {"p50": None, "p95": None, "n": 0}
    empty = m.aggregate([], ["fact_coverage"])
    assert empty["n"] == 0 and empty["by_kind"] == {} and empty["abstention"]["abstention_recall"] is None


def test_aggregate_reads_flat_keys_bools_and_kind_fallback():
    rows = [{"kind": "unanswerable", "abstained": True, "answered": False},
            {"kind": "facts", "abstained": False, "answered": True}]
    s = m.aggregate(rows, ["answered"])
    assert s["means"]["answered"] == 0.5
    assert s["abstention"]["abstention_precision"] == 1.0 and s["abstention"]["abstention_recall"] == 1.0
