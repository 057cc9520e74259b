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


# --- outcomes: answered | partial | abstained ------------------------------------------------

JOBS = [["how many jobs", "jobs"]]  # a question's `missing`: one group of alternatives


def test_declined_ok():
    assert m.declined_ok("abstained", GOLD, [], JOBS) is None  # answerable: undefined
    assert m.declined_ok("abstained", [], [], JOBS) == 1.0
    assert m.declined_ok("answered", [], ["how many jobs"], JOBS) == 0.0  # answered: never ok, whatever it says
    assert m.declined_ok("partial", [], ["how many jobs the E-VAC plant will create"], JOBS) == 1.0
    assert m.declined_ok("partial", [], [], JOBS) == 0.0  # partial that does not say what is missing
    assert m.declined_ok("partial", [], ["the opening date"], JOBS) == 0.0
    # the note sentences count as well as `missing`, normalised like facts
    assert m.declined_ok("partial", [], ["", "They don\u2019t say how many JOBS it creates."], JOBS) == 1.0
    # ANY group is enough
    assert m.declined_ok("partial", [], ["Nevada"], [["why", "reason"], ["nevada"]]) == 1.0
    assert m.declined_ok("partial", [], [], []) == 1.0  # no `missing` on the question: any partial counts


def test_false_abstention_and_partial():
    assert m.false_abstention("abstained", GOLD) == 1.0
    assert m.false_abstention("partial", GOLD) == 0.0 and m.false_abstention("answered", GOLD) == 0.0
    assert m.false_abstention("abstained", []) is None
    assert m.partial("partial") == 1.0
    assert m.partial("answered") == 0.0 and m.partial("abstained") == 0.0


def test_answer_first():
    facts = [["$6 million", "6 million"], ["Imperial County"]]
    lead = [("answer", "The CEC gave $6 million [1]."), ("support", "It is in Imperial County.")]
    assert m.answer_first(lead, facts, "answered", GOLD) == 1.0
    late = [("answer", "BHE Renewables runs a demo plant."), ("support", "The CEC gave 6 million dollars.")]
    assert m.answer_first(late, facts, "answered", GOLD) == 0.0  # the fact is there, but not first
    # a note is not quoted: it neither leads nor blocks the first quoted sentence
    noted = [("note", "They don't say Imperial County."), ("answer", "BHE got $6 million.")]
    assert m.answer_first(noted, facts, "partial", GOLD) == 1.0
    assert m.answer_first([("note", "They don't say $6 million.")], facts, "partial", GOLD) == 0.0
    # lists: the lead-in plus the first item are the first sentence
    states = [["Texas"], ["Florida"]]
    listed = [("answer", "The suppliers are in these states:"), ("item", "Texas"), ("item", "Florida")]
    assert m.answer_first(listed, states, "answered", GOLD) == 1.0
    second = [("answer", "The suppliers are in these states:"), ("item", "Ohio"), ("item", "Florida")]
    assert m.answer_first(second, states, "answered", GOLD) == 0.0
    assert m.answer_first([("item", "Florida"), ("item", "Ohio")], states, "answered", GOLD) == 1.0
    assert m.answer_first([("answer", "Texas [1]")], states, "answered", GOLD) == 1.0  # markers stripped
    # undefined: unanswerable, abstained, no facts
    assert m.answer_first(lead, facts, "answered", []) is None
    assert m.answer_first([], facts, "abstained", GOLD) is None
    assert m.answer_first(lead, [], "answered", GOLD) is None
    assert m.answer_first([], facts, "answered", GOLD) == 0.0


def test_nongold_share():
    s = [("answer", ["sub/a.md"]), ("support", ["x.md"]), ("item", ["x.md", "b.md"]), ("support", []),
         ("note", [])]  # x.md only and uncited count; the note is not a quoted sentence
    assert m.nongold_share(s, GOLD, "answered") == 0.5
    assert m.nongold_share([("answer", ["a.md"])], GOLD, "partial") == 0.0
    assert m.nongold_share([("answer", ["x.md"]), ("support", ["y.md"])], GOLD, "answered") == 1.0
    assert m.nongold_share(s, [], "answered") is None
    assert m.nongold_share(s, GOLD, "abstained") is None
    assert m.nongold_share([("note", [])], GOLD, "partial") is None  # nothing quoted


