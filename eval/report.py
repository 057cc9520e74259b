"""Evaluation reports: report.md with PNG plots beside it, and a self-contained report.html."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from .fmt import num
from .metrics import (
    decline_curve,
    is_unanswerable,
    row_status,
    run_threshold,
    source_name,
)

# Shown in tables and the per-kind chart, in this order, when the summary has them.
MAIN_METRICS = (
    "hit_at_k",
    "mrr",
    "context_recall",
    "fact_coverage",
    "abstention_correct",
    "citation_validity",
    "citation_support_recall",
    "citation_support_precision",
    "cited_gold",
    "correct",
    "squad",
    "declined_ok",
    "false_abstention",
    "partial",
    "answer_first",
    "nongold_share",
)
SPLIT_METRICS = ("hit_at_k", "fact_coverage", "correct", "squad", "declined_ok", "false_abstention", "partial",
                 "answer_first", "nongold_share")  # the per-split table: outcome metrics beside abstention/SQuAD
CHART_METRICS = 6
THRESHOLD_STEPS = 101  # thresholds 0.00, 0.01, ..., 1.00 for the decline curve
WORST_N = 10
ANSWER_CHARS = 500


def write_reports(out_dir: str | Path, rows: list[dict], summary: dict) -> tuple[Path, Path]:
    """Write report.md, report.html and their plots into out_dir; return (html_path, md_path).

    >>> write_reports("eval/runs/latest", rows, aggregate(rows, keys))
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = [k for k in MAIN_METRICS if k in summary.get("means", {})] or list(summary.get("means", {}))
    plots = {}  # file name -> (title, png bytes)
    if png := _metrics_chart(summary, metrics[:CHART_METRICS]):
        plots["metrics_by_kind.png"] = ("Main metrics per question kind", png)
    if png := _latency_chart(rows):
        plots["latency.png"] = ("Total latency per question (seconds)", png)
    if png := _threshold_chart(rows):
        plots["decline_threshold.png"] = ("Declining unanswerable questions: precision and recall against the confidence threshold", png)
    for name, (_, png) in plots.items():
        (out / name).write_bytes(png)
    tables = _tables(rows, summary, metrics)
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(_markdown(tables, plots), encoding="utf-8")
    html_path.write_text(_html(tables, plots), encoding="utf-8")
    return html_path, md_path


