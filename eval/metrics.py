"""Evaluation metrics: pure functions over one question's data, and `aggregate` over rows.

Per-question metrics return a float in [0, 1], or None when the metric is undefined for
that question (e.g. retrieval metrics on an unanswerable question); `aggregate` averages
only the non-None values and reports how many there were.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from ..app.schema import MARKER_WITH_SPACE, cited_sentences, marker_numbers  # noqa: F401  (cited_sentences: part of the metrics API)

LATENCY_KEYS = ("retrieve", "write", "total")

_TRANSLATE = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d", "-"),
        "\u00ad": None,  # soft hyphen
    }
)


# --- helpers -------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Casefold, unify unicode quotes/dashes and collapse whitespace, for substring matching."""
    text = unicodedata.normalize("NFKC", text or "").translate(_TRANSLATE)
    return " ".join(text.casefold().split())


def source_name(source: str) -> str:
    """File name of an article id, so "sub/x.md" and "x.md" compare equal."""
    return PurePosixPath(str(source).replace("\\", "/")).name


def _gold_names(gold: Iterable[str]) -> set[str]:
    return {source_name(g) for g in gold if g}


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


# --- retrieval -----------------------------------------------------------------------------


def hit_at_k(retrieved_sources: Sequence[str], gold: Sequence[str], k: int) -> float | None:
    """1.0 if any of the first k retrieved passages comes from a gold source; None without gold."""
    names = _gold_names(gold)
    if not names:
        return None
    return 1.0 if any(source_name(s) in names for s in retrieved_sources[:k]) else 0.0


def mrr(retrieved_sources: Sequence[str], gold: Sequence[str]) -> float | None:
    """Reciprocal rank of the first passage from a gold source (0.0 if none); None without gold."""
    names = _gold_names(gold)
    if not names:
        return None
    for rank, source in enumerate(retrieved_sources, 1):
        if source_name(source) in names:
            return 1.0 / rank
    return 0.0


def context_recall(retrieved_sources: Sequence[str], gold: Sequence[str]) -> float | None:
    """Share of distinct gold sources that appear among the retrieved passages; None without gold."""
    names = _gold_names(gold)
    if not names:
        return None
    return len(names & {source_name(s) for s in retrieved_sources}) / len(names)


# --- answer --------------------------------------------------------------------------------


def fact_coverage(answer_text: str, facts: Sequence[Sequence[str] | str]) -> float | None:
    """Share of facts with at least one alternative in the answer (normalized substring); None without facts.

    >>> fact_coverage("MP Materials got $35 million [1].", [["35 million"], ["Mountain Pass"]])
    0.5
    """
    if not facts:
        return None
    # Markers are removed first so "Mountain [2] Pass" style splits cannot hide or fake a match.
    text = normalize(MARKER_WITH_SPACE.sub("", answer_text or ""))
    covered = 0
    for fact in facts:
        alternatives = [fact] if isinstance(fact, str) else fact
        if any((alt := normalize(a)) and alt in text for a in alternatives):
            covered += 1
    return covered / len(facts)


def answered(abstained: bool) -> bool:
    """True when the system gave an answer rather than abstaining."""
    return not abstained


def abstention_correct(abstained: bool, gold: Sequence[str]) -> float:
    """1.0 when the system abstained exactly on an unanswerable question (no gold sources)."""
    return 1.0 if bool(abstained) == (not _gold_names(gold)) else 0.0


def abstention_scores(abstained: Sequence[bool], unanswerable: Sequence[bool]) -> dict:
    """Abstention precision/recall and false-abstention rate over a set of questions.

    recall: share of unanswerable questions that abstained (None if there are none);
    precision: share of abstentions that were on unanswerable questions (None if no abstentions);
    false_abstention_rate: share of answerable questions that abstained (None if there are none).
    """
    pairs = list(zip(abstained, unanswerable, strict=True))
    n_abst = sum(1 for a, _ in pairs if a)
    n_unans = sum(1 for _, u in pairs if u)
    n_ans = len(pairs) - n_unans
    both = sum(1 for a, u in pairs if a and u)
    return {
        "abstention_precision": both / n_abst if n_abst else None,
        "abstention_recall": both / n_unans if n_unans else None,
        "false_abstention_rate": (n_abst - both) / n_ans if n_ans else None,
        "abstained": n_abst,
        "unanswerable": n_unans,
    }