def test_correct_and_squad():
    # answerable: correct needs every fact and no abstention; squad is fact coverage (0 if abstained)
    assert m.correct("answered", GOLD, 1.0, None) == 1.0
    assert m.correct("partial", GOLD, 1.0, None) == 1.0  # a partial answer's quoted part can hold every fact
    assert m.correct("answered", GOLD, 0.5, None) == 0.0
    assert m.correct("abstained", GOLD, None, None) == 0.0
    assert m.correct("answered", GOLD, None, None) is None  # answerable but without facts
    assert m.squad("answered", GOLD, 0.5, None) == 0.5
    assert m.squad("abstained", GOLD, 0.0, None) == 0.0
    # unanswerable: both are declined_ok
    for fn in (m.correct, m.squad):
        assert fn("abstained", [], None, 1.0) == 1.0
        assert fn("answered", [], None, 0.0) == 0.0


def test_f1_and_decline_scores():
    assert m.f1(1.0, 0.5) == pytest.approx(2 / 3)
    assert m.f1(0.0, 0.0) == 0.0 and m.f1(None, 1.0) is None
    scores = m.abstention_scores([True, True, False, True, False], [True, True, True, False, False])
    assert scores["abstention_f1"] == pytest.approx(2 / 3)
    # declined = abstained or partial: 3 unanswerable (2 declined), 2 answerable (1 declined)
    d = m.decline_scores([True, True, False, True, False], [True, True, True, False, False])
    assert d == {"decline_precision": pytest.approx(2 / 3), "decline_recall": pytest.approx(2 / 3),
                 "decline_f1": pytest.approx(2 / 3), "false_decline_rate": 0.5, "declined": 3}


def test_row_status_and_is_declined():
    assert m.row_status({"abstained": True, "status": "answered"}) == "abstained"  # abstained wins
    assert m.row_status({"abstained": False, "status": "partial"}) == "partial"
    assert m.row_status({"abstained": False}) == "answered"  # rows from before statuses
    assert m.is_declined("partial") and m.is_declined("abstained") and not m.is_declined("answered")


def test_squad_split():
    s = m.squad_split([1.0, 0.5, None, 1.0, 0.0], [False, False, False, True, True])
    assert s == {"has_ans": 0.75, "no_ans": 0.5, "overall": 0.625, "n_has_ans": 2, "n_no_ans": 2}
    assert m.squad_split([], [])["has_ans"] is None


def test_decline_curve_and_run_threshold():
    statuses = ["answered", "answered", "partial", "answered"]
    conf = [0.9, 0.3, 0.2, 0.5]
    unans = [False, True, True, False]
    curve = m.decline_curve(statuses, conf, unans, [0.0, 0.4, 0.6, 1.0])
    assert curve[0] == (0.0, 1.0, 0.5)  # only the partial declines
    assert curve[1] == (0.4, 1.0, 1.0)  # + the 0.3 answer
    assert curve[2] == (0.6, pytest.approx(2 / 3), 1.0)  # + the 0.5 answer (answerable)
    assert curve[3] == (1.0, 0.5, 1.0)  # everything declined
    assert m.run_threshold(statuses, conf) == 0.3
    assert m.run_threshold(["abstained", "partial"], [0.1, 0.2]) is None
    assert m.decline_curve(["answered"], [0.5], [False], [0.0]) == [(0.0, None, None)]


def test_outcome_matrix():
    rows = [{"expect": "partial", "status": "partial"}, {"expect": "partial", "abstained": True},
            {"expect": "answered", "status": "answered"}, {"expect": "answered", "status": "error", "error": "x"},
            {"status": "answered"}]  # no expect: not counted
    assert m.outcome_matrix(rows) == {"partial": {"partial": 1, "abstained": 1}, "answered": {"answered": 1, "error": 1}}


