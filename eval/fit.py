"""`assay eval fit`: fit the offline writer's thresholds on the tune split, report the test split.

Each question is retrieved, analysed and scored once (`extractive.score`, the expensive half of
the writer); then every threshold combination of the grid replays only the decision
(`extractive.decide`) and is scored with the same metric functions as `assay eval`. The best
combination on the tune split — the highest mean of the measures below, among those that keep
false abstention at or under `MAX_FALSE_ABSTENTION` — is reported with its figures on both
splits, next to the thresholds the code uses now. Nothing is written into the code: the
constants in app/extractive.py are set by hand from this report.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass

from .fmt import num
from .questions import Question

GRID = {  # "topical" (the off-topic guard) is set by hand between the tune split's off-topic and answerable questions
    "answer": tuple(round(0.30 + 0.025 * i, 3) for i in range(11)),
    "about": tuple(round(0.30 + 0.025 * i, 3) for i in range(13)),
    "support": (0.7, 0.8, 0.9),
}
MEASURES = ("declined_ok", "fact_coverage", "answer_first", "correct")  # higher is better
LOWER = ("false_abstention", "nongold_share")  # lower is better
MAX_FALSE_ABSTENTION = 0.05


@dataclass
class Prepared:
    q: Question
    query: str
    passages: list
    analysis: object
    scored: object


def prepare(questions: list[Question], engine, k: int = 6, progress: bool = True) -> list[Prepared]:
    """Retrieve, analyse and score every question once (what every threshold setting shares)."""
    from tqdm import tqdm

    from ..app.answer import _standalone, search
    from ..app.extractive import score

    out = []
    for q in tqdm(questions, desc="prepare", unit="q", disable=not progress):
        query, a, passages = search(q.question, _standalone(q.question, list(q.history), k, engine, None), k, engine)
        out.append(Prepared(q, query, passages, a if passages else None, score(a, query, passages, engine) if passages else None))
    return out


def measure(prepared: list[Prepared], thresholds, engine) -> dict:
    """Means of the fitted measures for one threshold setting (no embedding: support is not scored)."""
    from ..app.answer import from_draft
    from ..app.extractive import decide
    from ..app.schema import Answer
    from .run import score_question

    rows = []
    for p in prepared:
        if p.scored is None:
            ans = Answer.abstention(p.q.question, p.query, [], "no passages matched")
        else:
            ans = from_draft(p.q.question, p.query, p.passages, decide(p.analysis, p.scored, thresholds))
        rows.append(score_question(p.q, ans, engine, support=False))
    out = {}
    for key in MEASURES + LOWER:
        vals = [r["metrics"][key] for r in rows if r["metrics"].get(key) is not None]
        out[key] = sum(vals) / len(vals) if vals else None
    return out


def objective(m: dict) -> float:
    parts = [m[k] for k in MEASURES if m.get(k) is not None] + [1 - m[k] for k in LOWER if m.get(k) is not None]
    return sum(parts) / len(parts) if parts else 0.0


def fit(tune: list[Prepared], test: list[Prepared], engine, progress: bool = True) -> dict:
    """The best thresholds on `tune` (grid search), with their measures on both splits."""
    from tqdm import tqdm

    from ..app.extractive import THRESHOLDS, Thresholds

    t0 = time.perf_counter()
    best, best_m, best_obj = None, None, -1.0
    combos = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    combos = [c for c in combos if c["about"] >= c["answer"] - 0.05]  # "about" at most a little below "answer"
    for combo in tqdm(combos, desc="fit", unit="setting", disable=not progress):
        t = Thresholds(**combo)
        m = measure(tune, t, engine)
        fa = m.get("false_abstention") or 0.0
        obj = objective(m)
        if fa <= MAX_FALSE_ABSTENTION and obj > best_obj:
            best, best_m, best_obj = t, m, obj
    result = {
        "grid_settings": len(combos),
        "seconds": round(time.perf_counter() - t0, 1),
        "current": {"thresholds": asdict(THRESHOLDS), "tune": measure(tune, THRESHOLDS, engine), "test": measure(test, THRESHOLDS, engine)},
    }
    if best is not None:
        result["best"] = {"thresholds": asdict(best), "tune": best_m, "test": measure(test, best, engine), "objective_tune": round(best_obj, 4)}
    return result


def format_fit(result: dict) -> str:
    keys = MEASURES + LOWER
    lines = [f"{'':<22}" + "".join(f"{k:>18}" for k in keys)]
    for name in ("current", "best"):
        rec = result.get(name)
        if not rec:
            continue
        lines.append(f"{name}: {rec['thresholds']}")
        for split in ("tune", "test"):
            lines.append(f"  {split:<20}" + "".join(f"{num(rec[split].get(k)):>18}" for k in keys))
    lines.append(f"({result['grid_settings']} settings in {result['seconds']} s; best = highest mean on tune with false abstention <= {MAX_FALSE_ABSTENTION})")
    return "\n".join(lines)
