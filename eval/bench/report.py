"""The bench's verdicts against its targets, and the printed table."""

from __future__ import annotations

from ..fmt import num
from .common import TARGETS


def _largest(results, kind="chunks"):
    cps = [c for c in (results.get("checkpoints") or {}).values() if c["kind"] == kind]
    return max(cps, key=lambda c: c["target"]) if cps else None


def verdict(results: dict) -> dict:
    v = {}
    r = (results.get("ingest") or {}).get("ratio")
    if r:
        native = bool((results.get("machine") or {}).get("native_bf16"))
        want = TARGETS["ingest_ratio_min_bf16" if native else "ingest_ratio_min_fp32"]
        v["ingest_ratio"] = {"value": r["ratio_pipeline_vs_raw_st"], "target": f">= {want} x raw float32 SentenceTransformer.encode ({'native' if native else 'no native'} bf16)",
                             "met": r["ratio_pipeline_vs_raw_st"] >= want}
        v["ingest_beats_raw_encode"] = {"value": r["ratio_pipeline_vs_raw_st"], "target": "> 1 (faster than raw default encode)", "met": r["ratio_pipeline_vs_raw_st"] > 1}
        if r.get("fp32_pipeline"):
            f = r["fp32_pipeline"]
            v["ingest_ratio_fp32"] = {"value": f["ratio_pipeline_vs_raw_st"], "target": f">= {TARGETS['ingest_ratio_min']} (pipeline with fp32 encode, as raw)",
                                      "met": f["ratio_pipeline_vs_raw_st"] >= TARGETS["ingest_ratio_min"]}
        if r.get("pipeline_overhead_share") is not None:
            v["ingest_overhead_share"] = {"value": r["pipeline_overhead_share"], "target": f"<= {round(1 - TARGETS['ingest_ratio_min'], 2)} (non-embedding share of the pipeline)",
                                          "met": r["pipeline_overhead_share"] <= round(1 - TARGETS["ingest_ratio_min"], 2) + 1e-9}
    re_ = results.get("reingest")
    if re_ and re_.get("share") is not None:
        v["reingest_share"] = {"value": re_["share"], "target": f"<= {TARGETS['reingest_share_max']}", "met": re_["share"] <= TARGETS["reingest_share_max"]}
    big = _largest(results)
    if big and big.get("latency"):
        lat = big["latency"]
        v["fused_p50_ms"] = {"value": lat["fused"]["p50_ms"], "at_chunks": big["index_chunks"], "target": "<= 50 at 20k", "met": lat["fused"]["p50_ms"] <= TARGETS["fused_p50_ms_max_at_20k"]}
        v["answer_p50_ms"] = {"value": lat["answer"]["p50_ms"], "at_chunks": big["index_chunks"], "target": "<= 150 at 20k", "met": lat["answer"]["p50_ms"] <= TARGETS["answer_p50_ms_max_at_20k"]}
    st = results.get("store")
    if st and st.get("sizes"):
        size = max(st["sizes"], key=int)
        used = {k: x for k, x in st["sizes"][size].items() if k not in ("chroma_article_filter", "chroma_date_filter")}
        worst = max(x["p50_ms"] for x in used.values())
        v["store_p50_ms"] = {"value": worst, "at_rows": int(size), "target": "<= 100 at 500k (worst query kind Engine uses)", "met": worst <= TARGETS["store_p50_ms_max_at_500k"]}
    cold = results.get("cold")
    if cold:
        v["cold_ask_s"] = {"value": cold["ask"]["wall_s"], "peak_rss_mb": cold["ask"]["peak_rss_mb"], "vs_import_chromadb": cold["ask"]["vs_import_chromadb"],
                           "target": "<= 1.5 s and <= 300 MB (quiet machine)",
                           "met": cold["ask"]["wall_s"] <= TARGETS["cold_ask_s_max"] and cold["ask"]["peak_rss_mb"] <= TARGETS["cold_ask_rss_mb_max"]}
    ch = results.get("chat") or {}
    if ch.get("startup_to_first_page_s") is not None and ch.get("first_answer_s") is not None:
        v["chat_start_s"] = {"value": ch["startup_to_first_page_s"], "first_answer_s": ch["first_answer_s"], "target": "<= 3 s to the page, <= 1 s to the first answer",
                             "met": ch["startup_to_first_page_s"] <= TARGETS["chat_first_page_s_max"] and ch["first_answer_s"] <= TARGETS["chat_first_answer_s_max"]}
    if st and st.get("build") and "lexical_cold_update_seconds" in st["build"][-1]:
        b = st["build"][-1]
        v["lexical_update_s"] = {"value": b["lexical_cold_update_seconds"], "at_rows": b["size"], "full_build_s": b["bm25_build_seconds"],
                                 "target": "<= 1 s at 500k (1 changed article)", "met": b["lexical_cold_update_seconds"] <= TARGETS["lexical_update_s_max_at_500k"]}
    peaks = [(results.get("ingest") or {}).get("peak_rss_gb")] + [c.get("query_peak_gb") for c in (results.get("checkpoints") or {}).values()]
    peaks = [p for p in peaks if p]
    if peaks:
        v["peak_rss_gb"] = {"value": max(peaks), "target": "<= 2.5", "met": max(peaks) <= TARGETS["peak_rss_gb_max"]}
    art = _largest(results, "articles")
    if art:
        q = art["quality"]
        v["hit_at_5_distracted"] = {"value": q["hit_at_5"], "at_articles": art["scale_articles"], "target": ">= 0.9 at 5k articles", "met": (q["hit_at_5"] or 0) >= TARGETS["hit_at_5_min_at_5k_articles"]}
    return v


