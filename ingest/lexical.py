"""The lexical side of hybrid search: BM25 over the same chunks as the Chroma collection, updated
in place.

Immutable segments (one per update, merged as they accumulate) hold inverted and forward postings;
global term statistics (document frequencies, live count, total length) stay exact under adds,
edits and deletes, and scores (Lucene's BM25, k1 1.5 and b 0.75, as in bm25s) are computed at
query time from them, so an updated index scores exactly as a full rebuild. Persisted beside the
embedded index (or in a local cache for a Chroma server) with the change-log watermark it has
applied; `Index.lexical` brings it up to date from the collection's change log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import unicodedata
import zipfile
from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .nlp import NAME_LABELS

LEXICAL_FORMAT = "4"  # what a saved copy holds (3: segments with tombstones; 4: "FY2022" split); a change rebuilds it
K1, B = 1.5, 0.75
_TOKEN = re.compile(r"[a-z0-9]+(?:[.,'’&-][a-z0-9]+)*")
_STOP = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i if in into is it its
    of on or our over so such than that the their them then there these they this those to under up was we were
    what when where which while who whom why will with would you your about after also any between both each
    more most other some very via per may might must shall should""".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


_FISCAL_YEAR = re.compile(r"\b(fy)((?:19|20)\d{2})\b")  # "FY2022" is "FY 2022": the year matches "fiscal year 2022"


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed terms; numbers keep their digits ("2,051" -> "2051", "U.S." -> "us",
    "FY2022" -> "fy", "2022")."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    out = []
    for tok in _TOKEN.findall(_FISCAL_YEAR.sub(r"\1 \2", text)):
        if tok[0].isdigit():
            tok = tok.replace(",", "")
        else:
            tok = tok.replace(".", "").replace("'s", "").replace("'", "")
        for part in tok.split("-") if not tok[0].isdigit() else [tok]:
            if part and part not in _STOP:
                out.append(part)
    stemmer = _stemmer()
    return [t if t[0].isdigit() else stemmer.stemWord(t) for t in out]


def entity_key(text: str) -> str:
    """How an entity is looked up whatever its case or leading article: "the Department of Energy" -> "department of energy"."""
    words = unicodedata.normalize("NFKC", text).replace("’", "'").lower().split()
    while words and words[0] in ("the", "a", "an"):
        words = words[1:]
    return " ".join(words).strip(" .,;:'\"()")



@dataclass
class LexicalHit:
    row: int
    score: float


@dataclass
class ChunkText:
    """What the lexical index needs of one chunk."""

    id: str
    text: str  # what BM25 indexes: title, heading and body
    body: str = ""  # the chunk's own text, which word statistics and entity spans refer to
    published: int = 0  # YYYYMMDD, 0 = unknown
    ents: tuple = ()  # (start, end, label) spans in `body`


@dataclass
class ArticleText:
    id: str
    content_hash: str
    chunks: list[ChunkText] = field(default_factory=list)


_MID_WORD = re.compile(r"(?<=[a-z0-9,;] )([A-Za-z][A-Za-z'’&-]*)")
_ANY_WORD = re.compile(r"[A-Za-z][a-z]{3,}")
LABELS = tuple(sorted(NAME_LABELS))
_LABEL = {label: i for i, label in enumerate(LABELS)}


def word_stats(text: str) -> dict[str, list[int]]:
    """word -> [uses (four letters or more), mid-sentence uses, mid-sentence capitalised uses].

    The speller's vocabulary is the first count; the share of capitalised mid-sentence uses tells
    names ("MP", "Texas" and "Lynas" nearly always) from words ("materials" rarely), so that a
    question typed all in lowercase still names what the corpus writes as names.
    """
    out: dict[str, list[int]] = {}
    for w in _ANY_WORD.findall(text):
        out.setdefault(w.lower(), [0, 0, 0])[0] += 1
    for m in _MID_WORD.finditer(text):
        w = m.group(1)
        rec = out.setdefault(w.lower(), [0, 0, 0])
        rec[1] += 1
        rec[2] += w[0].isupper()
    return out


class _Vocab:
    """Strings to dense ids, append-only (an id is never reused, so segments never renumber)."""

    def __init__(self, items=()):
        self.items: list[str] = list(items)
        self.ids: dict[str, int] = {w: i for i, w in enumerate(self.items)}

    def id(self, word: str) -> int:
        i = self.ids.get(word)
        if i is None:
            i = self.ids[word] = len(self.items)
            self.items.append(word)
        return i

    def __len__(self) -> int:
        return len(self.items)


