"""The lexical side of hybrid search: BM25 (bm25s) over the same chunks as the Chroma collection.

Persisted beside the embedded index (or in a local cache for a Chroma server) together with a
stamp of the collection's contents; a stale or missing copy is rebuilt from the collection.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

LEXICAL_FORMAT = "2"  # what a saved copy holds (2: + entity vocabulary, capitalisation, speller words); a change rebuilds it
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


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed terms; numbers keep their digits ("2,051" -> "2051", "U.S." -> "us")."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    out = []
    for tok in _TOKEN.findall(text):
        if tok[0].isdigit():
            tok = tok.replace(",", "")
        else:
            tok = tok.replace(".", "").replace("'s", "").replace("'", "")
        for part in tok.split("-") if not tok[0].isdigit() else [tok]:
            if part and part not in _STOP:
                out.append(part)
    stemmer = _stemmer()
    return [t if t[0].isdigit() else stemmer.stemWord(t) for t in out]


@dataclass
class LexicalHit:
    row: int
    score: float


_MID_WORD = re.compile(r"(?<=[a-z0-9,;] )([A-Za-z][A-Za-z'’&-]*)")
_ANY_WORD = re.compile(r"[A-Za-z][a-z]{3,}")


class CaseCounter:
    """How often each word is written capitalised in the middle of a sentence: "MP", "Texas" and
    "Lynas" nearly always, "materials" rarely. A question typed all in lowercase still names what
    the corpus writes as names."""

    def __init__(self):
        self.upper: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.words: dict[str, int] = {}  # every word of four letters or more, lowercased (the speller's vocabulary)

    def add(self, text: str) -> None:
        for w in _ANY_WORD.findall(text):
            key = w.lower()
            self.words[key] = self.words.get(key, 0) + 1
        for m in _MID_WORD.finditer(text):
            w = m.group(1)
            key = w.lower()
            self.total[key] = self.total.get(key, 0) + 1
            if w[0].isupper():
                self.upper[key] = self.upper.get(key, 0) + 1

    def shares(self, min_count: int = 2) -> dict[str, float]:
        return {w: round(self.upper.get(w, 0) / n, 3) for w, n in self.total.items() if n >= min_count and self.upper.get(w)}


def entity_key(text: str) -> str:
    """How an entity is looked up whatever its case or leading article: "the Department of Energy" -> "department of energy"."""
    words = unicodedata.normalize("NFKC", text).replace("’", "'").lower().split()
    while words and words[0] in ("the", "a", "an"):
        words = words[1:]
    return " ".join(words).strip(" .,;:'\"()")


class LexicalIndex:
    """BM25 over chunk texts with per-row metadata for filtering (article id, published date),
    and the corpus's entity vocabulary (every named entity the chunks mention, with its label)."""

    def __init__(self, ids: list[str], article_ids: list[str], published: list[int], retriever, entities: dict | None = None,
                 capitals: dict | None = None, words: dict | None = None):
        self.ids = ids
        self.article_ids = np.array(article_ids, dtype=object)
        self.published = np.array(published, dtype=np.int64)  # YYYYMMDD, 0 = unknown
        self.row_of = {cid: i for i, cid in enumerate(ids)}
        self.bm25 = retriever
        self.entities: dict[str, list] = entities or {}  # entity_key -> [label, chunks mentioning it]
        self.capitals: dict[str, float] = capitals or {}  # word -> share of its mid-sentence uses that are capitalised
        self.words: dict[str, int] = words or {}  # word -> occurrences (the speller's vocabulary)

    @classmethod
    def build(cls, ids: list[str], texts, article_ids: list[str], published: list[int], entities: dict | None = None) -> "LexicalIndex":
        """`texts` may be a generator that fills `ids`, `article_ids`, `published` (and `entities`) as it goes.

        Documents are kept as vocabulary ids, not token strings (one short string object per
        token): the build takes half the memory, measured on a 1k-chunk index, same scores.
        """
        import bm25s

        vocab: dict[str, int] = {}
        corpus = [[vocab.setdefault(w, len(vocab)) for w in (tokenize(t) or ["\u2205"])] for t in texts]
        retriever = bm25s.BM25()
        if corpus:
            retriever.index((corpus, vocab), show_progress=False)
        return cls(ids, article_ids, published, retriever, entities)

    def spell(self, word: str) -> str | None:
        """The corpus word one edit away from `word` when the corpus does not have `word` itself.

        Edits are deletions on either side (so insertions, deletions, substitutions and adjacent
        transpositions: "califronia" -> "california", "departmnet" -> "department"); the most
        frequent wins. None when `word` is known, shorter than five letters, or has no near word.
        """
        word = word.lower()
        if len(word) < 5 or not word.isalpha() or word in self.words or not self.words:
            return None
        if not hasattr(self, "_deletes"):
            index: dict[str, list[str]] = {}
            for w in self.words:
                if len(w) >= 4:
                    for k in {w, *(w[:i] + w[i + 1 :] for i in range(len(w)))}:
                        index.setdefault(k, []).append(w)
            self._deletes = index
        found = {c for k in {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))} for c in self._deletes.get(k, ())}
        # typos keep the first letter ("frist" -> "first"); an unknown name rarely does ("tinto" -/-> "into")
        found = {c for c in found if c[0] == word[0] and c not in _STOP}
        return max(sorted(found), key=lambda w: self.words[w]) if found else None

    def entity_label(self, text: str) -> str | None:
        """The label the corpus most often gives `text` as an entity (any case), or None."""
        rec = self.entities.get(entity_key(text))
        return rec[0] if rec else None

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[LexicalHit]:
        """Top-k rows by BM25; `mask` (bool per row) applies filters before ranking."""
        if not self.ids:
            return []
        terms = [t for t in tokenize(query) if t in self.bm25.vocab_dict]
        if not terms:
            return []
        scores = self.bm25.get_scores(terms)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [LexicalHit(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (tokenized) term; 0 if unknown."""
        tid = self.bm25.vocab_dict.get(term)
        if tid is None or not self.ids:
            return 0.0
        df = self._df()[tid]
        n = len(self.ids)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    @lru_cache(maxsize=1)
    def _df(self) -> np.ndarray:
        indptr = self.bm25.scores["indptr"]
        return np.diff(indptr)

    def mask(self, article_ids: list[str] | None = None, since: int | None = None, until: int | None = None):
        """Boolean row mask for the filters, or None when there are none."""
        if not article_ids and not since and not until:
            return None
        m = np.ones(len(self.ids), dtype=bool)
        if article_ids:
            m &= np.isin(self.article_ids, list(article_ids))
        if since:
            m &= self.published >= since
        if until:
            m &= self.published <= until
        return m

    def save(self, folder: Path, stamp: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "bm25.tmp"
        if self.ids:
            self.bm25.save(str(tmp))
        meta = {"stamp": stamp, "ids": self.ids, "article_ids": list(self.article_ids), "published": self.published.tolist(),
                "entities": self.entities, "capitals": self.capitals, "words": self.words}
        (tmp / "assay.json").parent.mkdir(parents=True, exist_ok=True)
        (tmp / "assay.json").write_text(json.dumps(meta))
        final = folder / "bm25"
        if final.exists():
            import shutil

            shutil.rmtree(final)
        tmp.rename(final)  # the stamp file moves with the index: never a half-written pair

    @classmethod
    def load(cls, folder: Path, stamp: str) -> "LexicalIndex | None":
        """The saved index if it matches `stamp`, else None (caller rebuilds)."""
        path = folder / "bm25"
        try:
            meta = json.loads((path / "assay.json").read_text())
            if meta.get("stamp") != stamp:
                return None
            import bm25s

            retriever = bm25s.BM25.load(str(path)) if meta["ids"] else bm25s.BM25()
            return cls(meta["ids"], meta["article_ids"], meta["published"], retriever, meta.get("entities"), meta.get("capitals"), meta.get("words"))
        except (OSError, ValueError, KeyError):
            return None