def _orow(kind, status, sources, split="", **metrics):
    return {"kind": kind, "status": status, "abstained": status == "abstained", "sources": sources, "split": split,
            "metrics": metrics}


def test_aggregate_outcomes_squad_and_splits():
    rows = [
        _orow("money", "answered", ["a.md"], "tune", squad=1.0, correct=1.0, partial=0.0, false_abstention=0.0),
        _orow("money", "partial", ["a.md"], "test", squad=0.5, correct=0.0, partial=1.0, false_abstention=0.0),
        _orow("money", "abstained", ["a.md"], "test", squad=0.0, correct=0.0, partial=0.0, false_abstention=1.0),
        _orow("nearmiss-year", "abstained", [], "tune", squad=1.0, correct=1.0, partial=0.0, declined_ok=1.0),
        _orow("nearmiss-why", "partial", [], "test", squad=0.0, correct=0.0, partial=1.0, declined_ok=0.0),
        _orow("nearmiss-why", "answered", [], "test", squad=0.0, correct=0.0, partial=0.0, declined_ok=0.0),
    ]
    keys = ["correct", "squad", "partial", "false_abstention", "declined_ok"]
    s = m.aggregate(rows, keys)
    ab = s["abstention"]
    # abstained: 2 (one unanswerable) of 3 unanswerable -> P 1/2, R 1/3, F1 0.4, false rate 1/3
    assert (ab["abstention_precision"], ab["abstention_recall"]) == (0.5, pytest.approx(1 / 3))
    assert ab["abstention_f1"] == pytest.approx(0.4) and ab["false_abstention_rate"] == pytest.approx(1 / 3)
    # declined (abstained or partial): 4, two unanswerable -> P 1/2, R 2/3, F1 4/7, false rate 2/3
    assert (ab["decline_precision"], ab["decline_recall"]) == (0.5, pytest.approx(2 / 3))
    assert ab["decline_f1"] == pytest.approx(4 / 7) and ab["false_decline_rate"] == pytest.approx(2 / 3)
    assert ab["declined"] == 4
    assert s["squad"] == {"has_ans": 0.5, "no_ans": pytest.approx(1 / 3), "overall": pytest.approx(2.5 / 6),
                          "n_has_ans": 3, "n_no_ans": 3}
    assert s["means"]["correct"] == pytest.approx(2 / 6) and s["means"]["false_abstention"] == pytest.approx(1 / 3)
    assert s["by_kind"]["money"]["means"]["partial"] == pytest.approx(1 / 3)
    assert s["by_kind"]["nearmiss-why"]["means"]["declined_ok"] == 0.0
    assert s["by_kind"]["money"]["means"]["declined_ok"] is None
    assert set(s["by_split"]) == {"tune", "test"}
    tune, test = s["by_split"]["tune"], s["by_split"]["test"]
    assert tune["n"] == 2 and tune["means"]["correct"] == 1.0 and tune["squad"]["no_ans"] == 1.0
    assert tune["abstention"]["abstention_f1"] == 1.0
    assert test["n"] == 4 and test["squad"] == {"has_ans": 0.25, "no_ans": 0.0, "overall": 0.125, "n_has_ans": 2, "n_no_ans": 2}
    assert test["abstention"]["abstention_precision"] == 0.0 and test["abstention"]["abstention_f1"] == 0.0
    assert test["abstention"]["decline_recall"] == 0.5
    assert m.aggregate([_orow("money", "answered", ["a.md"])], keys)["by_split"] == {}  # no split on the rows


def test_aggregate_reads_status_from_rows_without_one():
    rows = [{"kind": "x", "abstained": True, "sources": []}, {"kind": "x", "abstained": False, "sources": ["a.md"]}]
    ab = m.aggregate(rows, [])["abstention"]
    assert ab["decline_precision"] == 1.0 and ab["decline_recall"] == 1.0 and ab["false_decline_rate"] == 0.0