def _grow(a: np.ndarray, n: int) -> np.ndarray:
    if len(a) >= n:
        return a
    out = np.zeros((n, *a.shape[1:]), dtype=a.dtype)
    out[: len(a)] = a
    return out


def _take(ptr: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR gather: the items `order` (in that order) of a ragged array with offsets `ptr`.
    Returns the new offsets and the element indices to take."""
    counts = (ptr[1:] - ptr[:-1])[order]
    new = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=new[1:])
    idx = np.repeat(ptr[:-1][order] - new[:-1], counts) + np.arange(new[-1], dtype=np.int64)
    return new, idx


# -- segments ------------------------------------------------------------------------------------

_ROW_FIELDS = ("published", "dl", "fptr", "fterm", "ftf")  # per row, and its forward index (terms, counts)
_INV_FIELDS = ("terms", "tptr", "pdoc", "ptf")  # inverted index: sorted term ids, offsets, rows, counts
_ART_FIELDS = ("arow", "wptr", "wid", "wcnt", "eptr", "eid", "elab", "ecnt")  # per article: rows and statistics
_FIELDS = _ROW_FIELDS + _INV_FIELDS + _ART_FIELDS


class Segment:
    """An immutable batch of articles (their chunks are rows `arow[j]:arow[j+1]`), with inverted and
    forward postings and each article's word and entity counts. Only `alive` (per article) changes."""

    def __init__(self, name: str, ids: list[str], articles: list[str], hashes: list[str], arrays: dict, alive: np.ndarray | None = None):
        self.name = name
        self.ids = ids
        self.articles = articles
        self.hashes = hashes
        self.a = arrays
        self.alive = np.ones(len(articles), dtype=bool) if alive is None else np.array(alive, dtype=bool)
        self.saved = False  # the immutable part is on disk
        self.alive_file: str | None = None  # the file holding `alive` as saved (None: not saved since it changed)

    @property
    def n_rows(self) -> int:
        return len(self.ids)

    def row_alive(self) -> np.ndarray:
        return np.repeat(self.alive, np.diff(self.a["arow"]))

    def live_rows(self) -> int:
        return int(np.diff(self.a["arow"])[self.alive].sum())

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray] | None:
        terms = self.a["terms"]
        j = int(np.searchsorted(terms, tid))
        if j >= len(terms) or terms[j] != tid:
            return None
        a, b = self.a["tptr"][j], self.a["tptr"][j + 1]
        return self.a["pdoc"][a:b], self.a["ptf"][a:b]

    def save(self, folder: Path) -> None:
        tmp = folder / f".tmp-seg-{self.name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for k in _FIELDS:
            np.save(tmp / f"{k}.npy", np.ascontiguousarray(self.a[k]))
        (tmp / "ids.txt").write_text("\n".join(self.ids), encoding="utf-8")
        (tmp / "articles.json").write_text(json.dumps({"articles": self.articles, "hashes": self.hashes}), encoding="utf-8")
        os.replace(tmp, folder / f"seg-{self.name}")
        self.saved = True

    @classmethod
    def load(cls, folder: Path, name: str, alive_file: str) -> "Segment":
        path = folder / f"seg-{name}"
        arrays = {k: np.load(path / f"{k}.npy", mmap_mode="r", allow_pickle=False) for k in _FIELDS}
        text = (path / "ids.txt").read_text(encoding="utf-8")
        ids = text.split("\n") if text else []
        meta = json.loads((path / "articles.json").read_text(encoding="utf-8"))
        alive = np.load(folder / alive_file, allow_pickle=False)
        if len(alive) != len(meta["articles"]) or len(ids) + 1 != len(arrays["fptr"]):
            raise ValueError(f"segment {name} is inconsistent")
        seg = cls(name, ids, meta["articles"], meta["hashes"], arrays, alive)
        seg.saved, seg.alive_file = True, alive_file
        return seg


