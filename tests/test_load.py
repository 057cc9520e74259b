"""ingest.load: every shipped article loads cleanly, metadata is read, bad inputs fail with one clear line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from assay.ingest.article import META_KEYS, Article, LoadError
from assay.ingest.files import SUPPORTED_SUFFIXES, iter_article_paths
from assay.ingest.load import load_article

SEED = "2025-11-12-us-expands-partnerships-for-rare-earths.txt"


def _corpus_files(shared: Path) -> list[Path]:
    return sorted(p for d in ("corpus", "corpus-extra") for p in (shared / d).iterdir() if p.is_file())


def _block_texts(art: Article, kind: str | None = None) -> list[str]:
    return [art.text[b.start:b.end] for b in art.blocks if kind is None or b.kind == kind]


def _assert_clean(art: Article) -> None:
    """The Article contract: exact block slices, one line per block, separators only, no markup."""
    assert art.blocks and art.text
    pos = 0
    for prev, block in zip([None, *art.blocks], art.blocks):
        piece = art.text[block.start:block.end]
        assert piece and piece == piece.strip() and "\n" not in piece
        assert not re.search(r"\s{2,}", piece)
        sep = art.text[pos:block.start]
        assert sep == ("" if prev is None else "\n" if prev.kind == block.kind == "item" else "\n\n")
        assert block.kind in ("heading", "para", "item", "row", "furniture")
        assert (1 <= block.level <= 6) if block.kind == "heading" else block.level == 0
        pos = block.end
    assert pos == len(art.text)
    for junk in ("**", "](", "\x00", "\r", "<span", "<sup", "<u>", "\n---\n", "title:"):
        assert junk not in art.text
    assert set(art.meta) <= set(META_KEYS)
    for key in ("published", "updated"):
        if key in art.meta:
            assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", art.meta[key])


# ---------------------------------------------------------------- the shipped corpora


def test_seed_blog_scrape(shared_dir):
    art = load_article(shared_dir / "corpus" / SEED, root=shared_dir / "corpus")
    assert art.id == SEED and Path(art.path).is_absolute()
    assert art.meta == {
        "title": "United States Expands Partnerships for Rare Earths with Global Allies",
        "author": "thomasminingconsul",
        "published": "2025-11-12",
        "updated": "2025-11-17",
    }
    assert art.text.startswith("The United States is actively building new partnerships")
    for debris in ("United States Expands Partnerships for Rare Earths with Global Allies", "thomasminingconsul",
                   "Nov 12, 2025", "min read", "Updated:", "Comments",
                   "Rare earth mining operations with heavy machinery"):
        assert debris not in art.text
    headings = _block_texts(art, "heading")
    assert "Why Rare Earths Matter to the United States" in headings
    assert "Despite progress, several challenges remain in securing rare earth supplies:" not in headings
    _assert_clean(art)


def test_every_shared_file_loads_clean(shared_dir):
    files = _corpus_files(shared_dir)
    assert len(files) >= 15
    for path in files:
        art = load_article(path, root=path.parent)
        assert art.id == path.name
        _assert_clean(art)
        assert art.meta.get("title")
        if path.suffix == ".md":
            head = path.read_text(encoding="utf-8").split("---")[1]
            assert {"title", "publisher", "published", "license", "source_url"} <= set(art.meta), path.name
            assert head.strip().splitlines()[0] not in art.text


def test_front_matter_metadata_exact(shared_dir):
    art = load_article(shared_dir / "corpus" / "uscode_42_13344_rare_earth_elements.md")
    assert art.meta == {
        "title": "42 U.S.C. § 13344 — Rare earth elements",
        "published": "2020-12-27",
        "publisher": "Office of the Law Revision Counsel, U.S. House of Representatives (United States Code)",
        "source_url": "https://uscode.house.gov/view.xhtml?req=granuleid:USC-prelim-title42-section13344",
        "license": "Public domain (U.S. Government work; federal statute)",
    }
    assert art.blocks[0].kind == "heading" and art.blocks[0].level == 1
    assert _block_texts(art)[0] == "Title 42 — THE PUBLIC HEALTH AND WELFARE"
    usgs = load_article(shared_dir / "corpus" / "usgs_mcs2025_rare_earths.md")
    assert usgs.meta["published"] == "2025-01"


def test_bold_lead_in_is_not_a_heading(shared_dir):
    art = load_article(shared_dir / "corpus" / "wh_2025-10-20_factsheet_australia_deals.md")
    assert art.text.startswith("ACHIEVING CRITICAL MINERAL AND ENERGY DOMINANCE: Today, President Donald J. Trump")
    assert art.blocks[0].kind == "para"
    assert "-" not in _block_texts(art, "item")[0][:2]


def test_usgs_table_rows_read_on_their_own(shared_dir):
    art = load_article(shared_dir / "corpus" / "usgs_mcs2025_rare_earths.md")
    rows = _block_texts(art, "row")
    terbium = [r for r in rows if "Terbium oxide" in r]
    assert len(terbium) == 1
    assert terbium[0] == ("Price, average, dollars per kilogram — Terbium oxide, 99.99% minimum: "
                          "2020: 670; 2021: 1,346; 2022: 2,051; 2023: 1,298; 2024: 810")
    assert "United States: Mine production 2023: 41,600; Mine production 2024: 45,000; Reserves: 1,900,000" in rows
    assert not any(p in ("1", "5", "E", "2") for p in _block_texts(art))  # page-artifact debris dropped
    assert "|" not in art.text


def test_pdf_loads_with_whole_words(shared_dir):
    art = load_article(shared_dir / "corpus-extra" / "usgs_mcs2025_rare_earths.pdf")
    _assert_clean(art)
    assert art.meta["title"] == "Mineral Commodity Summaries 2025"
    assert art.meta["author"] == "U.S. Geological Survey"
    assert art.meta["published"] == "2025-02-25"
    assert re.search(r"\bMountain Pass\b", art.text) and re.search(r"\bbastn(ae|ä)site\b", art.text)
    assert "fluorocarbonate mineral, was mined as a primary product" in art.text  # wrapped lines rejoined
    assert not re.search(r"(^|\n)14[45](\n|$)", art.text)  # page numbers dropped


def test_raw_pdf_text_is_unwrapped(shared_dir):
    art = load_article(shared_dir / "corpus-extra" / "awkward_rawpdf_usgs_mcs2025_rare_earths.txt")
    assert re.search(r"\bMountain Pass\b", art.text)
    assert "An estimated 45,000 tons of REO" in art.text
    assert "rare-earth fluorocarbonate" in art.text  # "rare -earth" repaired


# ---------------------------------------------------------------- formats built here


def test_plain_text_rules(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("Intro line that is hard wrapped and keeps going until the end of the\n"
                 "line, then continues here with the miner-\nals story.\r\n\r\n"
                 "- first point\n- second point\n\nA closing paragraph.\n", encoding="utf-8")
    art = load_article(f)
    _assert_clean(art)
    assert "the end of the line, then continues here with the minerals story." in art.text
    assert _block_texts(art, "item") == ["first point", "second point"]
    assert "first point\nsecond point" in art.text
    assert art.meta["title"] == "Notes"


def test_markdown_markup_removed(tmp_path):
    f = tmp_path / "doc.md"
    f.write_text("---\ntitle: Doc\nauthors: [Ann, Bob]\nurl: see https://ex.org/a (mirror)\n---\n\n"
                 "Setext Title\n============\n\nSome **bold** and [a link](https://x.y) and ![img](a.png)\n"
                 "wrapped <b>html</b> text.\n\n1. one\n2. two\n   - nested\n\n```\ncode  here\n```\n", encoding="utf-8")
    art = load_article(f)
    _assert_clean(art)
    assert art.meta == {"title": "Doc", "author": "Ann, Bob", "source_url": "https://ex.org/a"}
    assert art.blocks[0].kind == "heading" and _block_texts(art)[0] == "Setext Title"
    assert "Some bold and a link and wrapped html text." in art.text
    assert _block_texts(art, "item") == ["1. one", "2. two", "nested"]
    assert "code here" in art.text


def test_invalid_front_matter_is_ignored(tmp_path):
    f = tmp_path / "bad.md"
    f.write_text("---\ntitle: [unclosed\n---\nBody text stays.\n", encoding="utf-8")
    art = load_article(f)
    assert art.text == "Body text stays." and art.meta == {"title": "Bad"}


HTML = """<!doctype html><html><head><title>Ore News | Site</title>
<meta name="author" content="Jane Roe"><meta property="article:published_time" content="2024-03-05T10:00:00Z">
<script>var tracking = "SCRIPTJUNK";</script></head><body>
<nav><a href="/">Home</a> <a href="/about">NAVJUNK About us</a></nav>
<article><h1>Ore News</h1><h2>Refining capacity grows</h2>
<p>The new refinery in the valley will process rare earth concentrate from three nearby mines, the operator said on Tuesday.</p>
<p>Output is expected to reach four thousand tons a year by 2027, enough to supply several magnet makers in the region.</p>
<ul><li>Neodymium oxide for magnets</li><li>Dysprosium for high-temperature alloys</li></ul>
<p>Local officials welcomed the jobs the plant will bring to the area over the coming decade.</p></article>
<footer>FOOTERJUNK Copyright 2024</footer></body></html>"""


def test_html_page(tmp_path):
    f = tmp_path / "news.html"
    f.write_text(HTML, encoding="utf-8")
    art = load_article(f)
    _assert_clean(art)
    assert art.meta["title"] == "Ore News"
    assert art.meta["author"] == "Jane Roe"
    assert art.meta["published"] == "2024-03-05"
    for junk in ("SCRIPTJUNK", "NAVJUNK", "FOOTERJUNK", "<"):
        assert junk not in art.text
    assert "Refining capacity grows" in _block_texts(art, "heading")
    assert _block_texts(art, "item") == ["Neodymium oxide for magnets", "Dysprosium for high-temperature alloys"]
    assert "several magnet makers in the region." in art.text


def test_malformed_html_still_extracts(tmp_path):
    f = tmp_path / "broken.htm"
    f.write_text("<html><body><div><p>Unclosed paragraph about lithium brine <b>bold<p>Second part</div>",
                 encoding="utf-8")
    art = load_article(f)
    assert "Unclosed paragraph about lithium brine" in art.text and "Second part" in art.text
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><script>x()</script></body></html>", encoding="utf-8")
    with pytest.raises(LoadError, match="no readable text"):
        load_article(empty)


@pytest.mark.parametrize("encoding,data", [
    ("latin-1", "Café société: the déjà vu of rare earths.\n".encode("latin-1")),
    ("utf-16", "Café société: the déjà vu of rare earths.\n".encode("utf-16")),  # with BOM
    ("utf-16-le", "Café société: the déjà vu of rare earths.\n".encode("utf-16-le")),  # no BOM
    ("utf-8-sig", "Café société: the déjà vu of rare earths.\n".encode("utf-8-sig")),
])
def test_other_encodings_load(tmp_path, encoding, data):
    f = tmp_path / "enc.txt"
    f.write_bytes(data)
    art = load_article(f)
    assert art.text == "Café société: the déjà vu of rare earths."


# ---------------------------------------------------------------- bad inputs


def _pdf_bytes(blank: bool = True, password: str | None = None) -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if password:
        writer.encrypt(user_password=password, owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize("name,data,reason", [
    ("empty.txt", b"", "empty file"),
    ("blank.md", b"  \n\t\n  ", "empty file"),
    ("image.txt", bytes(range(256)) * 8, "looks binary, not text"),
    ("scan.pdf", None, "PDF has no extractable text (scanned images?) — OCR it first"),
    ("corrupt.pdf", b"%PDF-1.7\n1 0 obj <</Type /Catalog>> garbage\n", "not a readable PDF"),
    ("locked.pdf", "secret", "PDF is encrypted"),
    ("only-meta.md", b"---\ntitle: Nothing here\n---\n\n", "no article text after front matter"),
    ("debris.md", b"1\n\n5\n\n# \n\n---\n\n###\n", "no article text left after cleaning"),
    ("photo.jpg", b"\xff\xd8\xff\xe0", "unsupported file type"),
])
def test_bad_inputs_raise_load_error(tmp_path, name, data, reason):
    f = tmp_path / name
    if name == "scan.pdf":
        data = _pdf_bytes()
    elif isinstance(data, str):
        data = _pdf_bytes(password=data)
    f.write_bytes(data)
    with pytest.raises(LoadError) as info:
        load_article(f)
    assert reason in info.value.reason
    assert "\n" not in info.value.reason and info.value.path == str(f)


def test_path_problems(tmp_path):
    with pytest.raises(LoadError, match="is a directory"):
        load_article(tmp_path)
    with pytest.raises(LoadError, match="no such file"):
        load_article(tmp_path / "missing.md")
    dangling = tmp_path / "dangling.md"
    dangling.symlink_to(tmp_path / "gone.md")
    with pytest.raises(LoadError, match="broken symlink"):
        load_article(dangling)
    loop = tmp_path / "loop.md"
    loop.symlink_to(loop)
    with pytest.raises(LoadError, match="symlink loop"):
        load_article(loop)
    if os.geteuid() != 0:  # root reads anything, so the permission case only shows for normal users
        locked = tmp_path / "locked.md"
        locked.write_text("text")
        locked.chmod(0)
        with pytest.raises(LoadError, match="permission denied"):
            load_article(locked)


def test_size_limit_checked_before_reading(tmp_path):
    f = tmp_path / "big.txt"
    f.write_text("word " * 100)
    with pytest.raises(LoadError) as info:
        load_article(f, max_bytes=100)
    assert info.value.reason == "file is 500 bytes, over the 100 bytes limit — raise ASSAY_MAX_FILE_MB or split it"
    big = tmp_path / "huge.txt"
    with big.open("wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.truncate(50 * 1024 * 1024)
    with pytest.raises(LoadError) as info:
        load_article(big)
    assert info.value.reason == "file is 50.0 MB, over the 25 MB limit — raise ASSAY_MAX_FILE_MB or split it"


# ---------------------------------------------------------------- walking folders


def test_iter_article_paths(tmp_path):
    root = tmp_path / "docs"
    (root / "a" / "b").mkdir(parents=True)
    (root / ".hidden").mkdir()
    for rel in ("z.md", "a/one.txt", "a/b/two.HTML", "a/b/three.pdf", ".secret.md", ".hidden/x.md", "a/pic.jpg"):
        (root / rel).write_text("Some article text.")
    (root / "a" / "b" / "up").symlink_to(root, target_is_directory=True)  # a loop back to the top
    explicit = tmp_path / "notes.docx"
    got = list(iter_article_paths([root, explicit]))
    rels = [p.relative_to(r).as_posix() if r else p.name for p, r in got]
    assert rels == ["z.md", "a/one.txt", "a/b/three.pdf", "a/b/two.HTML", "notes.docx"]
    assert all(r == root for _, r in got[:-1]) and got[-1] == (explicit, None)
    assert all(p.suffix.lower() in SUPPORTED_SUFFIXES for p, _ in got[:-1])
    art = load_article(root / "a" / "one.txt", root=root)
    assert art.id == "a/one.txt"
