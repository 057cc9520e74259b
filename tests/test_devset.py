"""The development question set (eval/dev.jsonl) is what it claims: every fact is in its gold
articles, every near-miss is grep-checked against every eval article, the split is fixed, and it
has the shape the answer-writer issue asks for."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from assay.eval.metrics import normalize
from assay.eval.questions import load_questions
from assay.ingest.files import iter_article_paths
from assay.ingest.load import load_article

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "eval" / "dev.jsonl"
ANSWER_TYPES = {"money", "quantity", "percent", "date", "person", "organization", "place", "reason", "list", "yesno", "description"}
NEAR_MISS = {"nearmiss-entity", "nearmiss-year", "nearmiss-attribute", "nearmiss-why", "nearmiss-premise"}


@lru_cache(maxsize=1)
def _articles() -> dict[str, list[str]]:
    """File name -> normalised blocks (one per line of the cleaned text), as Assay indexes them."""
    out = {}
    for path, root in iter_article_paths([ROOT / "corpus", ROOT / "eval" / "articles"]):
        text = load_article(path, root).text
        out[path.name] = [normalize(line) for line in text.split("\n") if line.strip()]
    return out


@lru_cache(maxsize=1)
def _rows() -> list[dict]:
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_set_loads_and_has_the_asked_shape():
    questions, errors = load_questions(DEV)
    assert not errors and len(questions) >= 150
    rows = _rows()
    assert {r["split"] for r in rows} == {"tune", "test"}
    assert len({r["id"] for r in rows}) == len(rows)
    near = [r for r in rows if r["kind"] in NEAR_MISS or (not r["sources"])]
    assert len(near) >= 50
    assert sum(1 for r in rows if r.get("history")) >= 20
    assert ANSWER_TYPES <= {r["atype"] for r in rows}
    kinds = Counter((r["kind"], r["split"]) for r in rows)
    for kind in NEAR_MISS | {"followup"}:  # both halves hold every near-miss class and follow-ups
        assert kinds[(kind, "tune")] and kinds[(kind, "test")], kind
    dev_articles = {Path(p).name for p, _ in iter_article_paths([ROOT / "eval" / "articles"])}
    used = {s for r in rows for s in r["sources"] + r.get("related", [])}
    assert len(dev_articles & used) >= 10


def test_every_fact_is_in_its_gold_articles():
    arts = _articles()
    for r in _rows():
        for s in r["sources"]:
            assert s in arts, (r["id"], s)
        for fact in r["facts"]:
            found = any(normalize(alt) in block for alt in fact for s in r["sources"] for block in arts[s])
            assert found, (r["id"], fact)


@pytest.mark.parametrize("kind", sorted(NEAR_MISS))
def test_no_article_answers_a_near_miss(kind):
    """Each `absent` group: its strings never all occur in one block of any eval article."""
    arts = _articles()
    rows = [r for r in _rows() if r["kind"] == kind or (r["kind"] == "followup" and not r["sources"] and kind == "nearmiss-entity")]
    assert rows
    for r in rows:
        assert not r["sources"] and r["expect"] in ("abstained", "partial") and r.get("absent"), r["id"]
        for group in r["absent"]:
            needles = [normalize(x) for x in group]
            hits = [(name, b[:80]) for name, blocks in arts.items() for b in blocks if all(n in b for n in needles)]
            assert not hits, (r["id"], group, hits[:1])