class _Rows:
    """Rows being gathered for a new segment, in any order: each row's forward terms and its
    word and entity counts (kept in compact arrays, not Python lists of ints)."""

    def __init__(self):
        self.ids: list[str] = []
        self.arts: list[str] = []
        self.pubs = array("q")
        self.fptr, self.fterm, self.ftf = array("q", [0]), array("i"), array("i")
        self.wptr, self.wid, self.wcnt = array("q", [0]), array("i"), array("i")
        self.eptr, self.eid, self.elab = array("q", [0]), array("i"), array("b")

    def add(self, lex: "LexicalIndex", article_id: str, c: ChunkText) -> None:
        self.ids.append(c.id)
        self.arts.append(article_id)
        self.pubs.append(int(c.published or 0))
        tf = Counter(lex.vocab.id(t) for t in tokenize(c.text))
        self.fterm.extend(tf.keys())
        self.ftf.extend(tf.values())
        self.fptr.append(len(self.fterm))
        for w, counts in word_stats(c.body).items():
            self.wid.append(lex.wvocab.id(w))
            self.wcnt.extend(counts)
        self.wptr.append(len(self.wid))
        for a, b, label in c.ents:
            if label in _LABEL and (key := entity_key(c.body[a:b])):
                self.eid.append(lex.evocab.id(key))
                self.elab.append(_LABEL[label])
        self.eptr.append(len(self.eid))


