"""Smoke test of `assay bench --quick`: it runs end to end and writes a complete JSON.

No timing thresholds: the machine is shared, so only the shape of the results and that the
ratios are positive numbers are checked. The figures themselves are in BENCHMARKS.md.
"""

import json
import math

import pytest
from click.testing import CliRunner

from assay.eval.bench.common import SHARED
from assay.eval.bench.report import format_table


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.mark.skipif(not (SHARED / "corpus-scale").is_dir(), reason="../shared/corpus-scale is not present")
def test_bench_quick_writes_complete_json(tmp_path):
    from assay.app.cli import cli

    res = CliRunner().invoke(cli, ["bench", "--quick", "--quiet", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    files = list(tmp_path.glob("*-quick.json"))
    assert len(files) == 1
    r = json.loads(files[0].read_text())
    for key in ("machine", "params", "targets", "phases", "ingest", "reingest", "checkpoints", "encoders", "store", "cold", "chat", "verdict"):
        assert key in r, key
    assert r["machine"]["cpus"] >= 1

    ratio = r["ingest"]["ratio"]
    assert ratio["identical_texts"]
    for k in ("ratio_pipeline_vs_raw_st", "ratio_pipeline_vs_configured_encode", "st_chunks_per_s", "st_tokens_per_s"):
        assert _positive(ratio[k]), (k, ratio)
    assert all(_positive(s["chunks_per_s"]) and _positive(s["tokens_per_s"]) for s in r["ingest"]["stages"] if s["chunks"])
    assert _positive(r["ingest"]["peak_rss_gb"])

    assert r["reingest"]["written"] == 0 and r["reingest"]["unchanged"] > 0
    assert r["reingest"]["share"] >= 0

    lat = [c for c in r["checkpoints"].values() if c["kind"] == "chunks"]
    assert lat and all(c["index_chunks"] > 0 for c in lat)
    for c in lat:
        for k in ("embed_query", "dense", "lexical", "fused", "answer"):
            assert c["latency"][k]["n"] >= 4 and _positive(c["latency"][k]["p50_ms"]), (k, c["latency"][k])
    assert all(0 <= c["quality"]["hit_at_5"] <= 1 for c in r["checkpoints"].values())
    # quick mode holds part of the corpus: only questions whose gold articles are indexed count
    assert all(c["quality"]["n"] > 0 and c["quality"]["skipped_gold_not_indexed"] > 0 for c in r["checkpoints"].values())

    cands = r["encoders"]["candidates"]
    assert "default (torch, bs32)" in cands
    assert all(_positive(c["speed_vs_default"]) and c["cosine_mean"] > 0 for c in cands.values())

    for size in r["store"]["sizes"].values():
        for k in ("chroma", "chroma_article_filter", "chroma_date_filter", "bm25", "bm25_article_filter", "bm25_date_filter"):
            assert _positive(size[k]["p50_ms"]), k

    for b in r["store"]["build"]:  # one changed article, next to the full build
        assert _positive(b["lexical_update_seconds"]) and _positive(b["lexical_cold_update_seconds"]) and _positive(b["speedup_vs_full_build"]), b

    cold = r["cold"]
    assert cold["ask"]["exit_codes"] == [0] and cold["import_chromadb"]["exit_codes"] == [0], cold
    assert cold["ask_missing_index"]["exit_codes"] != [0], cold  # the clear error, not an answer
    assert _positive(cold["ask"]["vs_import_chromadb"]) and _positive(cold["ask"]["peak_rss_mb"]), cold
    assert "cold_ask_s" in r["verdict"]
    assert _positive(r["chat"].get("startup_to_first_page_s")), r["chat"]
    assert _positive(r["chat"].get("first_page_vs_import_chromadb")), r["chat"]
    assert "targets:" in format_table(r)


def test_bench_help_and_module_entry():
    from assay.app.cli import cli

    res = CliRunner().invoke(cli, ["bench", "--help"])
    assert res.exit_code == 0 and "--store-sizes" in res.output and "--quick" in res.output
    import subprocess
    import sys

    mod = subprocess.run([sys.executable, "-m", "assay.eval.bench", "--help"], capture_output=True, text=True, timeout=120)
    assert mod.returncode == 0 and "--store-sizes" in mod.stdout, mod.stderr