# --- plots (matplotlib's object API: no pyplot global state, no backend switching) ----------


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _metrics_chart(summary: dict, metrics: list[str]) -> bytes | None:
    by_kind = summary.get("by_kind") or {}
    if not metrics or not by_kind:
        return None
    from matplotlib.figure import Figure

    kinds = list(by_kind)
    fig = Figure(figsize=(max(6, 1.3 * len(kinds) + 2), 4))
    ax = fig.add_subplot()
    width = 0.8 / len(metrics)
    for i, key in enumerate(metrics):
        values = [by_kind[k]["means"].get(key) for k in kinds]
        xs = [j + (i - (len(metrics) - 1) / 2) * width for j in range(len(kinds))]
        ax.bar(xs, [float("nan") if v is None else v for v in values], width, label=key)
    ax.set_xticks(range(len(kinds)), [f"{k}\n(n={by_kind[k]['n']})" for k in kinds])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean (undefined values skipped)")
    ax.legend(fontsize="small", ncols=min(3, len(metrics)), loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return _png(fig)


def _latency_chart(rows: list[dict]) -> bytes | None:
    totals = [float(t) for r in rows if (t := (r.get("timings") or {}).get("total")) is not None]
    if not totals:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    ax.hist(totals, bins=min(30, max(5, len(totals) // 3)), color="#4c72b0")
    ax.set_xlabel("total seconds")
    ax.set_ylabel("questions")
    return _png(fig)


def threshold_points(rows: list[dict]) -> tuple[list[tuple[float, float | None, float | None]], float | None]:
    """The decline curve over the scored rows with a confidence, and the threshold the run used.

    A question counts as declined at threshold t when its status is not "answered" or its
    confidence is below t; unanswerable questions are the positive class. ([], None) when no row
    carries a confidence (runs from before confidences) or none is unanswerable.
    """
    rows = [r for r in rows if "error" not in r and isinstance(r.get("confidence"), (int, float))]
    unanswerable = [is_unanswerable(r) for r in rows]
    if not any(unanswerable):
        return [], None
    statuses = [row_status(r) for r in rows]
    confidences = [float(r["confidence"]) for r in rows]
    thresholds = [i / (THRESHOLD_STEPS - 1) for i in range(THRESHOLD_STEPS)]
    return decline_curve(statuses, confidences, unanswerable, thresholds), run_threshold(statuses, confidences)


def _threshold_chart(rows: list[dict]) -> bytes | None:
    points, used = threshold_points(rows)
    if not points:
        return None
    from matplotlib.figure import Figure

    def nan(v):
        return float("nan") if v is None else v

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    ts = [t for t, _, _ in points]
    ax.plot(ts, [nan(p) for _, p, _ in points], label="precision (declines that were unanswerable)", color="#4c72b0",
            drawstyle="steps-post")
    ax.plot(ts, [nan(r) for _, _, r in points], label="recall (unanswerable questions declined)", color="#dd8452",
            drawstyle="steps-post")
    if used is not None:
        ax.axvline(used, color="#555555", linestyle="--", linewidth=1, label=f"this run ({used:.2f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence threshold t (declined: not answered, or confidence < t)")
    ax.set_ylabel("share")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return _png(fig)


# --- tables: (title, header, rows of plain-text cells); escaping happens per output format ---


def _problem(row: dict) -> tuple[int, float, str] | None:
    """Sort key and label for a question worth showing: wrong abstention, then low fact coverage."""
    unanswerable, status = is_unanswerable(row), row_status(row)
    metrics = row.get("metrics") or {}
    if status == "abstained" and not unanswerable:
        return (0, 0.0, "abstained on an answerable question")
    if unanswerable and status == "partial" and metrics.get("declined_ok") == 0:
        return (0, 0.0, "partial on an unanswerable question, but it does not say what is missing")
    if unanswerable and status not in ("abstained", "partial"):
        return (0, 0.0, "answered an unanswerable question")
    coverage = metrics.get("fact_coverage")
    if coverage is not None and coverage < 1:
        return (1, coverage, f"fact coverage {coverage:.2f}")
    return None


def _worst(rows: list[dict]) -> list[list[str]]:
    flagged = sorted(((p, i) for i, r in enumerate(rows) if (p := _problem(r))), key=lambda x: (x[0][:2], x[1]))
    out = []
    for (_, _, label), i in flagged[:WORST_N]:
        row = rows[i]
        sources = list(dict.fromkeys(source_name(p.get("article_id", "")) for p in row.get("retrieved") or []))
        answer = str(row.get("answer") or "")
        if len(answer) > ANSWER_CHARS:
            answer = answer[:ANSWER_CHARS] + "…"
        out.append([str(row.get("id", "")), str(row.get("kind", "")), str(row.get("question", "")), label,
                    row_status(row), answer, ", ".join(sources[:5])])
    return out


def _tables(rows: list[dict], summary: dict, metrics: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    means, counts = summary.get("means", {}), summary.get("counts", {})
    tables = [("Overall", ["metric", "mean", "n"], [[k, num(means.get(k)), num(counts.get(k))] for k in metrics])]
    by_kind = summary.get("by_kind") or {}
    tables.append((
        "Per kind",
        ["kind", "n", *metrics],
        [[k, str(v["n"]), *(num(v["means"].get(m)) for m in metrics)] for k, v in by_kind.items()],
    ))
    ab = summary.get("abstention") or {}
    tables.append(("Abstention (abstained) and declining (abstained or partial)", ["measure", "value"],
                   [[k, num(v)] for k, v in ab.items()]))
    sq = summary.get("squad") or {}
    if sq:
        tables.append(("SQuAD 2.0-style score (answerable: fact coverage, 0 if abstained; unanswerable: declined_ok)",
                       ["", "HasAns", "NoAns", "overall"],
                       [["mean", num(sq.get("has_ans")), num(sq.get("no_ans")), num(sq.get("overall"))],
                        ["n", num(sq.get("n_has_ans")), num(sq.get("n_no_ans")),
                         num((sq.get("n_has_ans") or 0) + (sq.get("n_no_ans") or 0))]]))
    by_split = summary.get("by_split") or {}
    if by_split:
        split_ab = ("abstention_f1", "decline_precision", "decline_recall", "decline_f1")
        split_metrics = [m for m in SPLIT_METRICS if m in metrics]
        tables.append((
            "Per split",
            ["split", "n", *split_metrics, *split_ab, "squad HasAns", "squad NoAns"],
            [[k, str(v["n"]), *(num(v["means"].get(m)) for m in split_metrics),
              *(num((v.get("abstention") or {}).get(a)) for a in split_ab),
              num((v.get("squad") or {}).get("has_ans")), num((v.get("squad") or {}).get("no_ans"))]
             for k, v in by_split.items()],
        ))
    outcomes = summary.get("outcomes") or {}
    if outcomes:
        actual = ["answered", "partial", "abstained"] + sorted({a for c in outcomes.values() for a in c} - {"answered", "partial", "abstained"})
        tables.append(("Outcome: expected (rows) against actual (columns)", ["expected", *actual],
                       [[e, *(str(outcomes[e].get(a, 0)) for a in actual)] for e in sorted(outcomes)]))
    points, used = threshold_points(rows)
    if points:
        marks = sorted({0.0, 0.25, 0.5, 0.75, 1.0} | ({round(used, 2)} if used is not None else set()))
        body = [[f"{t:.2f}" + (" (this run)" if used is not None and abs(t - round(used, 2)) < 1e-9 else ""), num(p), num(r)]
                for t, p, r in points if any(abs(t - m) < 1e-9 for m in marks)]
        tables.append(("Declining by confidence threshold", ["threshold", "precision", "recall"], body))
    lat = summary.get("latency") or {}
    tables.append(("Latency (seconds)", ["stage", "p50", "p95", "n"],
                   [[k, num(v.get("p50")), num(v.get("p95")), num(v.get("n"))] for k, v in lat.items()]))
    worst = _worst(rows)
    header = ["id", "kind", "question", "problem", "status", "answer", "retrieved sources"]
    tables.append((f"Worst questions ({len(worst)})", header, worst))
    return tables


# --- output formats ------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    # Escaped as HTML too: most Markdown renderers pass raw HTML through, and answers are untrusted.
    return html.escape(" ".join(text.split())).replace("|", "\\|")


def _markdown(tables, plots) -> str:
    lines = ["# Assay evaluation report", ""]
    for name, (title, _) in plots.items():
        lines += [f"![{title}]({name})", ""]
    for title, header, body in tables:
        lines += [f"## {title}", ""]
        if not body:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
        lines.append("")
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top;text-align:left}
th{background:#f3f3f3}img{max-width:100%;display:block;margin:1em 0}"""


def _html(tables, plots) -> str:
    esc = html.escape
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>Assay evaluation report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>Assay evaluation report</h1>"]
    for title, png in plots.values():
        data = base64.b64encode(png).decode("ascii")
        img = f'<img src="data:image/png;base64,{data}" alt="{esc(title)}">'
        parts.append(f"<figure>{img}<figcaption>{esc(title)}</figcaption></figure>")
    for title, header, body in tables:
        parts.append(f"<h2>{esc(title)}</h2>")
        if not body:
            parts.append("<p>(none)</p>")
            continue
        parts.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>")
        parts += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in body]
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)