def _segment(name: str, rows: _Rows, hashes: dict[str, str]) -> Segment:
    """A segment from gathered rows: rows grouped by article (in first-seen order), statistics
    summed per article, postings inverted. Articles in `hashes` without rows get no rows."""
    order_of: dict[str, int] = {}
    for a in rows.arts:
        order_of.setdefault(a, len(order_of))
    for a in hashes:
        order_of.setdefault(a, len(order_of))
    articles = list(order_of)
    n = len(rows.ids)
    code = np.fromiter((order_of[a] for a in rows.arts), dtype=np.int64, count=n)
    order = np.argsort(code, kind="stable")
    arow = np.zeros(len(articles) + 1, dtype=np.int64)
    np.cumsum(np.bincount(code, minlength=len(articles)), out=arow[1:])

    fptr0 = np.frombuffer(rows.fptr, dtype=np.int64)
    fptr, idx = _take(fptr0, order)
    fterm = np.frombuffer(rows.fterm, dtype=np.int32)[idx]
    ftf = np.frombuffer(rows.ftf, dtype=np.int32)[idx]
    dl = np.add.reduceat(ftf, fptr[:-1]) if len(ftf) else np.zeros(n, dtype=np.int64)
    dl = np.where(np.diff(fptr) > 0, dl, 0).astype(np.int32)

    # per-article sums of word counts (uses, mid-sentence uses, capitalised) and of entity labels
    row_art = code[order]
    wptr0 = np.frombuffer(rows.wptr, dtype=np.int64)
    wptr_r, widx = _take(wptr0, order)
    wid = np.frombuffer(rows.wid, dtype=np.int32)[widx]
    wcnt = np.frombuffer(rows.wcnt, dtype=np.int32).reshape(-1, 3)[widx]
    w_art = np.repeat(row_art, np.diff(wptr_r))
    wid, wcnt, wptr = _sum_per_article(w_art, wid.astype(np.int64), wcnt, len(articles))

    eptr0 = np.frombuffer(rows.eptr, dtype=np.int64)
    eptr_r, eidx = _take(eptr0, order)
    ekey = np.frombuffer(rows.eid, dtype=np.int32)[eidx].astype(np.int64) * len(LABELS) + np.frombuffer(rows.elab, dtype=np.int8)[eidx]
    e_art = np.repeat(row_art, np.diff(eptr_r))
    ekey, ecnt, eptr = _sum_per_article(e_art, ekey, np.ones((len(ekey), 1), dtype=np.int32), len(articles))

    arrays = {
        "published": np.frombuffer(rows.pubs, dtype=np.int64)[order].copy(), "dl": dl, "fptr": fptr, "fterm": fterm, "ftf": ftf,
        "arow": arow, "wptr": wptr, "wid": wid.astype(np.int32), "wcnt": wcnt.astype(np.int32),
        "eptr": eptr, "eid": (ekey // len(LABELS)).astype(np.int32), "elab": (ekey % len(LABELS)).astype(np.int8), "ecnt": ecnt[:, 0].astype(np.int32),
    }
    arrays.update(_invert(fptr, fterm, ftf))
    return Segment(name, [rows.ids[i] for i in order], articles, [hashes.get(a, "") for a in articles], arrays)


def _sum_per_article(art: np.ndarray, key: np.ndarray, counts: np.ndarray, n_articles: int):
    """Sum `counts` rows sharing (article, key); returns keys, sums and per-article offsets."""
    if not len(key):
        return key, counts.reshape(0, counts.shape[1]), np.zeros(n_articles + 1, dtype=np.int64)
    width = int(key.max()) + 1
    combined = art * width + key
    uniq, inverse = np.unique(combined, return_inverse=True)
    sums = np.zeros((len(uniq), counts.shape[1]), dtype=np.int64)
    np.add.at(sums, inverse, counts)
    ptr = np.zeros(n_articles + 1, dtype=np.int64)
    np.cumsum(np.bincount(uniq // width, minlength=n_articles), out=ptr[1:])
    return uniq % width, sums, ptr


def _invert(fptr: np.ndarray, fterm: np.ndarray, ftf: np.ndarray) -> dict:
    doc = np.repeat(np.arange(len(fptr) - 1, dtype=np.int32), np.diff(fptr))
    order = np.argsort(fterm, kind="stable")  # rows stay in order within a term
    sorted_terms = fterm[order]
    terms, starts = np.unique(sorted_terms, return_index=True)
    tptr = np.append(starts, len(order)).astype(np.int64)
    return {"terms": terms.astype(np.int32), "tptr": tptr, "pdoc": doc[order], "ptf": ftf[order]}


def _merge(name: str, segments: list["Segment"]) -> Segment:
    """One segment holding the live articles of `segments` (postings re-inverted, nothing re-tokenized)."""
    parts: dict[str, list] = {k: [] for k in ("published", "dl", "fptr", "fterm", "ftf", "arow", "wptr", "wid", "wcnt", "eptr", "eid", "elab", "ecnt")}
    ids: list[str] = []
    articles: list[str] = []
    hashes: list[str] = []
    rows = terms = words = ents = 0
    for s in segments:
        a = s.a
        keep = np.flatnonzero(s.alive)
        if not len(keep):
            continue
        arow, ridx = _take(np.asarray(a["arow"]), keep)  # the live articles' rows
        fptr, fidx = _take(np.asarray(a["fptr"]), ridx)
        wptr, widx = _take(np.asarray(a["wptr"]), keep)
        eptr, eidx = _take(np.asarray(a["eptr"]), keep)
        ids += [s.ids[i] for i in ridx]
        articles += [s.articles[i] for i in keep]
        hashes += [s.hashes[i] for i in keep]
        parts["published"].append(np.asarray(a["published"])[ridx])
        parts["dl"].append(np.asarray(a["dl"])[ridx])
        parts["fterm"].append(np.asarray(a["fterm"])[fidx])
        parts["ftf"].append(np.asarray(a["ftf"])[fidx])
        for k, idx in (("wid", widx), ("wcnt", widx), ("eid", eidx), ("elab", eidx), ("ecnt", eidx)):
            parts[k].append(np.asarray(a[k])[idx])
        for k, ptr, base in (("fptr", fptr, terms), ("arow", arow, rows), ("wptr", wptr, words), ("eptr", eptr, ents)):
            parts[k].append(ptr[1:] + base)
        rows, terms, words, ents = rows + len(ridx), terms + len(fidx), words + len(widx), ents + len(eidx)
    cat = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in parts.items()}
    for k in ("fptr", "arow", "wptr", "eptr"):
        cat[k] = np.concatenate([[0], cat[k]]).astype(np.int64)
    if not parts["wcnt"]:
        cat["wcnt"] = np.zeros((0, 3), dtype=np.int32)
    dtypes = {"published": np.int64, "dl": np.int32, "fterm": np.int32, "ftf": np.int32, "wid": np.int32, "wcnt": np.int32,
              "eid": np.int32, "elab": np.int8, "ecnt": np.int32}
    for k, dt in dtypes.items():
        cat[k] = cat[k].astype(dt)
    cat.update(_invert(cat["fptr"], cat["fterm"], cat["ftf"]))
    return Segment(name, ids, articles, hashes, cat)


# -- read-only views of the corpus statistics (what question analysis looks up) ----------------

class _Entities(Mapping):
    """entity_key -> [the label the corpus most often gives it, how often it is tagged]."""

    def __init__(self, lex: "LexicalIndex"):
        self._lex = lex

    def __getitem__(self, key: str) -> list:
        i = self._lex.evocab.ids.get(key)
        if i is None or i >= len(self._lex.estat) or not self._lex.estat[i].any():
            raise KeyError(key)
        row = self._lex.estat[i]
        return [LABELS[int(row.argmax())], int(row.sum())]

    def __iter__(self):
        lex = self._lex
        return (k for i, k in enumerate(lex.evocab.items) if i < len(lex.estat) and lex.estat[i].any())

    def __len__(self) -> int:
        return int(self._lex.estat.any(axis=1).sum())


class _Capitals(Mapping):
    """word -> share of its mid-sentence uses that are capitalised (words used at least twice there)."""

    def __init__(self, lex: "LexicalIndex"):
        self._lex = lex

    def __getitem__(self, word: str) -> float:
        i = self._lex.wvocab.ids.get(word)
        if i is None or i >= len(self._lex.wstat):
            raise KeyError(word)
        _uses, total, upper = self._lex.wstat[i]
        if total < 2 or not upper:
            raise KeyError(word)
        return round(float(upper) / float(total), 3)

    def __iter__(self):
        st = self._lex.wstat
        return (w for i, w in enumerate(self._lex.wvocab.items) if i < len(st) and st[i, 1] >= 2 and st[i, 2] > 0)

    def __len__(self) -> int:
        st = self._lex.wstat
        return int(((st[:, 1] >= 2) & (st[:, 2] > 0)).sum())


class _Words(Mapping):
    """word (four letters or more, lowercased) -> occurrences: the speller's vocabulary."""

    def __init__(self, lex: "LexicalIndex"):
        self._lex = lex

    def __getitem__(self, word: str) -> int:
        i = self._lex.wvocab.ids.get(word)
        if i is None or i >= len(self._lex.wstat) or self._lex.wstat[i, 0] <= 0:
            raise KeyError(word)
        return int(self._lex.wstat[i, 0])

    def __iter__(self):
        st = self._lex.wstat
        return (w for i, w in enumerate(self._lex.wvocab.items) if i < len(st) and st[i, 0] > 0)

    def __len__(self) -> int:
        return int((self._lex.wstat[:, 0] > 0).sum())


@dataclass
class _Layout:
    """The rows of all segments side by side (dead rows included, masked by `alive`)."""

    offsets: list[int]
    ids: list[str]
    article_ids: np.ndarray
    published: np.ndarray
    dl: np.ndarray
    alive: np.ndarray
    _row_of: dict | None = None

    @property
    def row_of(self) -> dict[str, int]:
        if self._row_of is None:
            self._row_of = {cid: r for r, cid in enumerate(self.ids) if self.alive[r]}
        return self._row_of


class LexicalIndex:
    """BM25 over chunk texts with per-row metadata for filtering (article id, published date), and
    the corpus's statistics for question analysis (entity vocabulary, capitalisation, speller words).

    Updated in place: `apply(removed, added)` tombstones the removed articles and adds one segment,
    adjusting document frequencies, document count and total length exactly, so that scores equal
    a full rebuild's. Compaction merges segments as they accumulate (sizes stay geometric, so an
    update touches few rows and each row is merged a logarithmic number of times).
    """

    def __init__(self):
        self.segments: list[Segment] = []
        self.vocab = _Vocab()  # BM25 terms
        self.df = np.zeros(0, dtype=np.int64)  # live chunks containing each term
        self.n_docs = 0
        self.total_len = 0
        self.wvocab = _Vocab()  # words (statistics)
        self.wstat = np.zeros((0, 3), dtype=np.int64)  # per word: uses, mid-sentence uses, capitalised ones
        self.evocab = _Vocab()  # entity keys
        self.estat = np.zeros((0, len(LABELS)), dtype=np.int64)  # per entity key: times tagged with each label
        self.at: dict[str, tuple[Segment, int]] = {}  # live article -> (segment, its index there)
        self.seq = 0  # change-log watermark: every change recorded up to here is applied
        self._layout: _Layout | None = None
        self._disk: dict | None = None  # the saved state this object continues (None: not saved yet)
        self._counter = 0
        self.entities, self.capitals, self.words = _Entities(self), _Capitals(self), _Words(self)

    # -- building and updating ------------------------------------------------------------------
    @classmethod
    def build(cls, articles, seq: int = 0) -> "LexicalIndex":
        """A full build from an iterable of ArticleText (may be a generator: consumed once)."""
        lex = cls()
        lex.apply([], articles)
        lex.seq = seq
        return lex

    @classmethod
    def from_texts(cls, ids: list[str], texts, article_ids: list[str], published: list[int]) -> "LexicalIndex":
        """BM25 over bare texts (no statistics), e.g. for synthetic benchmarks."""
        by: dict[str, ArticleText] = {}
        for cid, text, aid, pub in zip(ids, texts, article_ids, published):
            by.setdefault(aid, ArticleText(aid, "")).chunks.append(ChunkText(cid, text, "", pub))
        return cls.build(by.values())

    def _name(self) -> str:
        self._counter += 1
        return f"{time.time_ns():x}{os.getpid():x}{self._counter:x}"

    def apply(self, removed, added) -> None:
        """Remove the articles `removed` (ids), then add (or replace) the ArticleText `added`."""
        for aid in removed:
            self._remove(aid)
        rows, hashes = _Rows(), {}
        for art in added:
            self._remove(art.id)
            hashes[art.id] = art.content_hash
            for c in art.chunks:
                rows.add(self, art.id, c)
        if hashes:
            seg = _segment(self._name(), rows, hashes)
            self._account(seg, np.arange(len(seg.articles)), +1)
            self.segments.append(seg)
            for j, aid in enumerate(seg.articles):
                self.at[aid] = (seg, j)
            self._compact()
        self._layout = None

    def _remove(self, aid: str) -> None:
        loc = self.at.pop(aid, None)
        if loc is None:
            return
        seg, j = loc
        self._account(seg, np.array([j]), -1)
        seg.alive[j] = False
        seg.alive_file = None
        self._layout = None

    def _account(self, seg: Segment, arts: np.ndarray, sign: int) -> None:
        """Add (sign +1) or subtract (-1) these articles of `seg` from the global statistics."""
        a = seg.a
        self.df = _grow(self.df, len(self.vocab))
        self.wstat = _grow(self.wstat, len(self.wvocab))
        self.estat = _grow(self.estat, len(self.evocab))
        _arow, ridx = _take(np.asarray(a["arow"]), arts)
        _f, fidx = _take(np.asarray(a["fptr"]), ridx)
        np.add.at(self.df, np.asarray(a["fterm"])[fidx], sign)
        self.n_docs += sign * len(ridx)
        self.total_len += sign * int(np.asarray(a["dl"])[ridx].sum())
        _w, widx = _take(np.asarray(a["wptr"]), arts)
        np.add.at(self.wstat, np.asarray(a["wid"])[widx], sign * np.asarray(a["wcnt"])[widx].astype(np.int64))
        _e, eidx = _take(np.asarray(a["eptr"]), arts)
        np.add.at(self.estat, (np.asarray(a["eid"])[eidx], np.asarray(a["elab"])[eidx].astype(np.int64)), sign * np.asarray(a["ecnt"])[eidx].astype(np.int64))

    def _compact(self) -> None:
        """Merge the newest segments while the newer holds at least half as many live rows as the
        one before it (a binary counter: O(log n) segments), and drop segments with nothing live."""
        segs = self.segments
        while len(segs) >= 2 and segs[-2].live_rows() <= 2 * segs[-1].live_rows():
            merged = _merge(self._name(), segs[-2:])
            for j, aid in enumerate(merged.articles):
                self.at[aid] = (merged, j)
            segs[-2:] = [merged]
        for i, s in enumerate(segs):
            if s.live_rows() * 2 < s.n_rows:  # mostly tombstones: rewrite alone
                segs[i] = _merge(self._name(), [s])
                for j, aid in enumerate(segs[i].articles):
                    self.at[aid] = (segs[i], j)
        segs[:] = [s for s in segs if len(s.articles) and s.alive.any()]

    # -- reading --------------------------------------------------------------------------------
    def layout(self) -> _Layout:
        if self._layout is None:
            offsets, ids, arts, pubs, dls, alive = [], [], [], [], [], []
            n = 0
            for s in self.segments:
                offsets.append(n)
                n += s.n_rows
                ids += s.ids
                arts.append(np.repeat(np.array(s.articles, dtype=object), np.diff(s.a["arow"])))
                pubs.append(np.asarray(s.a["published"]))
                dls.append(np.asarray(s.a["dl"], dtype=np.float32))
                alive.append(s.row_alive())
            cat = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dtype=dt)  # noqa: E731
            self._layout = _Layout(offsets, ids, cat(arts, object), cat(pubs, np.int64), cat(dls, np.float32), cat(alive, bool))
        return self._layout

    @property
    def ids(self) -> list[str]:
        """Chunk id per row (rows of deleted articles stay until compaction; they never match)."""
        return self.layout().ids

    @property
    def row_of(self) -> dict[str, int]:
        return self.layout().row_of

    @property
    def article_ids(self) -> np.ndarray:
        return self.layout().article_ids

    @property
    def published(self) -> np.ndarray:
        return self.layout().published

    def chunk_ids(self) -> list[str]:
        """The live chunks' ids."""
        lay = self.layout()
        return [cid for cid, ok in zip(lay.ids, lay.alive) if ok]

    def article_hash(self, aid: str) -> str | None:
        loc = self.at.get(aid)
        return None if loc is None else loc[0].hashes[loc[1]]

    def __contains__(self, term: str) -> bool:
        """Whether a (tokenized) term occurs in a live chunk."""
        i = self.vocab.ids.get(term)
        return i is not None and i < len(self.df) and self.df[i] > 0

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[LexicalHit]:
        """Top-k live rows by BM25; `mask` (bool per row) applies filters before ranking."""
        if not self.n_docs:
            return []
        tids = [self.vocab.ids[t] for t in tokenize(query) if t in self]
        if not tids:
            return []
        lay = self.layout()
        scores = np.zeros(len(lay.ids), dtype=np.float32)
        avgdl = self.total_len / self.n_docs
        for tid in tids:
            idf = np.float32(self._idf(int(self.df[tid])))
            for seg, off in zip(self.segments, lay.offsets):
                got = seg.postings(tid)
                if got is None:
                    continue
                rows = got[0].astype(np.int64) + off
                tf = got[1].astype(np.float32)
                scores[rows] += idf * tf / (tf + np.float32(K1) * (np.float32(1 - B) + np.float32(B) * lay.dl[rows] / np.float32(avgdl)))
        keep = lay.alive if mask is None else lay.alive & mask
        scores = np.where(keep, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [LexicalHit(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def _idf(self, df: int) -> float:
        return float(np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)))

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (tokenized) term; 0 if no live chunk has it."""
        return self._idf(int(self.df[self.vocab.ids[term]])) if term in self else 0.0

    def mask(self, article_ids: list[str] | None = None, since: int | None = None, until: int | None = None):
        """Boolean row mask for the filters, or None when there are none."""
        if not article_ids and not since and not until:
            return None
        lay = self.layout()
        m = lay.alive.copy()
        if article_ids:
            m &= np.isin(lay.article_ids, list(article_ids))
        if since:
            m &= lay.published >= since
        if until:
            m &= lay.published <= until
        return m

    def spell(self, word: str, shortest: int = 5) -> str | None:
        """The corpus word one edit away from `word` when the corpus does not have `word` itself.

        Edits are deletions on either side (so insertions, deletions, substitutions and adjacent
        transpositions: "califronia" -> "california", "departmnet" -> "department"); the most
        frequent wins. None when `word` is known, shorter than `shortest` letters, or has no near word.
        """
        word = word.lower()
        if len(word) < shortest or not word.isalpha() or word in self.words or not len(self.words):
            return None
        if getattr(self, "_deletes_at", None) is not self._layout or not hasattr(self, "_deletes"):
            index: dict[str, list[str]] = {}
            for w in self.words:
                if len(w) >= 4:
                    for key in {w, *(w[:i] + w[i + 1 :] for i in range(len(w)))}:
                        index.setdefault(key, []).append(w)
            self._deletes, self._deletes_at = index, self.layout()
        found = {c for key in {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))} for c in self._deletes.get(key, ())}
        # typos keep the first letter ("frist" -> "first"); an unknown name rarely does ("tinto" -/-> "into")
        found = {c for c in found if c[0] == word[0] and c not in _STOP and c in self.words}
        return max(sorted(found), key=lambda w: self.words[w]) if found else None

    def entity_label(self, text: str) -> str | None:
        """The label the corpus most often gives `text` as an entity (any case), or None."""
        rec = self.entities.get(entity_key(text))
        return rec[0] if rec else None

    # -- persistence ----------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write what changed since the state this object continues, then swap `state.json` in.

        Segments are immutable folders; per-segment tombstones, the append-only vocabularies and
        the global statistics are small files named by version. `state.json` (replaced atomically)
        names the current set, so a reader never sees a half-written index and a killed save
        leaves the previous state whole. Saves are serialised by a lock file; unreferenced files
        are removed after the swap.
        """
        from filelock import FileLock

        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / "lexical.lock")):
            current = _read_state(folder)
            continues = self._disk is not None and current is not None and current.get("token") == self._disk.get("token")
            if not continues:
                for s in self.segments:
                    s.saved, s.alive_file = False, None
            token = self._name()
            state = {"format": LEXICAL_FORMAT, "token": token, "seq": self.seq, "n_docs": self.n_docs, "total_len": self.total_len,
                     "segments": [], "globals": f"globals-{token}.npz"}
            for s in self.segments:
                if not s.saved or not (folder / f"seg-{s.name}").is_dir():
                    s.save(folder)
                if s.alive_file is None:
                    s.alive_file = f"alive-{s.name}-{token}.npy"
                    np.save(folder / s.alive_file, s.alive)
                state["segments"].append({"name": s.name, "alive": s.alive_file})
            for key, vocab in (("terms", self.vocab), ("words", self.wvocab), ("entities", self.evocab)):
                state[key] = _save_vocab(folder, vocab, self._disk.get(key) if continues else None, token, key)
            np.savez(folder / state["globals"], df=self.df, wstat=self.wstat, estat=self.estat)
            _write_state(folder, state)
            self._disk = state
            keep = {"state.json", "lexical.lock", state["globals"], *(f"seg-{s['name']}" for s in state["segments"]),
                    *(s["alive"] for s in state["segments"]), *(state[k]["file"] for k in ("terms", "words", "entities"))}
            for p in folder.iterdir():
                if p.name not in keep:
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex | None":
        """The saved index, or None when there is none, it is of another format, or it is damaged."""
        for _attempt in range(3):
            try:
                state = _read_state(folder)
                if state is None or state.get("format") != LEXICAL_FORMAT:
                    return None
                lex = cls()
                lex.vocab = _load_vocab(folder, state["terms"])
                lex.wvocab = _load_vocab(folder, state["words"])
                lex.evocab = _load_vocab(folder, state["entities"])
                with np.load(folder / state["globals"], allow_pickle=False) as g:
                    lex.df, lex.wstat, lex.estat = g["df"].copy(), g["wstat"].copy(), g["estat"].copy()
                lex.segments = [Segment.load(folder, s["name"], s["alive"]) for s in state["segments"]]
                lex.n_docs, lex.total_len, lex.seq = int(state["n_docs"]), int(state["total_len"]), int(state["seq"])
                for seg in lex.segments:
                    for j in np.flatnonzero(seg.alive):
                        lex.at[seg.articles[j]] = (seg, int(j))
                if len(lex.df) < len(lex.vocab) or sum(s.live_rows() for s in lex.segments) != lex.n_docs:
                    return None
                lex._disk = state
                return lex
            except FileNotFoundError:
                continue  # a concurrent save swapped files while we read: read the new state
            except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile):
                return None
        return None


