"""`assay bench`: Assay's performance, every figure measured against its own reference in ONE run.

    python -m assay.eval.bench --quick                 # small version (about a minute)
    assay bench --sizes 1000,5000,20000 --store-sizes 100000,500000

The machine is shared and its load varies, so absolute timings are only indicative: the figures
that matter are the ratios and comparisons taken inside one run (pipeline vs raw encode of the
same texts, re-ingest vs full ingest, candidate encoders vs the default one, filtered vs
unfiltered queries). The JSON (bench-results/<timestamp>.json) keeps every raw number plus the
load average at the start and end of each phase.

Phases:
  encoders     default SentenceTransformer.encode vs batch sizes, torch threads, ONNX (fp32/int8):
               speed ratio, cosine to the default, retrieval hit@5/MRR on the eval questions
  ingest       the real pipeline on a growing index (bundled corpus + corpus-scale articles):
               tokens/s and chunks/s vs raw encode of exactly the same chunk texts; peak RSS
  reingest     re-running the ingest over the unchanged files, as a share of the full ingest time
  latency      dense / lexical / fused retrieval and the offline answer, p50/p95, at each size
  quality      hit@5 and MRR of the eval questions as corpus-scale articles are mixed in
  store        Chroma + BM25 alone at 100k..500k synthetic chunks, unfiltered and filtered
  chat         `assay chat` start-up to the first served page, and the first answer over the API

Each phase is a module: growth.py (ingest, re-ingest, latency, quality), chat.py, encoders.py,
store.py; common.py holds the measuring helpers, report.py the verdicts and the table, run.py
`run_bench` (all phases in one run) and command.py the click command.
"""

