"""What counts as an article file, and how its bytes become text. One home for these rules:
the corpus walker, the loader and the chat's uploads all use them.

- `SUPPORTED_SUFFIXES`, `is_folder_note()` (a folder's README/LICENSE is not an article) and
  `iter_article_paths()` decide which files are articles;
- `article_id()` is an article's stable id: its path relative to the folder it was found in;
- `read_bytes()` reads a file under a size limit, refusing what is not a regular file;
- `decode()` turns bytes into text (UTF-8, UTF-16, legacy code pages), refusing binaries;
- `sniff_kind()` / `content_problem()` tell from the first bytes what a file really is, so an
  upload named .md that is a PDF or an executable is refused.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from pathlib import Path
from typing import Iterator

from .article import LoadError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
_MB = 1024 * 1024
FOLDER_NOTES = frozenset({"readme.md", "readme.txt", "readme.markdown", "license", "license.md", "license.txt"})


def is_folder_note(name: str) -> bool:
    """A folder's own README/LICENSE describes the corpus; it is never indexed as an article."""
    return name.lower() in FOLDER_NOTES


def article_id(path: str | Path, root: str | Path | None) -> str:
    """The stable source id: the path relative to the folder it was found in (posix), else the name."""
    p = Path(path)
    if root is not None:
        try:
            return p.absolute().relative_to(Path(root).absolute()).as_posix()
        except ValueError:
            pass
    return p.name


def iter_article_paths(inputs: list[str | Path]) -> Iterator[tuple[Path, Path | None]]:
    """Yield (file, root): supported files of folders (recursively, sorted, no hidden entries), explicit files as given."""
    for item in inputs:
        top = Path(item)
        if not top.is_dir():
            yield top, None  # explicit file: load_article explains what is wrong with it
            continue
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:  # a symlink loop or a second link to the same folder
                dirnames[:] = []
                continue
            seen.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or is_folder_note(name):
                    continue  # a folder's own README/LICENSE describes the corpus; it is not an article
                if Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                    yield Path(dirpath) / name, top


# ---------------------------------------------------------------- reading and decoding


