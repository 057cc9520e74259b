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
    text = _match_text(answer_text)
    return sum(1 for fact in facts if _has_alternative(text, fact)) / len(facts)


def _match_text(text: str | None) -> str:
    return normalize(MARKER_WITH_SPACE.sub("", text or ""))


def _has_alternative(matched_text: str, fact: Sequence[str] | str) -> bool:
    """True if one alternative of `fact` (a string or a list of them) is in the already-normalized text."""
    alternatives = [fact] if isinstance(fact, str) else fact
    return any((alt := normalize(a)) and alt in matched_text for a in alternatives)


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
    precision = both / n_abst if n_abst else None
    recall = both / n_unans if n_unans else None
    return {
        "abstention_precision": precision,
        "abstention_recall": recall,
        "abstention_f1": f1(precision, recall),
        "false_abstention_rate": (n_abst - both) / n_ans if n_ans else None,
        "abstained": n_abst,
        "unanswerable": n_unans,
    }


def f1(precision: float | None, recall: float | None) -> float | None:
    """Harmonic mean of precision and recall (0.0 when both are 0); None if either is undefined."""
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def decline_scores(declined: Sequence[bool], unanswerable: Sequence[bool]) -> dict:
    """`abstention_scores` with "declined" (abstained or partial) in place of "abstained", keys renamed.

    decline_precision, decline_recall, decline_f1, false_decline_rate and the count `declined`.
    """
    s = abstention_scores(declined, unanswerable)
    return {
        "decline_precision": s["abstention_precision"],
        "decline_recall": s["abstention_recall"],
        "decline_f1": s["abstention_f1"],
        "false_decline_rate": s["false_abstention_rate"],
        "declined": s["abstained"],
    }


# --- outcomes: answered | partial | abstained ------------------------------------------------

STATUSES = ("answered", "partial", "abstained")
QUOTED_KINDS = ("answer", "support", "item")  # sentence kinds quoted from an article; "note" is Assay's own words


def is_declined(status: str) -> bool:
    """True for the outcomes that decline all or part of the question: "abstained" and "partial"."""
    return status in ("abstained", "partial")


def row_status(row: dict) -> str:
    """A row's outcome: "abstained" whenever `abstained` is set, else its `status` (rows older than statuses: "answered")."""
    if row.get("abstained"):
        return "abstained"
    return str(row.get("status") or "answered")


def declined_ok(status: str, gold: Sequence[str], stated: Sequence[str], expected_missing: Sequence[Sequence[str] | str]) -> float | None:
    """Unanswerable only: 1.0 if abstained, or partial with `stated` (missing + notes) naming one `expected_missing` group (any partial without groups); else 0.0."""
    if _gold_names(gold):
        return None
    if status == "abstained":
        return 1.0
    if status != "partial":
        return 0.0
    if not expected_missing:
        return 1.0
    text = _match_text(" ".join(s for s in stated if s))
    return 1.0 if any(_has_alternative(text, group) for group in expected_missing) else 0.0


def false_abstention(status: str, gold: Sequence[str]) -> float | None:
    """Answerable only: 1.0 if the system abstained, else 0.0; None on unanswerable questions."""
    if not _gold_names(gold):
        return None
    return 1.0 if status == "abstained" else 0.0


def partial(status: str) -> float:
    """1.0 if the outcome is "partial" (says what the articles say and what they don't), else 0.0."""
    return 1.0 if status == "partial" else 0.0


def _quoted(sentences: Sequence[tuple[str, object]]) -> list[tuple[str, object]]:
    return [(kind, x) for kind, x in sentences if (kind or "answer") != "note"]


def answer_first(sentences: Sequence[tuple[str, str]], facts: Sequence[Sequence[str] | str], status: str, gold: Sequence[str]) -> float | None:
    """1.0 if the first quoted (kind, text) sentence, plus the first item when there are items, holds a fact alternative; None unless answerable, not abstained, with facts."""
    if not _gold_names(gold) or status == "abstained" or not facts:
        return None
    quoted = _quoted(sentences)
    if not quoted:
        return 0.0
    first = [quoted[0][1]]
    item = next((i for i, (kind, _) in enumerate(quoted) if kind == "item"), None)
    if item is not None and item > 0:
        first.append(quoted[item][1])  # "The suppliers are in:" + "Texas"
    text = _match_text(" ".join(str(t) for t in first))
    return 1.0 if any(_has_alternative(text, fact) for fact in facts) else 0.0


def nongold_share(sentences: Sequence[tuple[str, Sequence[str]]], gold: Sequence[str], status: str) -> float | None:
    """Share of quoted (kind, cited article ids) sentences citing no gold source (uncited count); None unless answerable, not abstained, with quoted sentences."""
    names = _gold_names(gold)
    if not names or status == "abstained":
        return None
    quoted = _quoted(sentences)
    if not quoted:
        return None
    outside = sum(1 for _, ids in quoted if not any(source_name(a) in names for a in ids))
    return outside / len(quoted)


def correct(status: str, gold: Sequence[str], coverage: float | None, declined: float | None) -> float | None:
    """Answerable: 1.0 if not abstained and fact_coverage is 1.0 (None without facts); unanswerable: declined_ok."""
    if not _gold_names(gold):
        return declined
    if status == "abstained":
        return 0.0
    return None if coverage is None else (1.0 if coverage >= 1.0 else 0.0)


