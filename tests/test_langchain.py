"""Assay inside LangChain: the retriever and the answer Runnable in LCEL chains, the vector store over
Assay's own collection — with real Chroma and the real packaged model."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from assay.app.answer import answer
from assay.app.langchain import AssayEmbeddings, AssayRetriever, answer_runnable, vectorstore

USGS = "usgs_mcs2025_rare_earths.md"


def _format(docs: list[Document]) -> str:
    return "\n\n".join(f"[{d.metadata['article_id']}] {d.page_content}" for d in docs)


def test_retriever_in_an_lcel_chain_returns_documents_with_exact_spans(corpus_engine):
    retriever = AssayRetriever(engine=corpus_engine, k=4)
    chain = retriever | RunnableLambda(_format)
    text = chain.invoke("Which rare earth mineral is mined as a primary product at Mountain Pass?")
    assert "Bastnaesite" in text and f"[{USGS}]" in text
    docs = retriever.invoke("terbium oxide price")
    assert 1 <= len(docs) <= 4
    for d in docs:
        m = d.metadata
        assert {"article_id", "title", "published", "source_url", "chunk_id", "char_start", "char_end"} <= set(m)
        # the span is the passage's exact place in the cleaned article text: a citation can highlight it
        assert corpus_engine.index.article_text(m["article_id"])[m["char_start"] : m["char_end"]] == d.page_content
        assert d.id == m["chunk_id"]
    # the same ranking as Assay's own retrieval
    assert [d.metadata["chunk_id"] for d in docs] == [p.chunk_id for p in corpus_engine.retrieve("terbium oxide price", k=4)]


def test_retriever_batch_answers_each_query(corpus_engine):
    retriever = AssayRetriever(engine=corpus_engine, k=3)
    got = retriever.batch(["Lynas", "What did the Department of Defense award MP Materials?"])
    assert len(got) == 2 and all(len(docs) == 3 for docs in got)
    assert any("Lynas" in d.page_content for d in got[0])
    assert any("MP Materials" in d.page_content for d in got[1])


def test_answer_runnable_is_the_same_answer_path_and_batches(corpus_engine):
    run = answer_runnable(corpus_engine)
    questions = ["What is bastnaesite?", "What about Canada?"]
    out = run.batch([{"question": questions[0]}, {"question": questions[1], "history": ["Which countries is the US partnering with on rare earths?"]}])
    direct = answer(questions[0], engine=corpus_engine)
    assert out[0]["text"] == direct.text and out[0]["citations"][0]["quote"] == direct.citations[0].quote
    assert out[1]["query"] != questions[1]  # the follow-up was made standalone, as in the chat
    chain = run | RunnableLambda(lambda a: a["text"])
    assert "fluorocarbonate" in chain.invoke("What is bastnaesite?")


def test_vectorstore_opens_assays_collection_with_assays_embeddings(corpus_engine):
    vs = vectorstore(corpus_engine)
    hits = vs.similarity_search_with_score("rare earth magnets", k=3)
    dense = corpus_engine.dense("rare earth magnets", 3)
    assert [d.metadata["article_id"] for d, _ in hits] == [p.article_id for p, _ in dense]
    assert hits[0][0].page_content == dense[0][0].text
    assert vs._collection.count() == corpus_engine.index.chunks.count()  # the very collection, not a copy
    emb = AssayEmbeddings(corpus_engine.encoder)
    v = emb.embed_query("rare earth magnets")
    assert len(v) == corpus_engine.encoder.dim and abs(sum(x * x for x in v) - 1.0) < 1e-4
    assert vs.as_retriever(search_kwargs={"k": 2}).invoke("bastnaesite")[0].metadata["article_id"] == USGS


def test_vectorstore_on_a_missing_index_says_what_to_do_and_creates_nothing(tmp_path):
    from assay.app.retrieve import Engine
    from assay.ingest.config import Settings
    from assay.ingest.index import IndexMissing

    where = tmp_path / "nothing-here"
    with pytest.raises(IndexMissing, match="assay ingest corpus/"):
        vectorstore(Engine(Settings(index_dir=where)))
    assert not where.exists()


def test_eval_baseline_runs_the_textbook_langchain_recipe_on_the_same_files(tmp_path):
    """`assay eval --baseline`: RecursiveCharacterTextSplitter + HuggingFaceEmbeddings + Chroma on the same corpus."""
    import json
    from pathlib import Path

    from assay.eval.run import evaluate
    from assay.ingest.config import Settings

    root = Path(__file__).resolve().parents[1]
    rows = [json.loads(x) for x in (root / "eval" / "questions.jsonl").read_text().splitlines() if x.strip()]
    pick = [r for r in rows if r["sources"] and not r.get("history")][:4] + [r for r in rows if not r["sources"]][:1]
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(json.dumps(r) for r in pick))
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for r in pick:
        for s in r["sources"]:
            (corpus / s).write_bytes((root / "corpus" / s).read_bytes())
    summary, _rows, _ = evaluate(qfile, settings=Settings(index_dir=tmp_path / "unused"), corpus=corpus, baseline=True, progress=False)
    base = summary["baseline"]["langchain_recipe"]
    assert base["n"] == 4 and 0.0 <= base["hit_at_k"] <= 1.0 and 0.0 <= base["mrr"] <= 1.0
    assert base["articles"] == len(list(corpus.iterdir())) and base["chunks"] > base["articles"]
    assert "RecursiveCharacterTextSplitter(1000, 200)" in base["recipe"]
    assert not (tmp_path / "unused").exists()  # --corpus evaluates in a temporary index