def test_aggregate_ignores_row_fields_that_are_not_metrics():
    s = m.aggregate([{"kind": "x", "missing": ["jobs"], "metrics": {}}], ["missing"])
    assert s["means"]["missing"] is None


# --- score_question: one Answer -> one row, with a stand-in engine (no model) -----------------


class _Lexical:
    @staticmethod
    def idf(_term):
        return 1.0


class _Engine:
    embed = None  # support_score without embeddings: lexical term support only

    class index:
        @staticmethod
        def lexical():
            return _Lexical()


def _answer(status, sentences, missing=(), confidence=0.7):
    from assay.app.schema import Answer, Citation, Passage, Sentence

    passages = [Passage(chunk_id=f"{a}#0", article_id=a, text=t, char_start=0, char_end=len(t))
                for a, t in (("gold.md", "The plant will produce 90,000 tons of lithium."),
                             ("other.md", "The plant is in Imperial County."))]
    citations = [Citation.of(i + 1, p, 0, len(p.text)) for i, p in enumerate(passages)]
    sents = [Sentence(text=t, citations=c, kind=k) for k, t, c in sentences]
    text = " ".join(s.text + "".join(f" [{n}]" for n in s.citations) for s in sents)
    return Answer(question="q", query="q", text=text, sentences=sents, citations=citations, passages=passages,
                  abstained=status == "abstained", status=status, missing=list(missing), confidence=confidence)


def test_score_question_records_outcomes_and_scores_quoted_text_only():
    from assay.eval.questions import Question
    from assay.eval.run import METRIC_KEYS, score_question

    q = Question(id="p1", kind="nearmiss-attribute", question="How many jobs and tons?", facts=[["90,000 tons"]],
                 sources=["gold.md"], split="test", atype="quantity", expect="partial", missing=[["jobs"]])
    ans = _answer("partial", [("answer", "The plant will produce 90,000 tons of lithium.", [1]),
                              ("support", "The plant is in Imperial County.", [2]),
                              ("note", "They don't say how many jobs it will create.", [])],
                  missing=["how many jobs the plant will create"])
    row = score_question(q, ans, _Engine())
    assert row["status"] == "partial" and not row["abstained"] and row["confidence"] == 0.7
    assert row["missing"] == ["how many jobs the plant will create"]
    assert (row["split"], row["atype"], row["expect"], row["expected_missing"]) == ("test", "quantity", "partial", [["jobs"]])
    assert [(s["kind"], s["article_ids"]) for s in row["sentences"]] == [
        ("answer", ["gold.md"]), ("support", ["other.md"]), ("note", [])]
    assert row["sentences"][2]["supported"] is None  # a note cites nothing and is not scored for support
    mt = row["metrics"]
    assert set(METRIC_KEYS) <= set(mt)
    assert mt["fact_coverage"] == 1.0 and mt["answer_first"] == 1.0 and mt["nongold_share"] == 0.5
    assert mt["partial"] == 1.0 and mt["false_abstention"] == 0.0 and mt["declined_ok"] is None
    assert mt["correct"] == 1.0 and mt["squad"] == 1.0
    assert mt["citation_support_recall"] == 1.0  # two quoted sentences, both supported; the note does not count

    # the same words in a note are not an answer: fact coverage reads quoted sentences only
    ans = _answer("partial", [("support", "The plant is in Imperial County.", [2]),
                              ("note", "They don't say whether it makes 90,000 tons.", [])])
    mt = score_question(q, ans, _Engine())["metrics"]
    assert mt["fact_coverage"] == 0.0 and mt["answer_first"] == 0.0 and mt["correct"] == 0.0 and mt["nongold_share"] == 1.0

    # unanswerable: a partial whose note names what is missing is a good decline; abstaining is too
    u = Question(id="u1", kind="nearmiss-attribute", question="How many jobs?", expect="partial", missing=[["jobs"]])
    row = score_question(u, ans, _Engine())
    assert row["metrics"]["declined_ok"] == 0.0 and row["metrics"]["correct"] == 0.0  # its note is about tons
    good = _answer("partial", [("support", "The plant is in Imperial County.", [2]),
                               ("note", "They don't say how many jobs it will create.", [])])
    mt = score_question(u, good, _Engine())["metrics"]
    assert mt["declined_ok"] == 1.0 and mt["correct"] == 1.0 and mt["squad"] == 1.0 and mt["false_abstention"] is None
    mt = score_question(u, _answer("abstained", [], confidence=0.0), _Engine())["metrics"]
    assert mt["declined_ok"] == 1.0 and mt["partial"] == 0.0 and mt["answer_first"] is None


