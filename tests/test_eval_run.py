"""`assay eval`: a self-contained run on a tiny corpus, the regression gate on the bundled corpus, compare, CLI."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assay.eval.questions import Question
from assay.eval.run import METRIC_KEYS, check_floors, compare, evaluate, run_eval
from assay.ingest.config import Settings
from tests.conftest import write_corpus

ROOT = Path(__file__).resolve().parents[1]

ARTICLES = {
    "zorblat.md": "# The Zorblat fruit\n\nThe Zorblat fruit is grown only in the valley of Quennar. "
    "Its skin turns bright purple when it ripens in late autumn.\n\n"
    "A single Zorblat fruit sells for about 40 crowns at the Quennar market.\n",
    "glass.md": "# Vintrel glassworks\n\nThe Vintrel glassworks was founded in 1873 by Maren Osk. "
    "It employs 212 glassblowers who make lenses for lighthouses along the northern coast.\n",
    "river.md": "# The Aldon river\n\nThe Aldon river is 930 kilometres long. "
    "Barges carry timber and salt downstream to the port of Kessa every spring.\n",
}
QUESTIONS = [
    {"id": "t1", "kind": "facts", "question": "Where is the Zorblat fruit grown?", "facts": [["Quennar"]], "sources": ["zorblat.md"]},
    {"id": "t2", "kind": "followup", "history": ["Where is the Zorblat fruit grown?"], "question": "How much does it sell for?",
     "facts": [["40 crowns"]], "sources": ["zorblat.md"]},
    {"id": "t3", "kind": "facts", "question": "How many glassblowers does the Vintrel glassworks employ?", "facts": [["212"]], "sources": ["glass.md"]},
    {"id": "t4", "kind": "unanswerable", "question": "What is the population of the Mars colony Tharsis Prime?", "sources": []},
]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A tiny corpus and question file, plus one evaluate() run of them written to out/."""
    base = tmp_path_factory.mktemp("tiny")
    corpus = write_corpus(base / "corpus", ARTICLES)
    questions = base / "questions.jsonl"
    lines = [json.dumps(q) for q in QUESTIONS] + ['{"id": "bad", "question": 3}']  # one malformed row: skipped
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(index_dir=base / "unused-index")
    summary, rows, problems = evaluate(questions, settings=settings, corpus=corpus, out=base / "out", progress=False)
    return {"base": base, "corpus": corpus, "questions": questions, "settings": settings,
            "summary": summary, "rows": rows, "problems": problems}


@pytest.fixture(scope="session")
def gate(tmp_path_factory):
    """The bundled question set on the bundled corpus (ingested once, into a temp index)."""
    out = tmp_path_factory.mktemp("gate") / "run"
    summary, rows, _ = evaluate(ROOT / "eval" / "questions.jsonl", settings=Settings(index_dir=out.parent / "unused"),
                                corpus=ROOT / "corpus", out=out, progress=False)
    return summary, rows, out


def test_tiny_corpus_run_writes_everything(tiny):
    out = tiny["base"] / "out"
    for name in ("results.jsonl", "summary.json", "report.md", "report.html"):
        assert (out / name).is_file(), name
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["t1", "t2", "t3", "t4"]  # question order; the malformed row skipped
    for r in rows:
        assert "error" not in r, r.get("error")
        assert set(METRIC_KEYS) <= set(r["metrics"])
        assert {"query", "answer", "abstained", "citations", "retrieved", "sentences", "timings"} <= set(r)
    assert rows[1]["query"] != rows[1]["question"]  # the follow-up was rewritten
    assert rows[0]["metrics"]["hit_at_k"] == 1.0 and rows[3]["metrics"]["hit_at_k"] is None
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["by_kind"]) == {"facts", "followup", "unanswerable"}
    assert summary["meta"]["n_questions"] == 4 and len(summary["meta"]["skipped_rows"]) == 1
    assert tiny["problems"] == []


def test_tiny_run_rows_carry_outcomes(tiny):
    out = tiny["base"] / "out"
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows:
        assert r["status"] in ("answered", "partial", "abstained") and r["abstained"] == (r["status"] == "abstained")
        assert isinstance(r["confidence"], float) and isinstance(r["missing"], list)
        assert all({"kind", "article_ids"} <= set(s) for s in r["sentences"])
        assert r["metrics"]["partial"] in (0.0, 1.0)
    assert rows[3]["metrics"]["false_abstention"] is None and rows[3]["metrics"]["declined_ok"] in (0.0, 1.0)
    summary = tiny["summary"]
    assert {"decline_f1", "abstention_f1", "false_decline_rate"} <= set(summary["abstention"])
    assert summary["squad"]["n_has_ans"] == 3 and summary["squad"]["n_no_ans"] == 1
    assert (out / "decline_threshold.png").is_file()  # rows carry confidences and one question is unanswerable


def test_question_that_raises_becomes_an_error_row():
    q = Question(id="x", kind="facts", question="Anything?", facts=[["a"]], sources=["a.md"])
    rows = run_eval([q, q], engine=object(), workers=2, progress=False)  # object() has no .retrieve
    assert len(rows) == 2 and all("AttributeError" in r["error"] for r in rows)
    assert rows[0]["metrics"]["fact_coverage"] == 0.0 and not rows.interrupted


