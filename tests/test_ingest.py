"""Ingestion into real Chroma with the real packaged model: incremental, bounded, robust."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.ingest.config import Settings
from assay.ingest.embed import load_model
from assay.ingest.index import Index, IndexMismatch
from assay.ingest.load import load_article
from assay.ingest.pipeline import Ingestor
from assay.ingest.split import TokenCounter, split_article

SEED = "2025-11-12-us-expands-partnerships-for-rare-earths.txt"


def _settings(tmp: Path, **kw) -> Settings:
    return Settings(index_dir=tmp / "index", **kw)


def _all_chunks(index: Index) -> dict:
    got = index.chunks.get(include=["metadatas", "documents"])
    return {cid: (meta, doc) for cid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"])}


@pytest.fixture(scope="module")
def shared_ingest(tmp_path_factory, shared_dir):
    tmp = tmp_path_factory.mktemp("shared-ingest")
    corpus = tmp / "corpus"
    shutil.copytree(shared_dir / "corpus", corpus)
    ing = Ingestor(_settings(tmp))
    first = ing.run([corpus], progress=False)
    return tmp, corpus, ing, first


def test_ingest_twice_second_run_embeds_nothing(shared_ingest):
    tmp, corpus, ing, first = shared_ingest
    n_files = len(list(corpus.iterdir()))
    assert len(first.added) == n_files and not first.failed
    before = _all_chunks(ing.index)
    second = Ingestor(_settings(tmp)).run([corpus], progress=False)
    assert len(second.unchanged) == n_files
    assert second.chunks_written == 0 and second.tokens_embedded == 0 and second.embed_seconds == 0
    after = _all_chunks(ing.index)
    assert sorted(before) == sorted(after)  # same ids, so no duplicates either
    assert len(after) == first.chunks_written


def test_chunks_are_exact_slices_with_metadata(shared_ingest):
    tmp, corpus, ing, _ = shared_ingest
    chunks = _all_chunks(ing.index)
    seed = [(m, d) for m, d in chunks.values() if m["article_id"] == SEED]
    assert seed
    meta = seed[0][0]
    assert meta["title"] == "United States Expands Partnerships for Rare Earths with Global Allies"
    assert meta["author"] == "thomasminingconsul"
    assert meta["published"] == "2025-11-12" and meta["updated"] == "2025-11-17"
    text = ing.index.article_text(SEED)
    for m, d in seed:
        assert text[m["char_start"] : m["char_end"]] == d
        for debris in ("3 min read", "Comments", "- thomasminingconsul", "Updated: Nov 17"):
            assert debris not in d
    md = [m for m, _ in chunks.values() if m["article_id"] == "usgs_mcs2025_rare_earths.md"][0]
    assert md["publisher"].startswith("U.S. Geological Survey") and md["published"] == "2025-01"
    assert md["source_url"].startswith("https://pubs.usgs.gov/") and "Public domain" in md["license"]


def test_edit_one_article_reembeds_only_it_and_prune(shared_ingest):
    tmp, corpus, ing, _ = shared_ingest
    target = corpus / "uscode_42_13344_rare_earth_elements.md"
    old_ids = {c for c, (m, _) in _all_chunks(ing.index).items() if m["article_id"] == target.name}
    target.write_text(target.read_text() + "\n\nA newly added closing paragraph about samarium recycling pilots.\n")
    s = Ingestor(_settings(tmp)).run([corpus], progress=False)
    assert s.updated == [target.name] and not s.added
    now = _all_chunks(ing.index)
    new_ids = {c for c, (m, _) in now.items() if m["article_id"] == target.name}
    assert new_ids and not (old_ids & new_ids)  # old chunks replaced, not left behind
    assert any("samarium recycling pilots" in d for m, d in now.values() if m["article_id"] == target.name)

    gone = corpus / "wh_2025-10-20_factsheet_australia_deals.md"
    gone.unlink()
    s = Ingestor(_settings(tmp)).run([corpus], progress=False)
    assert not s.removed  # without --prune nothing is forgotten
    s = Ingestor(_settings(tmp)).run([corpus], prune=True, progress=False)
    assert s.removed == [gone.name]
    assert not [c for c, (m, _) in _all_chunks(ing.index).items() if m["article_id"] == gone.name]
    assert gone.name not in ing.index.manifest()


def test_whitespace_only_resave_is_unchanged(shared_ingest):
    tmp, corpus, ing, _ = shared_ingest
    f = corpus / "wh_2022-05-11_readout_mining_reform_convening.md"
    f.write_text(f.read_text().replace("\n", "  \r\n"))
    s = Ingestor(_settings(tmp)).run([corpus], progress=False)
    assert f.name in s.unchanged and s.chunks_written == 0


def test_no_chunk_exceeds_the_model_limit_on_the_longest_document(shared_dir):
    model = load_model("all-MiniLM-L6-v2")
    counter = TokenCounter(model.tokenizer, model.max_seq_length)
    longest = max((shared_dir / "corpus-extra").glob("*.md"), key=lambda p: p.stat().st_size)
    article = load_article(longest)
    chunks = split_article(article, counter)
    assert len(chunks) > 50
    measured = [len(model.tokenizer(c.embed_text)["input_ids"]) for c in chunks]
    assert max(measured) <= model.max_seq_length == 256
    assert measured == [c.n_tokens for c in chunks]
    for c in chunks:
        assert article.text[c.start : c.end] == c.text
    # Every sentence of the article ends up in some chunk (nothing silently dropped).
    covered = " ".join(c.text for c in chunks)
    assert "Hiroshima" in covered and article.text.split(".")[5].strip()[:40] in covered


def test_a_giant_sentence_is_cut_not_truncated():
    model = load_model("all-MiniLM-L6-v2")
    counter = TokenCounter(model.tokenizer, model.max_seq_length)
    from assay.ingest.article import Article, Block

    text = " ".join(f"word{i} lanthanum" for i in range(900))
    art = Article("x.txt", "/x.txt", text, [Block("para", 0, len(text))], {"title": "T " * 80})
    chunks = split_article(art, counter)
    assert len(chunks) > 3
    assert all(c.n_tokens <= 256 for c in chunks)
    assert "word899" in chunks[-1].text and "word0 " in chunks[0].text


def test_a_chunk_that_starts_inside_a_list_keeps_the_lists_lead_in_as_its_heading(tmp_path):
    """Items far down a list still say what they are items of ("… “Make Buy American Real” by:"):
    the writer meets the lead-in's names through the chunk's heading."""
    model = load_model("all-MiniLM-L6-v2")
    counter = TokenCounter(model.tokenizer, model.max_seq_length)
    lead = "Today’s final rule will deliver on the commitment to “Make Buy American Real” by:"
    items = "\n".join(f"- Raising threshold number {i} for component parts made here, with a phased schedule "
                      f"that gives manufacturers time to adjust their supply chains." for i in range(14))
    (tmp_path / "rule.md").write_text(f"# Made in America\n\nThe rule was published today.\n\n{lead}\n\n{items}\n\nAfter the list.\n")
    chunks = split_article(load_article(tmp_path / "rule.md"), counter, chunk_tokens=120)
    inside = [c for c in chunks if c.text.startswith("Raising threshold number") and lead not in c.text]
    assert inside, [c.text[:40] for c in chunks]
    assert all(c.heading.endswith(lead) and lead in c.embed_text for c in inside)
    assert all(lead not in c.heading for c in chunks if not c.text.startswith("Raising"))  # not past the list


def _bad_inputs(folder: Path) -> dict[str, str]:
    """file name -> expected words in its error line."""
    from pypdf import PdfWriter

    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    w = PdfWriter()
    w.add_blank_page(width=200, height=200)
    with open(folder / "scanned.pdf", "wb") as fh:
        w.write(fh)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (folder / "dangling.md").symlink_to(folder / "does-not-exist.md")
    (folder / "onlyfm.md").write_text("---\ntitle: Nothing here\n---\n")
    return {"empty.txt": "empty", "binary.txt": "binary", "scanned.pdf": "no extractable text", "broken.pdf": "pdf", "dangling.md": "symlink", "onlyfm.md": "no article text"}


def test_bad_files_are_reported_and_good_ones_indexed(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    expected = _bad_inputs(folder)
    (folder / "latin1.txt").write_bytes("Café minerals\n\nThe smelter in Montréal refines cerium oxide for export.".encode("latin-1"))
    (folder / "utf16.md").write_bytes("\ufeffNeodymium magnets\n\nThe plant in Zürich makes neodymium magnets for wind turbines.".encode("utf-16"))
    (folder / "page.html").write_text("<html><head><title>Gallium refinery</title></head><body><div><p>The gallium refinery in Perth <b>opened</b> in 2025 and employs forty people.<p>Unclosed <i>tags everywhere")
    s = Ingestor(_settings(tmp_path)).run([folder], progress=False)
    failed = {Path(f).name: why for f, why in s.failed}
    assert set(failed) == set(expected), failed
    for name, words in expected.items():
        assert words.lower() in failed[name].lower(), (name, failed[name])
    assert sorted(s.added) == ["latin1.txt", "page.html", "utf16.md"]
    docs = " ".join(Index(_settings(tmp_path)).chunks.get(include=["documents"])["documents"])
    assert "Montréal" in docs and "Zürich" in docs and "gallium refinery in Perth opened" in docs


def test_cli_exit_code_and_summary_lines(tmp_path):
    from click.testing import CliRunner

    from assay.app.cli import cli

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.md").write_text("# Yttrium\n\nYttrium is used in lasers and phosphors for displays.\n")
    (folder / "empty.txt").write_text("  \n")
    r = CliRunner().invoke(cli, ["--index", str(tmp_path / "ix"), "ingest", "-q", str(folder)])
    assert r.exit_code == 1
    assert "added: 1" in r.output and "failed: 1" in r.output
    assert "empty.txt" in r.output and "empty" in r.output.split("empty.txt", 1)[1]
    r = CliRunner().invoke(cli, ["--index", str(tmp_path / "ix"), "ingest", "-q", str(folder / "good.md")])
    assert r.exit_code == 0 and "unchanged: 1" in r.output


def test_interrupted_ingest_is_completed_without_duplicates(tmp_path, shared_dir, monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(shared_dir / "corpus", corpus)
    for p in list(corpus.iterdir())[6:]:
        p.unlink()
    real = Index.write_articles

    def flaky(self, items):  # interrupted mid-flush: two articles fully written, the rest not
        real(self, items[:2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Index, "write_articles", flaky)
    with pytest.raises(KeyboardInterrupt):
        Ingestor(_settings(tmp_path)).run([corpus], progress=False)
    monkeypatch.setattr(Index, "write_articles", real)
    s = Ingestor(_settings(tmp_path)).run([corpus], progress=False)
    assert len(s.added) + len(s.unchanged) == 6 and len(s.unchanged) == 2
    resumed = sorted(_all_chunks(Index(_settings(tmp_path))))
    clean = tmp_path / "clean"
    Ingestor(Settings(index_dir=clean)).run([corpus], progress=False)
    assert resumed == sorted(_all_chunks(Index(Settings(index_dir=clean))))


def test_index_built_with_other_settings_refuses_to_open(shared_ingest):
    tmp, *_ = shared_ingest
    with pytest.raises(IndexMismatch, match="--rebuild"):
        Index(_settings(tmp, chunk_tokens=128)).chunks


def test_ingest_entities_match_the_full_pipelines():
    """Ingest runs only spaCy's `ner` (skipping the shared tok2vec, tagger and parser for speed):
    the entity spans it stores must be exactly what the full pipeline finds."""
    from assay.ingest import nlp

    from tests.conftest import ROOT

    text = sorted((ROOT / "corpus").rglob("*.md"))[0].read_text(encoding="utf-8")
    passages = [text[i : i + 1200] for i in range(0, min(len(text), 12000), 1200)]
    fast = nlp.entities(passages)
    full = [[(e.start_char, e.end_char, e.label_) for e in nlp.pipeline()(p).ents] for p in passages]
    assert fast == full
    assert sum(map(len, fast)) > 5, "the passages should hold entities, or the check proves nothing"


def test_threads_that_first_need_the_language_model_at_once_load_it_once(monkeypatch):
    """The chat answers several questions at once: the first ones must share one spaCy pipeline
    (not load it twice, 0.5 s and 60 MB each)."""
    import threading

    from assay.ingest import nlp

    monkeypatch.setattr(nlp, "_loaded", [])
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(nlp.pipeline())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 3 and all(g is got[0] for g in got)
    assert len(nlp._loaded) == 1  # loaded once