def test_score_question_today_s_writer_answered_and_abstained():
    from assay.app.schema import Answer
    from assay.eval.questions import Question
    from assay.eval.run import score_question

    q = Question(id="a1", kind="quantity", question="How much lithium?", facts=[["90,000 tons"]], sources=["gold.md"])
    ans = _answer("answered", [("answer", "The plant will produce 90,000 tons of lithium.", [1])])
    row = score_question(q, ans, _Engine())
    assert row["status"] == "answered" and row["metrics"]["partial"] == 0.0 and row["metrics"]["correct"] == 1.0
    abst = Answer.abstention("How much lithium?", "How much lithium?", [], "no passages matched")
    row = score_question(q, abst, _Engine())
    assert row["status"] == "abstained" and row["abstained"] and row["sentences"] == []
    assert row["metrics"]["false_abstention"] == 1.0 and row["metrics"]["squad"] == 0.0 and row["metrics"]["correct"] == 0.0
    assert row["metrics"]["fact_coverage"] == 0.0 and row["metrics"]["nongold_share"] is None


def test_error_row_fails_every_defined_outcome_metric():
    from assay.eval.questions import Question
    from assay.eval.run import METRIC_KEYS, error_row

    a = error_row(Question(id="a", kind="k", question="q", facts=[["x"]], sources=["a.md"]), RuntimeError("boom"))
    u = error_row(Question(id="u", kind="k", question="q"), RuntimeError("boom"))
    assert set(METRIC_KEYS) <= set(a["metrics"]) and a["status"] == "error"
    assert (a["metrics"]["correct"], a["metrics"]["squad"], a["metrics"]["false_abstention"]) == (0.0, 0.0, 1.0)
    assert a["metrics"]["declined_ok"] is None
    assert (u["metrics"]["declined_ok"], u["metrics"]["correct"], u["metrics"]["squad"]) == (0.0, 0.0, 0.0)


def test_floors_accept_every_new_metric():
    from assay.eval.run import (
        ABSTENTION_KEYS,
        METRIC_KEYS,
        SQUAD_KEYS,
        check_floors,
        metric_value,
    )

    names = [*METRIC_KEYS, *ABSTENTION_KEYS, *SQUAD_KEYS, "squad_overall"]
    assert {"declined_ok", "correct", "squad", "abstention_f1", "decline_f1", "decline_recall",
            "false_decline_rate", "squad_has_ans", "squad_no_ans"} <= set(names)
    assert check_floors({n: 0.5 for n in names}) == {n: 0.5 for n in names}
    with pytest.raises(ValueError, match="valid: .*decline_f1.*squad_no_ans"):
        check_floors({"decline_f2": 0.5})
    summary = {"means": {"correct": 0.25, "squad": 0.5}, "abstention": {"decline_f1": 0.75},
               "squad": {"has_ans": 0.6, "no_ans": 0.4, "overall": 0.5}}
    assert metric_value(summary, "correct") == 0.25 and metric_value(summary, "decline_f1") == 0.75
    assert metric_value(summary, "squad_has_ans") == 0.6 and metric_value(summary, "squad_no_ans") == 0.4
    assert metric_value(summary, "squad_overall") == 0.5 and metric_value(summary, "abstention_f1") is None