def test_unknown_floor_metric_lists_valid_names():
    with pytest.raises(ValueError, match="valid: .*fact_coverage"):
        check_floors({"fact_coverag": 0.5})
    assert check_floors({"hit@5": 0.9}) == {"hit@5": 0.9}


# Measured on eval/questions.jsonl + corpus/ (extractive writer, k=6), 90 questions:
#   hit@5 1.000, mrr 0.945, fact_coverage 0.706, answered (answerable) 0.895,
#   abstention recall 0.571 (precision 0.500), citation_validity 1.000, citation_support_recall 1.000
FLOORS = {
    "hit_at_k": 0.95,  # measured 1.000
    "fact_coverage": 0.67,  # measured 0.706
    "abstention_recall": 0.53,  # measured 0.571 (8 of 14)
    "answered": 0.85,  # measured 0.895 (answered rate on answerable questions)
    "citation_support_recall": 0.95,  # measured 1.000
}


def test_regression_gate(gate):  # ~45-60 s on 2 cores (mostly ingesting corpus/), so not marked slow
    summary, rows, _ = gate
    means, ab = summary["means"], summary["abstention"]
    measured = {k: ab.get(k) if k.startswith("abstention") else means.get(k) for k in FLOORS}
    measured["citation_validity"] = means["citation_validity"]
    print("\nregression gate measured:", json.dumps({k: round(v, 3) for k, v in measured.items()}))
    assert summary["meta"]["errors"] == 0 and len(rows) == summary["n"] == 90
    assert means["citation_validity"] == 1.0
    low = {k: (measured[k], floor) for k, floor in FLOORS.items() if measured[k] is None or measured[k] < floor}
    assert not low, f"below floor (measured, floor): {low}"


def test_compare_two_runs(tiny, tmp_path):
    run_b = tmp_path / "b"
    evaluate(tiny["questions"], settings=tiny["settings"], corpus=tiny["corpus"], out=run_b, k=1, progress=False)
    text = compare(tiny["base"] / "out", run_b)
    assert "fact_coverage" in text and "B-A" in text and "Per kind" in text
    assert "Questions whose outcome changed" in text
    same = compare(tiny["base"] / "out", tiny["base"] / "out")
    assert "Questions whose outcome changed (0)" in same


@pytest.fixture(scope="module")
def runner_cli():
    from assay.app.cli import cli
    from assay.eval.cli import eval_cmd

    if "eval" not in cli.commands:
        cli.add_command(eval_cmd)
    return cli


def test_cli_help(runner_cli):
    runner = CliRunner()
    for args, expect in ((["eval", "--help"], "compare"), (["eval", "compare", "--help"], "RUN_A"),
                         (["eval", "run", "--help"], "--fail-under")):
        res = runner.invoke(runner_cli, args)
        assert res.exit_code == 0, res.output
        assert expect in res.output and "Example" in res.output


def test_cli_fail_under(runner_cli, tiny, tmp_path):
    runner = CliRunner()
    base = ["--index", str(tmp_path / "idx"), "eval", str(tiny["questions"]), "--corpus", str(tiny["corpus"]), "-q"]
    res = runner.invoke(runner_cli, [*base, "--out", str(tmp_path / "o1"), "--fail-under", "fact_coverage=1.01",
                                     "--fail-under", "hit@5=0"])
    assert res.exit_code == 1, res.output
    assert "fact_coverage" in res.output and "below the floor" in res.output and "hit@5:" not in res.output
    assert "ALL" in res.output and (tmp_path / "o1" / "summary.json").is_file()
    res = runner.invoke(runner_cli, [*base, "--fail-under", "nonsense=0.5"])
    assert res.exit_code == 2 and "citation_support_recall" in res.output
    res = runner.invoke(runner_cli, ["eval", "compare", str(tiny["base"] / "out"), str(tmp_path / "o1")])
    assert res.exit_code == 0 and "B-A" in res.output


def test_eval_with_an_llm_writer_through_the_same_command(tiny, llama_server, tmp_path):
    from assay.app.cli import cli

    out = tmp_path / "llm-run"
    r = CliRunner().invoke(cli, ["eval", str(tiny["questions"]), "--corpus", str(tiny["corpus"]), "--out", str(out),
                                 "--llm", llama_server.spec, "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == len(QUESTIONS) and not any(row.get("error") for row in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["writer"] in ("openai", llama_server.spec)
    for row in rows:  # whatever the small model wrote, every surviving citation resolves
        assert row["metrics"]["citation_validity"] in (None, 1.0)


@pytest.mark.slow
def test_html_report_renders_in_the_browser_with_its_plots(tmp_path, shared_dir):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "shared-run"
    evaluate(shared_dir / "eval" / "questions.jsonl", settings=Settings(index_dir=tmp_path / "unused"),
             corpus=shared_dir / "corpus", out=out, progress=False)
    for name in ("results.jsonl", "summary.json", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0, name
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((out / "report.html").resolve().as_uri())
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.src.slice(0, 22), e.naturalWidth])")
        text = page.inner_text("body")
        browser.close()
    assert not errors, errors
    assert len(images) >= 2 and all(src.startswith("data:image/png") and width > 100 for src, width in images)
    assert "hit" in text.lower() and "d01" in text or "fact" in text.lower()