def squad(status: str, gold: Sequence[str], coverage: float | None, declined: float | None) -> float | None:
    """SQuAD 2.0-style score: answerable -> fact_coverage (0.0 if abstained), unanswerable -> declined_ok."""
    if not _gold_names(gold):
        return declined
    return 0.0 if status == "abstained" else coverage


def squad_split(scores: Sequence[float | None], unanswerable: Sequence[bool]) -> dict:
    """SQuAD 2.0's summary of per-question `squad` scores: HasAns, NoAns and overall means, with counts."""
    pairs = [(float(s), u) for s, u in zip(scores, unanswerable, strict=True) if s is not None]
    has = [s for s, u in pairs if not u]
    no = [s for s, u in pairs if u]
    return {"has_ans": _mean(has), "no_ans": _mean(no), "overall": _mean(s for s, _ in pairs),
            "n_has_ans": len(has), "n_no_ans": len(no)}


def decline_curve(statuses: Sequence[str], confidences: Sequence[float], unanswerable: Sequence[bool],
                  thresholds: Sequence[float]) -> list[tuple[float, float | None, float | None]]:
    """(t, precision, recall) of declining at each threshold t: declined = status != "answered" or confidence < t."""
    out = []
    for t in thresholds:
        declined = [s != "answered" or c < t for s, c in zip(statuses, confidences, strict=True)]
        s = abstention_scores(declined, unanswerable)
        out.append((float(t), s["abstention_precision"], s["abstention_recall"]))
    return out


def run_threshold(statuses: Sequence[str], confidences: Sequence[float]) -> float | None:
    """The confidence threshold a run behaved as if it used: the lowest confidence among answered questions; None if none."""
    answered_conf = [float(c) for s, c in zip(statuses, confidences, strict=True) if s == "answered"]
    return min(answered_conf) if answered_conf else None


def outcome_matrix(rows: list[dict]) -> dict:
    """{expected outcome: {actual outcome: count}} over rows that carry an `expect`."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.get("expect"):
            cell = out.setdefault(r["expect"], {})
            status = "error" if "error" in r else row_status(r)
            cell[status] = cell.get(status, 0) + 1
    return out


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
    if not isinstance(value, (int, float)):  # None, or a row field of the same name that is not a metric
        return None
    return float(value)  # bools count as 0/1


def _means(rows: list[dict], keys: Sequence[str]) -> tuple[dict, dict]:
    means, counts = {}, {}
    for key in keys:
        vals = [v for r in rows if (v := _metric(r, key)) is not None]
        means[key] = sum(vals) / len(vals) if vals else None
        counts[key] = len(vals)
    return means, counts


def _outcome_scores(rows: list[dict]) -> tuple[dict, dict]:
    unanswerable = [is_unanswerable(r) for r in rows]
    abstention = abstention_scores([bool(r.get("abstained")) for r in rows], unanswerable)
    abstention.update(decline_scores([is_declined(row_status(r)) for r in rows], unanswerable))
    return abstention, squad_split([_metric(r, "squad") for r in rows], unanswerable)


def aggregate(rows: list[dict], keys: Sequence[str]) -> dict:
    """Means (over non-None values) of `keys` overall, per `kind` and per `split`, abstention and
    decline scores, the SQuAD 2.0 HasAns/NoAns split, expected-vs-actual outcomes and latency.

    Metric values are read from row["metrics"][key] (or row[key]); latencies from row["timings"].
    "abstention" holds abstention_* (status "abstained") and decline_* (status "abstained" or
    "partial") precision, recall, F1 and false rate; "squad" the mean `squad` metric over
    answerable (has_ans), unanswerable (no_ans) and all (overall) questions.
    """
    means, counts = _means(rows, keys)
    by_kind = {}
    for kind in sorted({r.get("kind") or "unknown" for r in rows}):
        kind_rows = [r for r in rows if (r.get("kind") or "unknown") == kind]
        k_means, k_counts = _means(kind_rows, keys)
        by_kind[kind] = {"n": len(kind_rows), "means": k_means, "counts": k_counts}
    by_split = {}
    for split in sorted({r["split"] for r in rows if r.get("split")}):
        split_rows = [r for r in rows if r.get("split") == split]
        s_means, s_counts = _means(split_rows, keys)
        s_abstention, s_squad = _outcome_scores(split_rows)
        by_split[split] = {"n": len(split_rows), "means": s_means, "counts": s_counts,
                           "abstention": s_abstention, "squad": s_squad}
    latency = {}
    for name in LATENCY_KEYS:
        vals = [float(t) for r in rows if (t := (r.get("timings") or {}).get(name)) is not None]
        latency[name] = {"p50": percentile(vals, 50), "p95": percentile(vals, 95), "n": len(vals)}
    abstention, squad_scores = _outcome_scores(rows)
    return {
        "n": len(rows),
        "means": means,
        "counts": counts,
        "by_kind": by_kind,
        "by_split": by_split,
        "abstention": abstention,
        "squad": squad_scores,
        "outcomes": outcome_matrix(rows),
        "latency": latency,
    }