def format_table(results: dict) -> str:
    lines = []
    m = results.get("machine", {})
    lines.append(f"machine: {m.get('cpus')} CPUs ({m.get('cpu', '')}), {m.get('mem_gb')} GB, torch {m.get('torch')} threads {m.get('torch_threads')}, "
                 f"encode {m.get('embed_backend')} {m.get('embed_precision')} (native bf16: {m.get('native_bf16')})")
    enc = results.get("encoders")
    if enc:
        lines.append("\nencoders (same texts, best of 2 interleaved rounds; speed relative to default):")
        lines.append(f"  {'candidate':<46}{'texts/s':>9}{'speed':>8}{'cos mean':>10}{'cos min':>9}{'hit@5':>7}{'MRR':>7}")
        for name, r in enc["candidates"].items():
            q = r.get("retrieval") or {}
            lines.append(f"  {name:<46}{r['texts_per_s']:>9}{r['speed_vs_default']:>8}{r['cosine_mean']:>10}{r['cosine_min']:>9}{num(q.get('hit_at_5')):>7}{num(q.get('mrr')):>7}")
        lines.append(f"  fastest that keeps quality: {enc.get('fastest_quality_preserving')}   (encode() sorts a whole call by length: {enc.get('st_sorts_whole_call')})")
    ing = results.get("ingest")
    if ing:
        lines.append("\ningest stages:")
        for s in ing["stages"]:
            lines.append(f"  {s['stage']:<26} {s['chunks']:>6} chunks {s['seconds']:>8} s  {s['chunks_per_s']} chunks/s  {s['tokens_per_s']} tokens/s  peak RSS {s.get('ingest_peak_gb')} GB")
        r = ing.get("ratio")
        if r:
            lines.append(f"  pipeline vs raw SentenceTransformer.encode (fp32) of the same {r['texts']} texts: {r['ratio_pipeline_vs_raw_st']}  "
                         f"(vs Assay's own encode, {r.get('precision', '?')}: {r['ratio_pipeline_vs_configured_encode']}; embedding is {r['pipeline_embed_share']:.0%} of the pipeline)")
            f = r.get("fp32_pipeline")
            if f:
                lines.append(f"  the same stage with fp32 encode (as raw): pipeline vs raw {f['ratio_pipeline_vs_raw_st']}; embedding is {1 - f['pipeline_overhead_share']:.0%} of the pipeline")
    re_ = results.get("reingest")
    if re_:
        lines.append(f"\nre-ingest unchanged: {re_['seconds']} s of {re_['full_ingest_seconds']} s full ingest = {re_['share'] * 100:.2f}%")
    cps = results.get("checkpoints") or {}
    if cps:
        lines.append("\ncheckpoints (latency ms p50/p95; cold query embedding):")
        lines.append(f"  {'checkpoint':<16}{'chunks':>7}{'articles':>9}{'hit@5':>7}{'MRR':>7}  {'embed q':>12}{'dense':>12}{'lexical':>12}{'fused':>12}{'answer':>13}")
        for key, c in cps.items():
            lat = c.get("latency") or {}

            def cell(k):
                x = lat.get(k)
                return f"{x['p50_ms']:.0f}/{x['p95_ms']:.0f}" if x else "–"

            lines.append(f"  {key:<16}{c['index_chunks']:>7}{c['scale_articles']:>9}{num(c['quality']['hit_at_5']):>7}{num(c['quality']['mrr']):>7}  "
                         f"{cell('embed_query'):>12}{cell('dense'):>12}{cell('lexical'):>12}{cell('fused'):>12}{cell('answer'):>13}")
    st = results.get("store")
    if st:
        lines.append("\nstore only (synthetic 384-d vectors + real-vocabulary text), ms p50/p95:")
        kinds = ["chroma", "chroma_article_filter", "chroma_article_filter_fixed", "chroma_date_filter", "chroma_date_filter_fixed", "bm25", "bm25_article_filter", "bm25_date_filter"]
        lines.append("  (*_fixed = the same filtered query through app.retrieve.filtered_query, used by Engine.dense)")
        lines.append(f"  {'rows':>8}" + "".join(f"{k.replace('chroma_', 'c_').replace('_filter', '_f'):>16}" for k in kinds))
        for size, rec in st["sizes"].items():
            lines.append(f"  {size:>8}" + "".join(f"{(str(rec[k]['p50_ms']) + '/' + str(rec[k]['p95_ms'])) if k in rec else '–':>16}" for k in kinds))
        for b in st["build"]:
            lines.append(f"  build {b['size']}: chroma add {b['chroma_add_seconds']} s, bm25 {b['bm25_build_seconds']} s"
                         + (f"; 1 changed article: {b['lexical_update_seconds']} s in process, {b['lexical_cold_update_seconds']} s from the saved copy"
                            f" ({b['speedup_vs_full_build']}x faster than the full build)" if "lexical_update_seconds" in b else ""))
        if st.get("skipped"):
            lines.append(f"  skipped {st['skipped']['size']}: {st['skipped']['reason']}")
    cold = results.get("cold")
    if cold:
        lines.append(f"\ncold start (median of 3, same run): `import chromadb` {cold['import_chromadb']['wall_s']} s; "
                     f"assay ask {cold['ask']['wall_s']} s ({cold['ask']['vs_import_chromadb']}x), peak RSS {cold['ask']['peak_rss_mb']} MB; "
                     f"missing index {cold['ask_missing_index']['wall_s']} s")
    ch = results.get("chat")
    if ch:
        lines.append(f"\nchat: first page {ch.get('startup_to_first_page_s')} s, first answer {ch.get('first_answer_s')} s, second {ch.get('second_answer_s')} s {ch.get('error') or ch.get('answer_error') or ''}")
    v = results.get("verdict") or {}
    if v:
        lines.append("\ntargets:")
        for k, x in v.items():
            lines.append(f"  {'MET    ' if x['met'] else 'NOT MET'} {k}: {x['value']} (target {x['target']})")
    return "\n".join(lines)


