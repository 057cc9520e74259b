"""A PDF that would cost minutes of CPU (a small file whose page content unpacks to tens of MB)
is refused quickly with a message that names the resource limit (issue 15), not "corrupt"."""

from __future__ import annotations

import resource
import zlib

import pytest

from assay.ingest.article import LoadError
from assay.ingest.load import MAX_PDF_PAGE_CONTENT, load_article


def _pdf(content: bytes) -> bytes:
    data = zlib.compress(content, 9)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offs = bytearray(b"%PDF-1.4\n"), []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


LINE = b"BT /F1 12 Tf 72 712 Td (Rare earth magnets are made in Texas.) Tj ET\n"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def test_a_pdf_bomb_is_refused_as_a_resource_limit(tmp_path):
    f = tmp_path / "bomb.pdf"
    f.write_bytes(_pdf(LINE * (40_000_000 // len(LINE))))  # ~40 MB of text operators in a small file
    assert f.stat().st_size < 1_000_000
    t = _cpu()
    with pytest.raises(LoadError) as e:
        load_article(f, tmp_path)
    assert "resource limit" in e.value.reason and "bomb.pdf" in str(e.value) and "corrupt" not in e.value.reason
    assert _cpu() - t < 5  # refused before pypdf parses it (unbounded: about 1 s of CPU per MB here)


def test_an_ordinary_pdf_page_still_loads(tmp_path):
    f = tmp_path / "ok.pdf"
    f.write_bytes(_pdf(LINE * 200))
    assert len(LINE * 200) < MAX_PDF_PAGE_CONTENT
    assert "Texas" in load_article(f, tmp_path).text
