"""The encode precision Assay picks must not change what retrieval finds.

bf16 autocast is the default on CPUs with native bf16 instructions because it is about twice as
fast (`assay bench --phases encoders`); these tests hold it to the float32 model on real text.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from assay.ingest import embed as E
from assay.ingest.config import Settings
from assay.ingest.load import load_article
from assay.ingest.pipeline import Ingestor
from assay.ingest.split import split_article

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def texts():
    settings = Settings()
    counter = Ingestor(settings).counter
    chunks = []
    for p in sorted((ROOT / "corpus").glob("*.md"))[:8]:
        if p.name != "README.md":
            chunks += split_article(load_article(p, ROOT / "corpus"), counter, settings.chunk_tokens, settings.overlap_sentences)
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]
    return [c.embed_text for c in chunks][:120], questions[:40]


def test_bf16_vectors_and_rankings_match_float32(texts):
    chunks, questions = texts
    model = Settings().model
    full = {p: E.encode(model, chunks, 32, backend="torch", precision=p) for p in ("fp32", "bf16")}
    qv = {p: E.encode(model, questions, 32, backend="torch", precision=p) for p in ("fp32", "bf16")}
    assert full["bf16"].dtype == np.float32 and full["bf16"].shape == full["fp32"].shape
    cos = (full["fp32"] * full["bf16"]).sum(axis=1)
    assert cos.min() >= 0.999, f"bf16 drifts from float32: min cosine {cos.min():.5f}"
    # Each question's best chunk and top-5 set are the same under both precisions.
    for i, q in enumerate(questions):
        s32 = full["fp32"] @ qv["fp32"][i]
        s16 = full["bf16"] @ qv["bf16"][i]
        top32, top16 = int(s32.argmax()), int(s16.argmax())
        # the same best chunk, unless two chunks tie within bf16's precision (0.002 in cosine)
        assert top32 == top16 or s32[top32] - s32[top16] < 0.002, (q, s32[top32], s32[top16])
        assert len(set(np.argsort(-s32)[:5]) & set(np.argsort(-s16)[:5])) >= 4, q


def test_precision_setting(monkeypatch):
    monkeypatch.setenv("ASSAY_EMBED_PRECISION", "half")
    with pytest.raises(ValueError, match="ASSAY_EMBED_PRECISION must be one of auto, fp32, bf16"):
        E.precision_name()
    monkeypatch.setenv("ASSAY_EMBED_PRECISION", "FP32")
    assert E.precision_name() == "fp32"
    monkeypatch.delenv("ASSAY_EMBED_PRECISION")
    # "auto" is bf16 only where the CPU runs bf16 natively; emulated bf16 would be slower.
    assert E.precision_name() == ("bf16" if E._native_bf16() else "fp32")
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        native = any(f" {f}" in cpuinfo.read_text() for f in ("avx512_bf16", "amx_bf16"))
        assert E._native_bf16() <= native


def test_onnx_vectors_match_torch_float32_and_rank_the_same(texts):
    """Queries run on onnxruntime + tokenizers (no torch in `assay ask`): same vectors, same top-5."""
    chunks, questions = texts
    model = Settings().model
    onnx = E.onnx_encoder(model)  # exported from the packaged weights on first use, then cached
    assert onnx is not None
    t32 = E.encode(model, chunks + questions, 32, backend="torch", precision="fp32")
    o = onnx.encode(chunks + questions, 32)
    assert o.dtype == np.float32 and o.shape == t32.shape
    cos = (t32 * o).sum(axis=1)
    assert cos.min() >= 0.9999, f"ONNX drifts from torch float32: min cosine {cos.min():.6f}"
    c32, q32 = t32[: len(chunks)], t32[len(chunks):]
    co, qo = o[: len(chunks)], o[len(chunks):]
    for i, q in enumerate(questions):
        assert list(np.argsort(-(c32 @ q32[i]))[:5]) == list(np.argsort(-(co @ qo[i]))[:5]), q


_ASK = """
import sys
from assay.app.cli import main
code = main(["--index", sys.argv[1], "ask", "What is bastnaesite?"])
print("HEAVY", code, sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules))
"""


def test_ask_does_not_import_torch(corpus_engine):
    """With the ONNX export in place (ingest makes it), answering never loads torch."""
    import subprocess
    import sys

    assert E.onnx_path(Settings().model).exists()
    res = subprocess.run([sys.executable, "-c", _ASK, str(corpus_engine.settings.index_dir)], capture_output=True, text=True, timeout=300)
    line = next(x for x in res.stdout.splitlines() if x.startswith("HEAVY"))
    assert line == "HEAVY 0 []", res.stdout[-500:] + res.stderr[-500:]


def test_late_chunking_keeps_the_chunk_vector_and_pools_sentences(texts):
    """encode_late: the chunk's vector is SentenceTransformer.encode's (torch and ONNX); a span
    over the whole text pools to (nearly) the same vector; a sentence pools its own tokens, so it
    is nearer its own standalone embedding than the other sentences'; a span past the model's
    truncation gets a zero row."""
    from assay.ingest.split import sentence_spans

    chunks, _questions = texts
    chunks = chunks[:24]
    spans = [sentence_spans(t) for t in chunks]
    ref = E.encode(Settings().model, chunks, 32, backend="torch", precision="fp32")
    for backend in ("torch", "onnx"):
        enc = E.Encoder(backend=backend, precision="fp32")
        vecs, late = enc.encode_late(chunks, spans)
        assert float((vecs * ref).sum(axis=1).min()) >= 0.9999, backend
        whole = enc.encode_late(chunks, [[(0, len(t))] for t in chunks])[1]
        assert min(float(w[0] @ v) for w, v in zip(whole, vecs)) >= 0.99, backend
        assert [len(x) for x in late] == [len(s) for s in spans]
        alone = enc.encode([t[a:b] for t, sp in zip(chunks, spans) for a, b in sp])
        flat = np.concatenate(late)
        own = (flat * alone).sum(axis=1)
        shuffled = (flat * np.roll(alone, 7, axis=0)).sum(axis=1)
        assert float(own.mean()) > float(shuffled.mean()) + 0.2, backend
    long = "word " * 600
    _v, rows = E.Encoder(backend="onnx").encode_late([long], [[(0, 20), (2900, 2990)]])
    assert rows[0][0].any() and not rows[0][1].any()


def test_answering_embeds_no_sentences(corpus_engine):
    """Ingest stored a vector per sentence (late chunking): the writer embeds the query and at
    most a few single words (the focus check), never a candidate sentence."""
    from assay.app.answer import answer

    seen: list[str] = []
    real = corpus_engine.encoder.encode

    def spy(batch):
        seen.extend(batch)
        return real(batch)

    corpus_engine._qcache.clear()
    corpus_engine._scache.clear()
    corpus_engine.encoder.encode = spy
    try:
        for q in ("Which countries is the US partnering with on rare earths?", "What is bastnaesite?",
                  "How much did the Department of Defense invest in MP Materials?"):
            seen.clear()
            a = answer(q, [], engine=corpus_engine)
            assert a.sentences and a.passages
            assert all(len(t.split()) <= 3 for t in seen if t != q), [t for t in seen if t != q and len(t.split()) > 3]
    finally:
        corpus_engine.encoder.encode = real
