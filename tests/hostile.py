"""A folder of hostile inputs for `assay ingest`, and what each one should come to.

    cases = make_hostile(folder)            # writes the files, returns one Case per input
    resave_with_whitespace(folder)           # the "same article, only whitespace changed" edit

Every Case names its file(s) relative to `folder` and the outcome of one ingest run over the
whole folder:

    status "failed"   -> listed in Summary.failed, reason containing `expect` (case-insensitive)
    status "skipped"  -> listed in Summary.skipped, reason containing `expect`
    status "ok"       -> indexed; `probe` (query, needle) must retrieve a chunk of it containing needle
    status "ignored"  -> in neither list (not a supported article file)

Cases with `heavy=True` are too big to embed in a test on a small machine (a 2 MB single line is
~3,000 chunks); they are written to the separate `heavy` folder and checked by loading and
splitting them (time and memory), not by a full ingest.
"""

from __future__ import annotations

import io
import os
import random

from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    names: tuple[str, ...]  # paths relative to the folder (the first one is what the outcome is about)
    status: str  # "failed" | "skipped" | "ok" | "ignored"
    expect: str  # words in the failure/skip reason, or "ok"
    note: str
    probe: tuple[str, str] | None = None  # (question, text a retrieved chunk of this file must contain)
    needs_non_root: bool = False  # root reads anything: the outcome only shows for a normal user
    heavy: bool = False

    @property
    def name(self) -> str:
        return self.names[0]


# ---------------------------------------------------------------- content helpers

_WORDS = ("lanthanum cerium praseodymium neodymium samarium europium gadolinium terbium dysprosium holmium "
          "erbium thulium ytterbium lutetium scandium yttrium oxide magnet refinery smelter export quota "
          "tariff supply chain stockpile deposit concentrate separation plant mine permit").split()


def prose(n_bytes: int, seed: int = 7) -> str:
    """Varied English-like paragraphs (sentences, blank lines between paragraphs) of about n_bytes."""
    rnd = random.Random(seed)
    pool = []
    for _ in range(400):
        sentences = [" ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(8, 18))).capitalize() + "."
                     for _ in range(rnd.randint(3, 7))]
        pool.append(" ".join(sentences))
    out, size, i = [], 0, 0
    while size < n_bytes:
        para = f"Section {i} notes. {pool[i % len(pool)]}\n\n"
        out.append(para)
        size += len(para)
        i += 1
    return "".join(out)


def one_line(n_bytes: int, seed: int = 11) -> str:
    """A single line of words without any sentence punctuation (a minified dump)."""
    rnd = random.Random(seed)
    words, size = [], 0
    while size < n_bytes:
        w = rnd.choice(_WORDS) + str(rnd.randint(0, 99))
        words.append(w)
        size += len(w) + 1
    return " ".join(words)


def write_big_text(path: Path, n_bytes: int) -> None:
    """n_bytes of real (not sparse) prose, written in pieces."""
    block = prose(4 * MB)
    with path.open("w", encoding="utf-8") as fh:
        written, i = 0, 0
        while written < n_bytes:
            part = f"Volume {i}.\n\n" + block
            part = part[: n_bytes - written] if written + len(part) > n_bytes else part
            fh.write(part)
            written += len(part)
            i += 1


def text_pdf(pages: list[list[str]], password: str | None = None) -> bytes:
    """A real PDF with extractable text (Helvetica, one text line per entry), built with pypdf."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    font = w._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for lines in pages:
        page = w.add_blank_page(width=612, height=792)
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*")
        ops.append("ET")
        content = DecodedStreamObject()
        content.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = w._add_object(content)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    if password:
        w.encrypt(user_password=password, owner_password="owner-" + password)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def image_only_pdf() -> bytes:
    """One page that draws a grey 16x16 image and nothing else (a scan without OCR)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    w = PdfWriter()
    page = w.add_blank_page(width=300, height=300)
    img = DecodedStreamObject()
    img.set_data(bytes((x * 16 + y) % 256 for x in range(16) for y in range(16)))
    img.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(16), NameObject("/Height"): NumberObject(16),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8)})
    content = DecodedStreamObject()
    content.set_data(b"q 200 0 0 200 50 50 cm /Im0 Do Q")
    page[NameObject("/Contents")] = w._add_object(content)
    page[NameObject("/Resources")] = DictionaryObject({
        NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): w._add_object(img)})})
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _pdf_pages() -> list[list[str]]:
    rnd = random.Random(3)
    return [[f"Cerium report part {p}, line {i}: the {rnd.choice(_WORDS)} {rnd.choice(_WORDS)} "
             f"shipment reached port {rnd.randint(1, 900)} days late." for i in range(35)] for p in range(10)]