# --- citations (ALCE-style) ----------------------------------------------------------------


def parse_markers(text: str) -> list[int]:
    """All citation numbers in order of appearance: "[1]", "[1, 2]" and "[1][2]" forms."""
    return marker_numbers(text)


def citation_validity(markers: Sequence[int], n_citations: int) -> float | None:
    """Share of [n] markers that resolve to a citation (1..n_citations); None if there are no markers."""
    if not markers:
        return None
    return sum(1 for m in markers if 1 <= m <= n_citations) / len(markers)


def citation_support_recall(sentence_supported: Sequence[bool]) -> float | None:
    """Share of answer sentences supported by their cited passages (uncited = unsupported); None if no sentences."""
    return _mean(1.0 if s else 0.0 for s in sentence_supported)


def citation_support_precision(citation_supports: Sequence[bool]) -> float | None:
    """Share of distinct (sentence, citation) pairs whose passage supports the sentence; None if no pairs."""
    return _mean(1.0 if s else 0.0 for s in citation_supports)


def cited_gold(cited_sources: Sequence[str], gold: Sequence[str]) -> float | None:
    """1.0 if any cited passage comes from a gold source, else 0.0; None without gold."""
    names = _gold_names(gold)
    if not names:
        return None
    return 1.0 if any(source_name(s) in names for s in cited_sources) else 0.0


# --- latency and aggregation ---------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """p-th percentile (0..100) with linear interpolation, like numpy.percentile; None if empty."""
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile p must be in [0, 100], got {p}")
    rank = (len(vals) - 1) * p / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return vals[lo] + (vals[hi] - vals[lo]) * (rank - lo)


def is_unanswerable(row: dict) -> bool:
    """A row is unanswerable when its gold `sources` are empty, or (without them) its kind says so."""
    if "sources" in row:
        return not row["sources"]
    return row.get("kind") == "unanswerable"


def _metric(row: dict, key: str) -> float | None:
    value = (row.get("metrics") or {}).get(key, row.get(key))
    if value is None or isinstance(value, str):
        return None
    return float(value)  # bools count as 0/1


def _means(rows: list[dict], keys: Sequence[str]) -> tuple[dict, dict]:
    means, counts = {}, {}
    for key in keys:
        vals = [v for r in rows if (v := _metric(r, key)) is not None]
        means[key] = sum(vals) / len(vals) if vals else None
        counts[key] = len(vals)
    return means, counts


def aggregate(rows: list[dict], keys: Sequence[str]) -> dict:
    """Means (over non-None values) of `keys` overall and per `kind`, abstention scores and latency.

    Metric values are read from row["metrics"][key] (or row[key]); latencies from row["timings"].
    """
    means, counts = _means(rows, keys)
    by_kind = {}
    for kind in sorted({r.get("kind") or "unknown" for r in rows}):
        kind_rows = [r for r in rows if (r.get("kind") or "unknown") == kind]
        k_means, k_counts = _means(kind_rows, keys)
        by_kind[kind] = {"n": len(kind_rows), "means": k_means, "counts": k_counts}
    latency = {}
    for name in LATENCY_KEYS:
        vals = [float(t) for r in rows if (t := (r.get("timings") or {}).get(name)) is not None]
        latency[name] = {"p50": percentile(vals, 50), "p95": percentile(vals, 95), "n": len(vals)}
    abstention = abstention_scores([bool(r.get("abstained")) for r in rows], [is_unanswerable(r) for r in rows])
    return {
        "n": len(rows),
        "means": means,
        "counts": counts,
        "by_kind": by_kind,
        "abstention": abstention,
        "latency": latency,
    }