def _read_state(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def _write_state(folder: Path, state: dict) -> None:
    tmp = folder / f".state-{state['token']}.json"
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, folder / "state.json")


def _save_vocab(folder: Path, vocab: _Vocab, prev: dict | None, token: str, key: str) -> dict:
    """Append the words added since `prev` to its file (cut back to what `prev` recorded first),
    or write a new file."""
    if prev is not None and (folder / prev["file"]).exists() and prev["count"] <= len(vocab):
        path = folder / prev["file"]
        new = vocab.items[prev["count"]:]
        with open(path, "r+b") as f:
            f.truncate(prev["bytes"])
            f.seek(prev["bytes"])
            if new:
                f.write(("".join(w + "\n" for w in new)).encode("utf-8"))
            size = f.tell()
        return {"file": prev["file"], "count": len(vocab), "bytes": size}
    name = f"{key}-{token}.txt"
    data = "".join(w + "\n" for w in vocab.items).encode("utf-8")
    (folder / name).write_bytes(data)
    return {"file": name, "count": len(vocab), "bytes": len(data)}


def _load_vocab(folder: Path, rec: dict) -> _Vocab:
    with open(folder / rec["file"], "rb") as f:
        data = f.read(rec["bytes"])
    items = data.decode("utf-8").split("\n")[: rec["count"]]
    if len(items) != rec["count"]:
        raise ValueError(f"vocabulary {rec['file']} is short")
    return _Vocab(items)
