"""One file, one article (issue 15): whichever folder a file is reached through (its own folder,
a parent, the chat's upload path), it keeps one id and one record; `assay index check --fix`
repairs an older index that holds a file twice. Real Chroma, the real packaged model."""

from __future__ import annotations

import json
from pathlib import Path

from assay.app.answer import answer
from assay.app.cli import cli
from assay.app.retrieve import Engine
from assay.ingest.config import Settings
from assay.ingest.index import Index
from assay.ingest.pipeline import Ingestor, check_index

PRICE = ("---\ntitle: Zelmarine Terbium Notice\npublished: 2026-03-02\npublisher: Assay Test Desk\n---\n\n"
         "The Zelmarine refinery sells terbium oxide at {price} dollars per kilogram under the Varnholt contract.\n\n"
         "The Varnholt contract runs for five years and covers the whole output of the refinery.\n")
Q = "At what price does the Zelmarine refinery sell terbium oxide?"
OTHER = "---\ntitle: Ostrel Scandium Charter\npublished: 2026-02-01\n---\n\nThe Margravate of Ostrel ships 40 tonnes of scandium a year.\n"


def _write(folder: Path, name: str, price: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(PRICE.format(price=price), encoding="utf-8")
    return p


def _live(index: Index) -> dict[str, dict]:
    return {aid: rec for aid, rec in index.manifest().items() if not rec.get("deleted")}


def test_a_folder_then_its_parent_keeps_one_record_per_file(tmp_path):
    settings = Settings(index_dir=tmp_path / "index")
    child = tmp_path / "parent" / "2026"
    _write(child, "zelmarine.md", 450)
    ing = Ingestor(settings)
    assert ing.run([child], progress=False).added == ["zelmarine.md"]
    again = ing.run([tmp_path / "parent"], progress=False)  # the same file, reached through its parent folder
    assert again.added == [] and again.unchanged == ["zelmarine.md"]
    assert list(_live(ing.index)) == ["zelmarine.md"]
    _write(child, "zelmarine.md", 300)  # a corrected edition, ingested through the parent
    third = ing.run([tmp_path / "parent"], progress=False)
    assert third.updated == ["zelmarine.md"] and list(_live(ing.index)) == ["zelmarine.md"]
    assert check_index(ing.index).ok


def test_upload_then_cli_ingest_then_reupload_cites_only_the_new_edition(tmp_path):
    """The chat ingests an upload as a single file; a later CLI ingest of the data folder reaches
    the same file as uploads/NAME. One record throughout; the answer cites the corrected edition."""
    corpus = tmp_path / "corpus"
    settings = Settings(index_dir=tmp_path / ".assay" / "index", uploads_dir=corpus / "uploads")  # uploads inside the corpus
    uploads = settings.uploads_folder
    f = _write(uploads, "zelmarine.md", 450)
    (corpus / "other.md").write_text(OTHER, encoding="utf-8")
    ing = Ingestor(settings)
    ing.run([f], progress=False)  # what the upload handler does
    cli_run = ing.run([corpus], progress=False)  # `assay ingest corpus/` later: the file is uploads/zelmarine.md there
    assert cli_run.added == ["other.md"] and cli_run.failed == []
    _write(uploads, "zelmarine.md", 300)  # the corrected re-upload
    ing.run([f], progress=False)
    assert sorted(_live(ing.index)) == ["other.md", "zelmarine.md"]
    a = answer(Q, [], engine=Engine(settings))
    assert not a.abstained and "300 dollars" in a.text and "450" not in a.text, a.text
    assert {c.article_id for c in a.citations} == {"zelmarine.md"}
    # an upload never passes for a corpus source: marked in the citation, the chat and the copy
    from assay.app.chat.render import answer_markdown, render_answer, render_panel

    assert all(c.uploaded and "via the chat" in c.origin for c in a.citations)
    for html in (render_answer(a.to_dict()), render_panel(a.to_dict()["citations"][0])):
        assert "uploaded" in html and "not from the corpus folder" in html
    assert "not from the corpus folder" in answer_markdown(a.to_dict())
    corpus_answer = answer("How much scandium does the Margravate of Ostrel ship?", [], engine=Engine(settings))
    assert corpus_answer.citations and not any(c.uploaded for c in corpus_answer.citations)


def _duplicate_under(index: Index, aid: str, other: str) -> None:
    """What an older Assay left behind: the same file's record and chunks again under another id."""
    rec = index.manifest()[aid]
    got = index.chunks.get(where={"article_id": aid}, include=["documents", "metadatas", "embeddings"])
    metas = [{**m, "article_id": other} for m in got["metadatas"]]
    index.chunks.upsert(ids=[f"old-{cid}" for cid in got["ids"]], embeddings=got["embeddings"], documents=got["documents"], metadatas=metas)
    index.articles.upsert(ids=[other], embeddings=[[1.0]], documents=[index.article_text(aid) or ""], metadatas=[{**rec, "assay_seq": int(rec["assay_seq"]) + 1}])


def test_index_check_finds_and_fixes_duplicates_orphans_and_a_stale_lexical_index(tmp_path):
    from click.testing import CliRunner

    settings = Settings(index_dir=tmp_path / "index")
    folder = tmp_path / "corpus"
    _write(folder, "zelmarine.md", 450)
    (folder / "other.md").write_text(OTHER, encoding="utf-8")
    ing = Ingestor(settings)
    ing.run([folder], progress=False)
    with ing.index.writer():
        _duplicate_under(ing.index, "zelmarine.md", "uploads/zelmarine.md")
        ing.index.articles.delete(ids=["other.md"])  # a write killed between chunks and record: orphans
    runner = CliRunner()
    found = runner.invoke(cli, ["--index", str(settings.index_dir), "index", "check", "--json"])
    assert found.exit_code == 1, found.output
    report = json.loads(found.output)
    assert list(report["duplicates"].values()) == [["uploads/zelmarine.md"]]
    assert report["orphans"] and report["lexical"] != "ok"
    fixed = runner.invoke(cli, ["--index", str(settings.index_dir), "index", "check", "--fix"])
    assert fixed.exit_code == 0 and "deleted uploads/zelmarine.md" in fixed.output, fixed.output
    after = runner.invoke(cli, ["--index", str(settings.index_dir), "index", "check"])
    assert after.exit_code == 0 and "index is consistent" in after.output, after.output
    engine = Engine(settings)
    assert list(_live(engine.index)) == ["zelmarine.md"]
    a = answer(Q, [], engine=engine)
    assert {c.article_id for c in a.citations} == {"zelmarine.md"}
    # a plain re-ingest of the folder replaces, it does not skip as a "same content" twin
    with engine.index.writer():
        _duplicate_under(engine.index, "zelmarine.md", "2026/zelmarine.md")
    run = Ingestor(settings).run([folder], progress=False)
    assert "2026/zelmarine.md" in run.removed and "zelmarine.md" in _live(Index(settings))
    assert "2026/zelmarine.md" not in _live(Index(settings))


def test_rebuild_keeps_ids_and_uploads_and_mends_a_settings_mismatch(tmp_path):
    import dataclasses

    settings = Settings(index_dir=tmp_path / ".assay" / "index")
    child = tmp_path / "parent" / "2026"
    _write(child, "zelmarine.md", 450)
    up = settings.uploads_folder
    up.mkdir(parents=True)
    (up / "other.md").write_text(OTHER, encoding="utf-8")
    ing = Ingestor(settings)
    ing.run([child], progress=False)
    ing.run([up / "other.md"], progress=False)  # the chat's upload
    before = sorted(_live(ing.index))
    assert before == ["other.md", "zelmarine.md"]
    ing.run([tmp_path / "parent"], rebuild=True, progress=False)  # the parent now, and no upload folder named
    assert sorted(_live(Index(settings))) == before  # same ids; the upload is rebuilt too
    other = dataclasses.replace(settings, chunk_tokens=settings.chunk_tokens - 40)  # the index no longer matches
    run = Ingestor(other).run([tmp_path / "parent"], rebuild=True, progress=False)
    assert not run.failed and len(_live(Index(other))) == 2  # rebuilt under the new settings (ids as reached now)
    assert check_index(Index(other)).ok
