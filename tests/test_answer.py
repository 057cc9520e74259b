"""The answer path over the bundled corpus with the real model: retrieval, citations, abstention."""

from __future__ import annotations

import json
import re

import pytest

from assay.app.answer import answer
from assay.app.schema import cited_sentences as split_cited
from assay.app.retrieve import Filters
from assay.app.rewrite import standalone

BLOG = "2025-11-12-us-expands-partnerships-for-rare-earths.txt"


def _check_citations(ans, engine):
    """Every [n] resolves to a passage the writer saw; every cited span is exact article text."""
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", ans.text)]
    numbers = [c.n for c in ans.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert set(markers) == set(numbers)
    seen = {p.chunk_id for p in ans.passages}
    for c in ans.citations:
        assert c.chunk_id in seen
        text = engine.index.article_text(c.article_id)
        assert text[c.start : c.end] == c.quote
        for a, b in c.spans:
            assert c.passage_start <= a < b <= c.passage_end
    for s in ans.sentences:
        assert s.text in ans.text
        if s.kind == "note":  # Assay's own words ("They don't say …"): no citation, no span
            assert not s.citations
            continue
        assert engine.index.article_text(s.article_id)[s.start : s.end] == s.text


def test_partner_question_names_each_partner_with_a_blog_citation(corpus_engine):
    ans = answer("Which countries is the US partnering with on rare earths?", engine=corpus_engine)
    assert not ans.abstained
    _check_citations(ans, corpus_engine)
    by_n = {c.n: c for c in ans.citations}
    for name in ("Australia", "Canada", "India", "European Union"):
        sentence = next(s for s in ans.sentences if s.text.startswith(name))
        assert by_n[sentence.citations[0]].article_id == BLOG


def test_hybrid_finds_numbers_and_names_dense_search_misses(corpus_engine):
    for query, needle in (("$288 million", "288 million"), ("Lynas", "Lynas")):
        dense = [p.text for p, _ in corpus_engine.dense(query, 5)]
        assert not any(needle in t for t in dense), f"dense alone already finds {needle}"
        fused = corpus_engine.retrieve(query, k=5)
        assert any(needle in p.text for p in fused), f"hybrid misses {needle}"
        hit = next(p for p in fused if needle in p.text)
        assert hit.lexical_rank == 1


def test_followups_are_rewritten_with_the_previous_subject(corpus_engine):
    q = standalone("Where is that facility?", ["What did the Department of Defense award MP Materials?"])
    assert "MP Materials" in q and q.startswith("Where is that facility?")
    assert standalone("What about Canada?", ["Which countries is the US partnering with on rare earths?"]).startswith("What about Canada? (")
    assert standalone("What is the value of imports in 2024?", ["Who mines bastnaesite?"]) == "What is the value of imports in 2024?"
    from assay.app.answer import _specificity

    swapped = standalone("And dysprosium oxide?", ["What was the average price of terbium oxide in 2022?"], _specificity(corpus_engine))
    assert "terbium" not in swapped and "price" in swapped and "2022" in swapped
    # the swapped subject is a noun, never a date word ("Oct") or an adverb ("enough")
    grants = standalone("what about graphite", ["The Oct 2022 DOE battery grants will develop enough battery-grade lithium for "
                                                "how many EVs a year?"], _specificity(corpus_engine))
    assert "Oct" in grants and "enough" in grants, grants
    # "them" is the plural noun asked about, not two names that only qualify it; "it" is never a plural
    chips = ["Which US chip companies are expanding in Vietnam according to the fact sheet?"]
    assert standalone("which one of them is opening a factory in Bac Ninh?", chips).startswith("which one of US chip companies is")
    assert "Australia and US" in standalone("What do they plan next?", ["What did Australia and the US agree in 2023?"])
    assert "companies" not in standalone("what's the total investment on it?", [*chips, "which one of them is opening a factory in Bac Ninh?"])
    # "it" after "which smelter …?" is the smelter asked about, not another noun of that question
    assert standalone("which state is it in?", ["Which smelter did the October 2025 proclamation exempt from the Copper Rule?"]) \
        == "which state is the smelter in?"
    # "and for X in Y?": X's own place replaces the old one; "and for X?" keeps it
    previous = ["How much did EXIM approve for the two solar projects in Angola?"]
    assert standalone("and for the data center in Ghana?", previous) == "How much did EXIM approve for the data center in Ghana?"
    assert standalone("and for the wind projects?", previous) == "How much did EXIM approve for the wind projects in Angola?"
    # the carried context counts fully for a question that leans on it, little for one with a subject of its own
    from assay.app.rewrite import CARRIED_WEIGHT, carried_weight

    assert carried_weight("Why? (MP Materials award)") == carried_weight("Which countries joined?") == 1.0
    assert carried_weight("what did they spend on mapping critical minerals? (bridge projects infrastructure law)") == CARRIED_WEIGHT < 1
    # a reply to the last answer ("ok", "thanks, so") is not part of the question
    assert standalone("Thanks! So where is it?", ["What is the MP Materials magnet plant?"]).startswith("Where is the MP Materials magnet plant?")
    assert standalone("ok what is the MSP?", []) == "what is the MSP?"
    # a topic switch said as such stands alone: the last turn is no context
    assert standalone("new question: what does gallium do?", ["how much did VinFast announce for North Carolina?"]) == "what does gallium do?"
    assert standalone("Changing the subject, who signed it?", ["What did the US and Japan sign?"]) == "Who signed it?"
    # "the second one" after "the first phase": the ordinal changes, its noun stays
    assert standalone("what about the second one?", ["The plan has two phases. What's in the first phase?"]).endswith(
        "What's in the second phase?")
    ans = answer("And dysprosium oxide?", ["What was the average price of terbium oxide in 2022?"], engine=corpus_engine)
    assert "Dysprosium oxide" in ans.text and "382" in ans.text
    ans = answer("Where is that facility?", ["What did the Department of Defense award MP Materials?"], engine=corpus_engine)
    assert "Mountain Pass" in ans.text and ans.query != ans.question
    ans = answer("What about Canada?", ["Which countries is the US partnering with on rare earths?"], engine=corpus_engine)
    assert "Canada" in ans.text and not ans.abstained


def test_a_pronoun_after_a_who_question_stands_for_its_answer(corpus_engine):
    """"their" after "who got the award?" is the company that got it (MP Materials, which the
    small model does not tag), not a noun of the question; the standalone query shows it."""
    history = ["who got the $35 million defense award for rare earth processing?"]
    ans = answer("where is their facility?", history, engine=corpus_engine)
    assert ans.query.startswith("where is MP Materials' facility?"), ans.query
    assert "Mountain Pass" in ans.text and not ans.abstained


@pytest.mark.parametrize("question", [
    "What is the population of Mars colony Alpha?",
    "Which rare earth company did Elon Musk buy in 2024?",
    "What is the best recipe for chocolate cake?",
])
def test_unanswerable_questions_abstain_and_offer_related_passages(corpus_engine, question):
    ans = answer(question, engine=corpus_engine)
    assert ans.abstained and not ans.citations
    assert "don't say" in ans.text and ans.query in ans.text
    assert ans.related and ans.reason


def test_filters_apply_to_both_sides(corpus_engine):
    only = Filters(articles=["usgs_mcs2025_rare_earths.md"])
    got = corpus_engine.retrieve("Which countries is the US partnering with?", k=6, filters=only)
    assert got and {p.article_id for p in got} == {"usgs_mcs2025_rare_earths.md"}
    assert {cid for cid, _ in corpus_engine.lexical("partnering countries", 50, only)} <= {p for p in corpus_engine.index.chunks.get(where={"article_id": "usgs_mcs2025_rare_earths.md"})["ids"]}
    window = Filters(since="2024-01-01", until="2024-12-31")
    got = corpus_engine.retrieve("critical minerals partnership", k=8, filters=window)
    assert got and all(p.published.startswith("2024") for p in got)
    lex_ids = [cid for cid, _ in corpus_engine.lexical("critical minerals partnership", 40, window)]
    metas = corpus_engine.index.chunks.get(ids=lex_ids, include=["metadatas"])["metadatas"]
    assert lex_ids and all(m["published"].startswith("2024") for m in metas)


def test_marker_parsing_attaches_markers_to_their_sentence():
    parts = split_cited("Australia is a partner [1]. Canada too [2][3]. Unmarked claim. India [1, 4].")
    assert parts == [("Australia is a partner .", [1]), ("Canada too .", [2, 3]), ("Unmarked claim.", []), ("India .", [1, 4])] or [p[1] for p in parts] == [[1], [2, 3], [], [1, 4]]


def test_shared_question_set_meets_the_answer_bar(corpus_engine, shared_dir):
    """Issue acceptance on shared/eval/questions.jsonl with the offline writer."""
    rows = [json.loads(line) for line in (shared_dir / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]
    answerable = [r for r in rows if r["sources"]]
    top5 = answered = facts_total = facts_found = 0
    for r in rows:
        ans = answer(r["question"], r.get("history"), engine=corpus_engine)
        _check_citations(ans, corpus_engine)
        if not r["sources"]:  # declined: abstained, or partial and saying what is missing
            assert ans.abstained or (ans.status == "partial" and ans.missing), (r["id"], ans.text)
            continue
        retrieved = [p.article_id for p in ans.passages[:5]]
        top5 += any(s in retrieved for s in r["sources"])
        answered += not ans.abstained
        for alternatives in r["facts"]:
            facts_total += 1
            facts_found += any(a.lower() in ans.text.lower() for a in alternatives)
    n = len(answerable)
    print(f"gold@5 {top5}/{n}  answered {answered}/{n}  facts {facts_found}/{facts_total}")
    assert top5 / n >= 0.95
    assert answered / n >= 0.90
    assert facts_found / facts_total >= 0.85


def test_a_list_question_leads_with_the_sentence_whose_asked_kind_introduces_the_items(corpus_engine):
    # "“Minerals” covered by the order include critical minerals, uranium, …" is a list line of its
    # article; it still leads, over the order's other list lines and its "boost …, streamline …" sentence
    ans = answer("Which minerals does the March 2025 executive order cover?", [], engine=corpus_engine)
    first = ans.sentences[0].text
    assert ans.status == "answered" and all(w in first for w in ("uranium", "copper", "potash")), ans.text


def test_lettered_clauses_are_items_read_with_the_sentence_that_introduces_them():
    from assay.app.extractive import _lead_ins, candidates, list_groups
    from assay.app.schema import Passage

    text = ("There is authorized to be appropriated to the Secretary to carry out the program described in paragraph (1)\n\n"
            "(A) $23,000,000 for each of fiscal years 2021 and 2022;\n\n(B) $24,200,000 for fiscal year 2023; and\n\n"
            "(C) $25,400,000 for fiscal year 2024.\n\nThe Secretary shall report each year.")
    p = Passage("c1", "a.md", text, 0, len(text))
    assert [len(g) for g in list_groups(p)] == [3]
    cands = candidates([p])
    leads = _lead_ins(cands)
    item = next(c for c in cands if c.text.startswith("(A)"))
    assert item.in_list and {"appropri", "secretari"} <= leads[id(item)]
    assert not any(id(c) in leads for c in cands if c.text.startswith("The Secretary shall"))
