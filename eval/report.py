"""Evaluation reports: report.md with PNG plots beside it, and a self-contained report.html."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from .fmt import num
from .metrics import is_unanswerable, source_name

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
)
CHART_METRICS = 6
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


# --- tables: (title, header, rows of plain-text cells); escaping happens per output format ---


def _problem(row: dict) -> tuple[int, float, str] | None:
    """Sort key and label for a question worth showing: wrong abstention, then low fact coverage."""
    unanswerable, abstained = is_unanswerable(row), bool(row.get("abstained"))
    if abstained and not unanswerable:
        return (0, 0.0, "abstained on an answerable question")
    if unanswerable and not abstained:
        return (0, 0.0, "answered an unanswerable question")
    coverage = (row.get("metrics") or {}).get("fact_coverage")
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
                    answer, ", ".join(sources[:5])])
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
    tables.append(("Abstention", ["measure", "value"], [[k, num(v)] for k, v in ab.items()]))
    lat = summary.get("latency") or {}
    tables.append(("Latency (seconds)", ["stage", "p50", "p95", "n"],
                   [[k, num(v.get("p50")), num(v.get("p95")), num(v.get("n"))] for k, v in lat.items()]))
    worst = _worst(rows)
    header = ["id", "kind", "question", "problem", "answer", "retrieved sources"]
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
