"""Bounded work and validated input (issue 15): the same caps and messages in the CLI, the API
handler and the answer path; real calendar dates; k >= 1. Real index, real model."""

from __future__ import annotations

import resource

import pytest

from assay.app.answer import answer
from assay.app.chat.handlers import parse_filters
from assay.app.cli import cli
from assay.app.limits import MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, InputRefused, bound
from assay.app.retrieve import Engine, Filters
from assay.ingest.config import Settings
from assay.ingest.pipeline import Ingestor

NOTE = "---\ntitle: Quorr Notice\npublished: 2025-06-01\n---\n\nThe Quorr refinery makes 90 tonnes of neodymium a year.\n"
Q = "How much neodymium does the Quorr refinery make?"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    (tmp / "c").mkdir()
    (tmp / "c" / "quorr.md").write_text(NOTE, encoding="utf-8")
    settings = Settings(index_dir=tmp / "ix")
    Ingestor(settings).run([tmp / "c"], progress=False)
    return Engine(settings)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def test_twelve_thousand_turns_are_cut_in_well_under_a_second_of_cpu(engine):
    answer(Q, [], engine=engine)  # warm: models loaded
    history = [f"What about turn {i}?" for i in range(12_000)]  # a 190 KB request
    t = _cpu()
    a = answer(Q, history, engine=engine)
    used = _cpu() - t
    assert used < 1.0, used
    assert any(f"last {MAX_HISTORY_TURNS} of 12000" in f for f in a.flags), a.flags


def test_an_overlong_question_is_refused_with_a_message_that_says_what_to_do(engine):
    a = answer("Why " * (MAX_QUESTION_CHARS // 2), [], engine=engine)
    assert a.abstained and "refused" in a.flags and "shorten it" in a.text


def test_bound_keeps_short_histories_as_they_are():
    assert bound(" q ", ["a", "b"]) == ("q", ["a", "b"], [])
    with pytest.raises(InputRefused):
        bound("x" * (MAX_QUESTION_CHARS + 1), [])
    with pytest.raises(InputRefused, match="must be text"):
        bound({"$gt": 0}, [])


@pytest.mark.parametrize("since,until", [("2025-13-45", ""), ("2025-02-30", ""), ("", "abcd"), ("abcd", ""), ("2025-06", "2024")])
def test_impossible_dates_are_refused_the_same_in_the_api_and_the_cli(since, until, tmp_path):
    from click.testing import CliRunner

    filters, problem = parse_filters([], since, until)
    assert filters is None and problem
    args = ["--index", str(tmp_path / "none"), "ask", Q]
    args += ["--since", since] if since else []
    args += ["--until", until] if until else []
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and problem.rstrip(".") in r.output, r.output


def test_real_dates_and_non_strings():
    assert Filters.parse([], "2024-02-29", "2025") == Filters(None, "2024-02-29", "2025")
    assert Filters.parse(None, "", "") is None
    with pytest.raises(InputRefused, match="date string"):
        Filters.parse([], {"$gt": 0}, "")


def test_k_must_be_at_least_one(engine, tmp_path):
    from click.testing import CliRunner

    a = answer(Q, [], k=-5, engine=engine)
    assert a.abstained and "between 1 and" in a.reason
    r = CliRunner().invoke(cli, ["--index", str(tmp_path / "none"), "ask", Q, "--k", "-5"])
    assert r.exit_code == 2 and "-5" in r.output
    assert not answer(Q, [], k=1, engine=engine).abstained


def test_rate_limiter_window_and_bounded_memory():
    from assay.app.limits import RateLimiter

    r = RateLimiter(3, max_clients=100)
    assert [r.wait("a", now=t) for t in (0, 1, 2)] == [0.0, 0.0, 0.0]
    assert r.wait("a", now=3) == pytest.approx(57)
    assert r.wait("b", now=3) == 0.0  # per client
    assert r.wait("a", now=61) == 0.0  # the window slid
    for i in range(1000):
        r.wait(f"10.0.{i // 256}.{i % 256}", now=70)
    assert len(r._seen) <= 100
    assert RateLimiter(0).wait("a") == 0.0  # 0 = no limit
