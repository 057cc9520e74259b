"""The LLM writer end to end through a real llama.cpp server (xllamacpp + SmolLM2) on loopback."""

from __future__ import annotations

import re


import assay.app.llm
from assay.app.answer import answer
from assay.app.verify import verify

QUESTION = "Which countries is the US partnering with on rare earths?"


def _resolves(ans):
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)}
    assert markers == {c.n for c in ans.citations}
    seen = {p.chunk_id for p in ans.passages}
    assert all(c.chunk_id in seen for c in ans.citations)


def test_llm_answer_is_verified_end_to_end(corpus_engine, llama_server):
    ans = answer(QUESTION, llm=llama_server.spec, engine=corpus_engine)
    assert ans.writer == "openai" and ans.passages
    _resolves(ans)
    if not ans.abstained:  # a 135M model rarely cites; whatever survives must be supported
        assert ans.sentences and all(s.supported and s.citations for s in ans.sentences)


def test_injected_out_of_range_marker_is_removed(corpus_engine, llama_server, monkeypatch):
    real = assay.app.llm.stream_answer
    passages = corpus_engine.retrieve(QUESTION, k=6)
    supported = next(p for p in passages if "Canada offers promising" in p.text)
    n = passages.index(supported) + 1

    def with_injection(spec, question, ps, **kw):
        yield from real(spec, question, ps, **kw)  # the real server's streamed answer
        yield f" Canada offers promising rare earth deposits and a strong mining sector [{n}][{len(ps) + 3}]."
        yield " Brazil is the largest partner of all [99]."

    monkeypatch.setattr(assay.app.llm, "stream_answer", with_injection)
    ans = answer(QUESTION, llm=llama_server.spec, engine=corpus_engine)
    assert not ans.abstained
    _resolves(ans)
    assert f"[{len(ans.passages) + 3}]" not in ans.text and "[99]" not in ans.text
    assert any("out-of-range" in f for f in ans.flags)
    assert "Brazil" not in ans.text  # its only citation was out of range: nothing supports it
    assert any("Canada offers promising" in s.text for s in ans.sentences)


def test_verifier_drops_sentences_their_citations_do_not_support(corpus_engine):
    passages = corpus_engine.retrieve(QUESTION, k=6)
    i = next(i for i, p in enumerate(passages) if "Canada offers promising" in p.text) + 1
    raw = f"Canada offers promising rare earth deposits and a strong mining sector [{i}]. Canada sold 4,000 tons of terbium to Mars in 2031 [{i}]."
    ans = verify(QUESTION, QUESTION, raw, passages, corpus_engine)
    assert len(ans.sentences) == 1 and "4,000" not in ans.text
    assert any("unsupported" in f for f in ans.flags)
    none = verify(QUESTION, QUESTION, f"Penguins run the lithium trade on Jupiter [{i}].", passages, corpus_engine)
    assert none.abstained
