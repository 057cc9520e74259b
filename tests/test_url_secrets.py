"""One URL scrubber (issue 15): keys planted in a URL's user-info, query string and fragment
appear in no output — CLI text, --json fields, the chat's writer label, Chroma errors."""

from __future__ import annotations

import json

import pytest

from assay.app.cli import cli
from assay.app.llm import display_spec
from assay.ingest.config import redact, scrub_url

SENTINELS = ("SENTINELUSERPW", "SENTINELQUERYKEY", "SENTINELFRAGMENT")
LLM = "openai:m@http://127.0.0.1:9/v1?api-key=SENTINELQUERYKEY#SENTINELFRAGMENT"
CHROMA = "http://admin:SENTINELUSERPW@127.0.0.1:9/?token=SENTINELQUERYKEY#SENTINELFRAGMENT"


def _clean(text: str) -> None:
    for s in SENTINELS:
        assert s not in text, (s, text[:2000])


def test_scrub_url_drops_user_info_query_and_fragment():
    assert scrub_url(CHROMA) == "http://127.0.0.1:9/"
    _clean(redact(f"failed: {CHROMA} and {LLM.split('@', 1)[1]} (see logs)"))
    assert "keeps the rest" in redact("keeps the rest of http://h/x?k=SENTINELQUERYKEY the text")


def test_llm_spec_keys_reach_no_output(tmp_path):
    from click.testing import CliRunner

    runner = CliRunner()
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("---\ntitle: Notice\n---\n\nThe Quorr refinery makes 90 tonnes of neodymium a year.\n", encoding="utf-8")
    ix = str(tmp_path / "ix")
    assert runner.invoke(cli, ["--index", ix, "ingest", str(corpus), "-q"]).exit_code == 0
    for args in (["ask", "--llm", LLM, "How much neodymium does the Quorr refinery make?", "--json"],
                 ["ask", "--llm", LLM, "How much neodymium does the Quorr refinery make?"]):
        r = runner.invoke(cli, ["--index", ix, *args])
        _clean(r.output + str(r.exception or ""))
        if "--json" in args and r.output.strip().startswith("{"):
            got = json.loads(r.output)
            _clean(json.dumps(got.get("reason", "")) + json.dumps(got.get("flags", [])))
    _clean(display_spec(LLM))
    assert display_spec(LLM) == "openai:m@http://127.0.0.1:9/v1"


@pytest.mark.parametrize("command", [["index", "stats"], ["ask", "anything"]])
def test_chroma_url_keys_reach_no_output(command):
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["--chroma-url", CHROMA, *command])
    assert r.exit_code != 0
    _clean(r.output + str(r.exception or ""))
    assert "127.0.0.1:9" in r.output + str(r.exception or "")  # the address itself is still named