def read_bytes(p: Path, max_bytes: int) -> bytes:
    """Read the file's bytes after checking what it is and how big it is."""
    where = str(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise LoadError(where, "broken symlink (its target does not exist)" if p.is_symlink() else "no such file") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise LoadError(where, "symlink loop — fix or remove the link") from None
        raise LoadError(where, f"cannot open: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise LoadError(where, "is a directory, not a file — pass it as an input folder instead")
    if not stat.S_ISREG(st.st_mode):
        raise LoadError(where, "not a regular file")
    if p.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise LoadError(where, f"unsupported file type '{p.suffix or p.name}' — use one of {', '.join(SUPPORTED_SUFFIXES)}")
    if st.st_size > max_bytes:
        raise _too_big(where, st.st_size, max_bytes)
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening must not hang.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError:
        raise LoadError(where, "permission denied — check the file's read permissions") from None
    except OSError as e:
        raise LoadError(where, f"cannot read: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise LoadError(where, "not a regular file")
        if st.st_size > max_bytes:
            raise _too_big(where, st.st_size, max_bytes)
        try:
            raw = fh.read(max_bytes + 1)  # never more than the limit, even if the file grows meanwhile
        except OSError as e:
            raise LoadError(where, f"cannot read: {e.strerror or e}") from None
    if len(raw) > max_bytes:
        raise _too_big(where, len(raw), max_bytes)
    if not raw.strip():
        raise LoadError(where, "empty file" if not raw else "empty file (only whitespace)")
    return raw


def _too_big(where: str, size: int, max_bytes: int) -> LoadError:
    return LoadError(where, f"file is {_size(size)}, over the {_size(max_bytes, limit=True)} limit "
                            "— raise ASSAY_MAX_FILE_MB or split it")


def _size(n: int, limit: bool = False) -> str:
    if n >= _MB // 10:
        return f"{n / _MB:g} MB" if limit else f"{n / _MB:.1f} MB"
    return f"{n} bytes"


_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # Unicode category Cc minus \t \n \f \r


def decode(raw: bytes, where: str) -> str:
    """Bytes -> str: UTF-8 (BOM or not), UTF-16 (BOM or NUL pattern), else a detected charset; binary is refused."""
    if raw.startswith(codecs.BOM_UTF8):
        text = raw[3:].decode("utf-8", errors="replace")
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16", errors="replace")
    elif enc := utf16_by_nuls(raw):
        text = raw.decode(enc, errors="replace")
    elif b"\x00" in raw:
        text = text_with_stray_nuls(raw)
        if text is None:
            raise LoadError(where, "looks binary, not text (contains NUL bytes) — is the file extension right?")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_legacy(raw)
    sample = text[:65536]
    controls = len(_CONTROLS.findall(sample))  # category Cc except \n \r \t \f
    if controls > 0.05 * len(sample):
        raise LoadError(where, "looks binary, not text (many control characters) — is the file extension right?")
    text = normalise_text(text)
    if not text.strip():
        raise LoadError(where, "empty file (only whitespace)")
    return text


def text_with_stray_nuls(raw: bytes) -> str | None:
    """UTF-8 text with a few stray NULs (or a NUL-padded tail, as a crash leaves it) -> the text without them."""
    body = raw.rstrip(b"\x00")
    nuls = body.count(0)
    if nuls > 8 and nuls > 0.01 * len(body):
        return None
    try:
        return body.replace(b"\x00", b"").decode("utf-8")
    except UnicodeDecodeError:  # binary data has NULs and invalid UTF-8 sequences
        return None


def utf16_by_nuls(raw: bytes) -> str | None:
    """BOM-less UTF-16 of mostly-ASCII text has a NUL in every other byte."""
    if len(raw) < 8:
        return None
    even, odd = raw[0::2], raw[1::2]
    nul_even, nul_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if nul_odd > 0.4 and nul_even < 0.05:
        return "utf-16-le"
    if nul_even > 0.4 and nul_odd < 0.05:
        return "utf-16-be"
    return None


def _decode_legacy(raw: bytes) -> str:
    if (western := _western(raw)) is not None:
        return western
    try:
        from charset_normalizer import from_bytes

        results = from_bytes(raw)
        best = results.best()
        if best is not None:
            # On short texts several code pages tie; Western (cp1252) is by far the likeliest of them.
            western = [m for m in results if m.encoding in ("cp1252", "latin_1", "iso8859_15")
                       and m.chaos <= best.chaos and m.coherence >= best.coherence]
            return str(western[0] if western else best)
    except Exception:  # a detector failure must not stop the load: latin-1 decodes anything
        pass
    return raw.decode("latin-1")


_WESTERN_MARKS = set("–—‘’‚“”„•…€£¥¢©®™°±·×÷§¶«»¡¿†‡‰µ\xa0")


def _western(raw: bytes) -> str | None:
    """The cp1252 (Windows Western, a superset of printable latin-1) reading of non-UTF-8 bytes, if it looks
    like Western text: a few accented letters among ASCII ones ("Montréal", "Zürich"). The detector alone
    misreads short Western texts as Baltic or Central European code pages ("Montrķal")."""
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined: not Western
        return None
    letters = non_ascii = 0
    sample = text[:1_000_000]  # enough to judge; a per-character loop over 25 MB would cost seconds
    for i, c in enumerate(sample):
        if c.isascii():
            letters += c.isalpha()
        elif c.isalpha():
            letters += 1
            non_ascii += 1
        elif c not in _WESTERN_MARKS:
            return None  # e.g. "³" or "¹" inside words: Polish or Czech in cp1250, not Western
        elif 0 < i < len(sample) - 1 and sample[i - 1].isalpha() and sample[i + 1].isalpha() and c not in "’·-":
            return None  # "¿" between letters is "ż" of another code page
    return text if non_ascii <= 0.3 * max(letters, 1) else None  # Cyrillic/Greek bytes read as "Ïðèâåò"


def normalise_text(text: str) -> str:
    """Unify line endings and drop control characters (keeping tabs and newlines)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    return _CONTROLS_BUT_TAB_NL.sub("", text)  # regex, not a per-character loop: 50 MB stay cheap


_CONTROLS_BUT_TAB_NL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # category Cc minus \t and \n


# ---- what a file really is, from its first bytes (never trust the name alone)

# Signatures that contain bytes no text file starts with (ASCII-only magics such as "MZ" or "ID3" could
# begin a real article; those files are caught by their NULs and control bytes instead).
_BINARY_MAGIC = (
    b"PK\x03\x04", b"\x7fELF", b"\x89PNG", b"\xff\xd8\xff", b"\x1f\x8b", b"7z\xbc\xaf", b"\xca\xfe\xba\xbe",
    b"\xcf\xfa\xed\xfe", b"\xd0\xcf\x11\xe0", b"\x00asm", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd",
)
_HTML_START = re.compile(rb"^(?:\s|<!--.*?-->)*<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE | re.DOTALL)
_KIND_BY_SUFFIX = {".pdf": "pdf", ".html": "html", ".htm": "html", ".txt": "text", ".md": "text", ".markdown": "text"}
assert set(_KIND_BY_SUFFIX) == set(SUPPORTED_SUFFIXES)
_KIND_LABEL = {"pdf": "a PDF", "html": "an HTML page", "text": "plain text", "binary": "a binary (non-text) file"}
_KIND_SUFFIX = {"pdf": ".pdf", "html": ".html", "text": ".txt or .md"}


def sniff_kind(head: bytes) -> str:
    """'pdf' | 'html' | 'text' | 'binary' from the first few KB of a file."""
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:5] == b"%PDF-":
        return "pdf"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM: text (the loader decodes it)
        body = head[2:]
        try:
            body = body.decode("utf-16-le" if head[:2] == b"\xff\xfe" else "utf-16-be", errors="ignore").encode("utf-8")
        except Exception:
            return "binary"
        return "html" if _HTML_START.match(body) else "text"
    if head.startswith(_BINARY_MAGIC):
        return "binary"
    if b"\x00" in head:
        # UTF-16 without a BOM has a NUL in every other byte (the loader decodes it); UTF-8 with
        # a few stray NULs is text too; anything else with NULs is binary.
        if utf16_by_nuls(head) or text_with_stray_nuls(head) is not None:
            return "text"
        return "binary"
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    if head and controls > 0.05 * len(head):
        return "binary"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    return "html" if _HTML_START.match(body) else "text"


def content_problem(path: str | Path, shown: str) -> str | None:
    """Why the file's content does not match its suffix (None when it does). Mismatches are refused."""
    suffix = Path(shown).suffix.lower()
    expected = _KIND_BY_SUFFIX.get(suffix)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError as e:
        return f"cannot read the upload: {e.strerror or e}"
    kind = sniff_kind(head)
    if kind == "binary":
        return f"it is named {suffix or 'without a suffix'} but is {_KIND_LABEL[kind]}, not an article"
    if expected is None or kind == expected:
        return None
    if expected == "html" and kind == "text":
        return None  # a fragment of HTML without <html>/<body>; the HTML loader copes with plain text
    return f"it is named {suffix} but its content is {_KIND_LABEL[kind]} — rename it to {_KIND_SUFFIX[kind]} if that is what it is"