def _yaml_bomb() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
        prev = name
    return "\n".join(lines + ["title: *i", "author: *i", "date: *i"])


_RESAVE_ORIGINAL = (
    "# Holmium pricing note\n\n"
    "Holmium oxide prices rose in the third quarter as magnet makers\n"
    "restocked ahead of the winter season in northern markets.\n\n"
    "- Traders in Rotterdam reported thin holmium inventories.\n"
    "- A Baotou separation line restarted in late September.\n"
)
_RESAVE_WHITESPACE = (
    "# Holmium pricing note   \r\n\r\n\r\n\r\n"
    "Holmium oxide prices rose in the third quarter   as magnet makers restocked\r\n"
    "   ahead of the winter season in\r\nnorthern markets.\t\r\n\r\n\r\n"
    "- Traders in Rotterdam reported thin holmium inventories.\t \r\n"
    "- A Baotou separation line restarted in late September.\r\n\r\n\r\n"
)


def resave_with_whitespace(folder: Path) -> str:
    """Re-save resave.md with only whitespace changed (CRLF, re-wrapped lines, extra blank lines)."""
    f = Path(folder) / "resave.md"
    f.write_bytes(_RESAVE_WHITESPACE.encode("utf-8"))
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # a different mtime for sure
    return f.name


# ---------------------------------------------------------------- the folder


