"""Phase `encoders`: the default encode against other batch sizes, thread counts, bf16 and ONNX, on
the same texts: speed ratio, cosine to the default, and retrieval quality with each backend."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import numpy as np

from .common import BUNDLED, DEFAULT_SCALE, TARGETS, bar, bundled, retrieval_quality, scale_files, scratch, split_texts


class FunctionEncoder:
    """An encoder object (what Engine and Ingestor take) around any texts -> vectors function."""

    def __init__(self, fn, dim: int):
        self.fn, self.dim = fn, dim

    def encode(self, texts: list[str]):
        return self.fn(texts)


def bench_encoders(settings, work: Path, questions, n_texts: int, progress: bool, log, quick: bool) -> dict:
    """Default encode vs candidates: speed ratio on the same texts, cosine, retrieval quality."""
    import torch

    from ...ingest import embed as E

    bundled_files = bundled(quick)
    bundled_chunks = split_texts(bundled_files, settings, BUNDLED)
    scale = scale_files(DEFAULT_SCALE, seed=7)[: 4 if quick else 60] if DEFAULT_SCALE.is_dir() else []
    speed_texts = [c.embed_text for c in bundled_chunks + split_texts(scale, settings)]
    random.Random(3).shuffle(speed_texts)
    speed_texts = speed_texts[:n_texts]
    quality_texts = [c.embed_text for c in bundled_chunks][: 16 if quick else None]
    st = E.load_model(settings.model)
    dim = int(st.get_embedding_dimension())
    default_threads = torch.get_num_threads()

    def st_encode(bs):
        return lambda texts: st.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    def presorted(bs):
        def f(texts):
            order = np.argsort([-len(t) for t in texts], kind="stable")
            out = np.zeros((len(texts), dim), dtype=np.float32)
            for i in range(0, len(texts), bs):  # one call per batch: no sorting help from encode()
                idx = order[i : i + bs]
                out[idx] = st_encode(bs)([texts[j] for j in idx])
            return out
        return f

    def unsorted_calls(bs):
        def f(texts):  # what a caller that sends one batch per call gets: no length sorting at all
            return np.concatenate([st_encode(bs)(texts[i : i + bs]) for i in range(0, len(texts), bs)])
        return f

    def threads(n, bs=32):
        def f(texts):
            torch.set_num_threads(n)
            try:
                return st_encode(bs)(texts)
            finally:
                torch.set_num_threads(default_threads)
        return f

    candidates: dict[str, callable] = {"default (torch, bs32)": st_encode(settings.batch_size)}
    for bs in ((64,) if quick else (16, 64, 128)):
        candidates[f"torch bs{bs}"] = st_encode(bs)
    if not quick:
        candidates["torch bs32, one call per batch (unsorted)"] = unsorted_calls(32)
        candidates["torch bs32, presorted, one call per batch"] = presorted(32)
        if default_threads != 1:
            candidates["torch bs32, 1 thread"] = threads(1)
        if os.cpu_count() and os.cpu_count() != default_threads:
            candidates[f"torch bs32, {os.cpu_count()} threads"] = threads(os.cpu_count())
    if E._native_bf16() or not quick:  # bf16 autocast: fast only where the CPU has bf16 instructions
        candidates["torch bf16 autocast bs32"] = lambda texts: E.encode(settings.model, texts, 32, backend="torch", precision="bf16")
    onnx_error = None
    try:
        if E.onnx_encoder(settings.model) is None:
            onnx_error = "model is not a mean-pooling Transformer"
        else:
            for bs in ((32,) if quick else (32, 64)):
                candidates[f"onnx fp32 bs{bs}"] = (lambda b: lambda texts: E.onnx_encoder(settings.model).encode(texts, b))(bs)
            if not quick:
                candidates["onnx int8 (dynamic quantization) bs32"] = lambda texts: E.onnx_encoder(settings.model, quantize=True).encode(texts, 32)
    except Exception as e:  # export failed: record why, keep benchmarking the rest
        onnx_error = f"{type(e).__name__}: {e}"
    for f in candidates.values():  # warm every path (exports, first-call allocations) before timing
        f(speed_texts[:8])

    # Two rounds, interleaved, best of the two: the machine is shared and its load moves.
    times: dict[str, list[float]] = {name: [] for name in candidates}
    vecs_of: dict[str, np.ndarray] = {}
    progress_bar = bar(2 * len(candidates), "encoders", progress)
    for _round in range(2):
        for name, f in candidates.items():
            t = time.perf_counter()
            vecs_of[name] = f(speed_texts)
            times[name].append(time.perf_counter() - t)
            progress_bar.update(1)
    progress_bar.close()
    base = min(times["default (torch, bs32)"])
    ref_speed = vecs_of["default (torch, bs32)"]
    ref_vecs = None
    rows = {}
    for name, f in candidates.items():
        cos = (vecs_of[name] * ref_speed).sum(axis=1)  # same texts, from the timed runs
        rows[name] = {
            "texts_per_s": round(len(speed_texts) / min(times[name]), 2),
            "speed_vs_default": round(base / min(times[name]), 3),
            "cosine_mean": round(float(cos.mean()), 5),
            "cosine_min": round(float(cos.min()), 5),
        }
        if name.startswith(("onnx", "torch bf16")):  # another runtime or precision: check every bundled-corpus chunk too
            if ref_vecs is None:
                ref_vecs = candidates["default (torch, bs32)"](quality_texts)
            cq = (f(quality_texts) * ref_vecs).sum(axis=1)
            rows[name]["bundled_cosine_mean"] = round(float(cq.mean()), 5)
            rows[name]["bundled_cosine_min"] = round(float(cq.min()), 5)
    # Retrieval quality: the bundled corpus indexed and queried with each backend.
    for backend, name, quant in (("torch", "default (torch, bs32)", False), ("torch-bf16", "torch bf16 autocast bs32", False),
                                 ("onnx", "onnx fp32 bs32", False), ("onnx", "onnx int8 (dynamic quantization) bs32", True)):
        if name not in rows or quick:
            continue
        rows[name]["retrieval"] = _quality_with_backend(settings, work / f"enc-{backend}-{int(quant)}", questions, backend, quant)
    out = {"n_speed_texts": len(speed_texts), "n_quality_texts": len(quality_texts), "torch_threads_default": default_threads,
           "st_sorts_whole_call": _st_sorts_whole_call(), "candidates": rows, "onnx_error": onnx_error}
    ref = rows["default (torch, bs32)"].get("retrieval") or {}
    ok = {n: r for n, r in rows.items() if min(r["cosine_mean"], r.get("bundled_cosine_mean", 1.0)) >= TARGETS["encoder_cosine_min"]
          and (r.get("retrieval") is None or (r["retrieval"]["hit_at_5"] == ref.get("hit_at_5") and r["retrieval"]["mrr"] == ref.get("mrr")))}
    out["fastest_quality_preserving"] = max(ok, key=lambda n: rows[n]["speed_vs_default"]) if ok else None
    return out


def _st_sorts_whole_call() -> bool:
    """Does SentenceTransformer.encode sort all inputs of one call by length (so a flush is sorted)?"""
    import inspect

    from sentence_transformers import SentenceTransformer

    try:
        return "length_sorted_idx" in inspect.getsource(inspect.getmodule(SentenceTransformer))
    except (OSError, TypeError):
        return False


def _quality_with_backend(settings, folder: Path, questions, backend: str, quantize: bool) -> dict:
    """The bundled corpus indexed and queried through one encoder (handed in, nothing patched)."""
    from ...app.retrieve import Engine
    from ...ingest import embed as E
    from ...ingest.pipeline import Ingestor

    if backend == "onnx":
        onnx = E.onnx_encoder(settings.model, quantize=quantize, onnx_dir=settings.onnx_dir)
        encoder = FunctionEncoder(lambda texts: onnx.encode(texts, settings.batch_size), onnx.dim)
    else:
        encoder = E.Encoder(settings.model, settings.batch_size, "torch", "bf16" if backend == "torch-bf16" else "fp32")
    s = scratch(settings, folder.parent, folder.name)
    Ingestor(s, encoder=encoder).run([BUNDLED], progress=False)
    return retrieval_quality(Engine(s, encoder=encoder), questions)