def make_hostile(folder: Path, *, heavy: Path | None = None) -> list[Case]:
    """Write the hostile inputs into `folder` (and the heavy ones into `heavy`, default folder/../heavy)."""
    folder = Path(folder)
    heavy = Path(heavy) if heavy is not None else folder.parent / f"{folder.name}-heavy"
    folder.mkdir(parents=True, exist_ok=True)
    heavy.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(42)
    cases: list[Case] = []

    def put(name: str, data: bytes | str, where: Path = folder) -> Path:
        p = where / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        p.write_bytes(data)
        return p

    def add(names, status, expect, note, probe=None, **kw):
        cases.append(Case(tuple([names] if isinstance(names, str) else names), status, expect, note, probe, **kw))

    # -- empty and binary ---------------------------------------------------------------------
    put("empty.txt", b"")
    add("empty.txt", "failed", "empty file", "zero bytes")
    put("whitespace-only.md", " \n\t\r\n   \n\u3000\n")
    add("whitespace-only.md", "failed", "empty file", "spaces, tabs, CR/LF and an ideographic space")
    put("binary-named.txt", bytes(rnd.randrange(256) for _ in range(8192)))
    add("binary-named.txt", "failed", "looks binary", "random bytes named .txt")
    put("binary-named.md", b"\x89PNG\r\n\x1a\n" + bytes(rnd.randrange(256) for _ in range(8192)))
    add("binary-named.md", "failed", "looks binary", "a PNG named .md")
    put("binary-named.html", b"\x1f\x8b\x08\x00" + bytes(rnd.randrange(256) for _ in range(8192)))
    add("binary-named.html", "failed", "looks binary", "gzip bytes named .html")
    put("binary-named.pdf", bytes(rnd.randrange(256) for _ in range(8192)))
    add("binary-named.pdf", "failed", "not a readable pdf", "random bytes named .pdf")
    put("nul-heavy.txt", b"".join(f"word{i}".encode() + b"\x00" * rnd.randint(1, 6) for i in range(2000)))
    add("nul-heavy.txt", "failed", "binary", "ASCII words separated by runs of NULs (not UTF-16, not text)")
    put("control-soup.txt", "".join(rnd.choice(["a", "b", " ", "\x01", "\x02", "\x07", "\x1b", "\x10"])
                                    for _ in range(6000)))
    add("control-soup.txt", "failed", "many control characters", "valid UTF-8, but a third control characters")
    put("symbols-only.txt", "★★★ ••• ——\n\n!!! ??? ...\n\n→ ← ↑ ↓\n")
    add("symbols-only.txt", "failed", "no article text left", "only punctuation and symbols")
    put("zero-width.md", "\u200b\u200d\u2060\ufeff" * 500 + "\n")
    add("zero-width.md", "failed", "no article text left", "2,000 zero-width/format characters")

    # -- PDFs -------------------------------------------------------------------------------------
    full = text_pdf(_pdf_pages())
    put("truncated.pdf", full[: len(full) // 2])
    add("truncated.pdf", "failed", "not a readable pdf", "a real 10-page text PDF cut in half (no xref, no trailer)")
    put("encrypted.pdf", text_pdf(_pdf_pages()[:2], password="s3cret"))
    add("encrypted.pdf", "failed", "pdf is encrypted", "a text PDF with a user password")
    put("image-only.pdf", image_only_pdf())
    add("image-only.pdf", "failed", "no extractable text", "one page drawing an image XObject, no text")

    # -- HTML -------------------------------------------------------------------------------------
    put("no-body.html", "<!doctype html><html><head><title>Only a title</title>"
                        "<meta name='description' content='nothing'></head></html>")
    add("no-body.html", "failed", "no readable text", "head and title, no body")
    put("nested-100k.html", "<html><head><title>Europium plant</title></head><body>" + "<div>" * 100_000
        + "<p>Deep inside the markup, the europium separation plant in Kuantan reopened after repairs.</p>"
        + "</div>" * 100_000 + "</body></html>")
    add("nested-100k.html", "ok", "ok", "100,000 nested <div>s around one paragraph (past libxml2's depth limit)",
        probe=("Did the europium separation plant in Kuantan reopen?", "europium separation plant in Kuantan"))
    junk = "".join(f"<div class='ad-slot s{i % 97}' data-track='{i:08x}' style='display:none'><span></span>"
                   f"<a href='/r/{i}'></a></div>\n" for i in range(4000))
    script = "<script>window.__STATE__=" + "[" + ",".join(str(i) for i in range(60_000)) + "]</script>\n"
    body = ("<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article><h1>Terbium stockpile</h1>"
            "<p>The terbium stockpile held by the Tokyo trading house covers eleven months of magnet demand.</p>"
            "<p>Officials said the stockpile will be rotated every two years to keep the oxide fresh.</p></article>")
    page = "<html><head><title>Terbium stockpile</title>" + script + "</head><body>" + body
    filler = junk * max(1, (20 * MB - len(page)) // len(junk))
    put("markup-20mb.html", page + filler + "</body></html>")
    add("markup-20mb.html", "ok", "ok", "20 MB of ad-slot markup and a state script around two paragraphs",
        probe=("How many months of magnet demand does the terbium stockpile cover?", "eleven months"))

    put("unclosed-scripts.html", "<html><head><title>Mountain Pass</title></head><body><p>The praseodymium mine "
        "at Mountain Pass doubled its output this year.</p>" + "<script>var a=1;<!-- " * 200_000)
    add("unclosed-scripts.html", "ok", "ok", "200,000 unclosed <script> and <!-- openers after the text (4 MB)",
        probe=("Which mine doubled its output?", "Mountain Pass doubled"))

    # -- markdown, front matter, structure --------------------------------------------------------
    put("front-matter-only.md", "---\ntitle: Nothing here\nauthor: Nobody\n---\n\n")
    add("front-matter-only.md", "failed", "no article text after front matter", "YAML front matter and no body")
    put("bad-yaml.md", "---\ntitle: [unclosed\n  : : bad: yaml: {\n---\n\n# Lutetium note\n\n"
                       "Lutetium is the rarest of the rare earths and is used in PET scanner crystals.\n")
    add("bad-yaml.md", "ok", "ok", "fenced front matter that is not valid YAML: ignored, body kept",
        probe=("What is lutetium used in?", "PET scanner crystals"))
    put("yaml-bomb.md", "---\n" + _yaml_bomb() + "\n---\n\n# Yttrium note\n\n"
                        "The Lofdal deposit in Namibia carries yttrium-bearing xenotime.\n")
    add("yaml-bomb.md", "ok", "ok", "billion-laughs aliases as title/author/date: metadata ignored, body kept",
        probe=("Where is the Lofdal deposit?", "Lofdal deposit in Namibia"))
    put("deep-quotes.md", ">" * 100_000 + " Gadolinium contrast agents are recovered from hospital waste water in Basel.\n")
    add("deep-quotes.md", "ok", "ok", "100,000 nested blockquote markers (past markdown-it's nesting limit)",
        probe=("Where are gadolinium contrast agents recovered?", "hospital waste water in Basel"))
    put("giant-heading.md", "# Scandium " + " ".join(f"alloy{i}" for i in range(3000))
        + "\n\nScandium-aluminium alloys make lighter bicycle frames and aircraft parts.\n")
    add("giant-heading.md", "ok", "ok", "a 20 KB level-1 heading (kept as text, not as every chunk's heading)",
        probe=("What do scandium-aluminium alloys make?", "lighter bicycle frames"))

    # -- encodings and line endings ----------------------------------------------------------------
    put("latin1.txt", "Café minerals\n\nThe smelter in Montréal refines cérium oxide for export to Zürich.\n"
        .encode("latin-1"))
    add("latin1.txt", "ok", "ok", "ISO-8859-1 without a declaration",
        probe=("Where does the smelter refine cerium oxide?", "Montréal"))
    put("utf16-bom.md", "# Erbium fibre\n\nErbium-doped fibre amplifiers boost signals in the Lisbon cable.\n"
        .encode("utf-16"))
    add("utf16-bom.md", "ok", "ok", "UTF-16 with BOM",
        probe=("What boosts signals in the Lisbon cable?", "Erbium-doped fibre amplifiers"))
    put("utf16-nobom.txt", "Thulium lasers\n\nThulium fibre lasers cut kidney stones at the Graz clinic.\n"
        .encode("utf-16-le"))
    add("utf16-nobom.txt", "ok", "ok", "UTF-16-LE without BOM",
        probe=("What cuts kidney stones at the Graz clinic?", "Thulium fibre lasers"))
    put("mixed-endings.txt", b"Ytterbium clocks\r\n\r\nYtterbium optical clocks in Boulder\rkeep time to one second\n"
                             b"in the age of the universe.\r\n\n\rA second paragraph follows here.\n")
    add("mixed-endings.txt", "ok", "ok", "CRLF, lone CR and LF mixed in one file",
        probe=("What do ytterbium optical clocks in Boulder do?", "Ytterbium optical clocks in Boulder"))
    put("stray-nuls.txt", b"Samarium magnets\n\nSamarium-cobalt magnets\x00 survive the heat of jet engine "
                          b"actuators in Toulouse.\n" + b"\x00" * 3000)
    add("stray-nuls.txt", "ok", "ok", "UTF-8 text with a stray NUL and a NUL-padded tail (as a crash leaves it)",
        probe=("Which magnets survive jet engine heat in Toulouse?", "Samarium-cobalt magnets survive"))

    # -- size ----------------------------------------------------------------------------------------
    write_big_text(folder / "huge-50mb.txt", 50 * MB)
    add("huge-50mb.txt", "failed", "over the 25 MB limit", "50 MB of real prose: refused before reading")
    put("long-line.txt", one_line(40_000))
    add("long-line.txt", "ok", "ok", "a 40 KB single line without sentence punctuation (hard-cut path)",
        probe=("dysprosium holmium refinery", " "))
    put("oneline-2mb.txt", one_line(2 * MB), heavy)
    add("oneline-2mb.txt", "ok", "ok", "a 2 MB single line without punctuation (~3,000 chunks)", heavy=True)

    # -- names and paths ----------------------------------------------------------------------------
    good = "# {t}\n\n{body}\n"
    put("name with spaces.md", good.format(t="Praseodymium pigments", body="Praseodymium gives the yellow "
                                                                            "colour to ceramic glazes in Delft."))
    add("name with spaces.md", "ok", "ok", "spaces in the file name",
        probe=("What colour does praseodymium give ceramic glazes?", "ceramic glazes in Delft"))
    put("ünïcødé 名前 ✓.md", good.format(t="Neodymium in Kyoto", body="A Kyoto workshop recycles neodymium "
                                                                         "from old hard disk drives."))
    add("ünïcødé 名前 ✓.md", "ok", "ok", "non-ASCII file name",
        probe=("Who recycles neodymium from old hard disk drives?", "Kyoto workshop"))
    put("new\nline.md", good.format(t="Dysprosium quota", body="The dysprosium export quota for Vietnam was "
                                                                 "cut by a third this spring."))
    add("new\nline.md", "ok", "ok", "a newline inside the file name",
        probe=("What happened to the dysprosium export quota for Vietnam?", "cut by a third"))
    put("dir.md/inside.md", good.format(t="Cerium polishing", body="Cerium oxide polishing powder finishes "
                                                                    "telescope mirrors in Tucson."))
    add("dir.md/inside.md", "ok", "ok", "a directory named like a file: walked as a folder, its file indexed",
        probe=("What finishes telescope mirrors in Tucson?", "telescope mirrors in Tucson"))
    loop = folder / "symlink-loop.md"
    loop.symlink_to(loop.name)
    add("symlink-loop.md", "failed", "symlink loop", "a symlink pointing at itself")
    (folder / "dev-zero.txt").symlink_to("/dev/zero")
    add("dev-zero.txt", "failed", "not a regular file", "a symlink to /dev/zero (reading it would never end)")
    os.mkfifo(folder / "fifo.txt")
    add("fifo.txt", "failed", "not a regular file", "a named pipe (opening it would block)")
    locked = put("unreadable.md", good.format(t="Locked", body="Nobody may read this europium memo."))
    locked.chmod(0)
    add("unreadable.md", "failed", "permission denied", "mode 000 (as a non-root user)", needs_non_root=True)
    put("notes.docx", b"PK\x03\x04 not really a docx")
    add("notes.docx", "ignored", "ignored", "unsupported extension inside a folder: not an article, not an error")

    # -- duplicates and re-saves ----------------------------------------------------------------------
    dup = good.format(t="Gallium export rules", body="Gallium exports now need a licence for each shipment "
                                                     "leaving the port of Ningbo.")
    put("dup-a.md", dup)
    put("dup-b copy.md", dup)
    add("dup-a.md", "ok", "ok", "the first of two identical files",
        probe=("Do gallium exports need a licence?", "port of Ningbo"))
    add(("dup-b copy.md", "dup-a.md"), "skipped", "same content as dup-a.md",
        "the same bytes under a second name: indexed once")
    put("resave.md", _RESAVE_ORIGINAL)
    add("resave.md", "ok", "ok", "re-saved between runs with only whitespace changes: second run 'unchanged'",
        probe=("Why did holmium oxide prices rise?", "magnet makers restocked"))

    # -- a few good files ------------------------------------------------------------------------------
    put("good-frontmatter.md", "---\ntitle: Lithium brine in Salta\nauthor: A. Reporter\ndate: 2025-03-04\n"
                               "---\n\nA lithium brine project in Salta started pumping in February.\n\n"
                               "## Output\n\nThe plant expects 25,000 tonnes of carbonate a year.\n")
    add("good-frontmatter.md", "ok", "ok", "ordinary markdown with front matter",
        probe=("How much carbonate does the Salta plant expect?", "25,000 tonnes"))
    put("good-plain.txt", "Nickel matte\n\nA nickel matte converter in Sulawesi produces battery-grade "
                          "nickel for cathode makers.\n")
    add("good-plain.txt", "ok", "ok", "ordinary plain text",
        probe=("Where is the nickel matte converter?", "Sulawesi"))
    put("good-page.html", "<html><head><title>Cobalt audit</title></head><body><article><h1>Cobalt audit</h1>"
                          "<p>An independent cobalt audit in Lubumbashi found no child labour at the Kamoto mine.</p>"
                          "</article></body></html>")
    add("good-page.html", "ok", "ok", "ordinary HTML page",
        probe=("What did the cobalt audit in Lubumbashi find?", "Kamoto mine"))
    put("good.pdf", text_pdf([["Manganese nodules from the Clarion-Clipperton zone were assayed in Bremen.",
                               "The nodules held nickel, copper and cobalt in useful grades."]]))
    add("good.pdf", "ok", "ok", "a small real text PDF",
        probe=("Where were the manganese nodules assayed?", "assayed in Bremen"))
    return cases


def by_status(cases: list[Case], status: str, *, include_heavy: bool = False) -> list[Case]:
    return [c for c in cases if c.status == status and (include_heavy or not c.heavy)]


