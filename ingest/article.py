"""The article contract: what a loader hands to the splitter.

`Article.text` is the cleaned plain text of one article. Every offset Assay ever
shows (chunk spans, cited sentence spans) indexes into this string, so loaders
must build `text` and `blocks` together and never edit `text` afterwards.

Shape of `text`: blocks separated by a blank line ("\\n\\n"); consecutive list
items separated by a single "\\n"; no newline inside a block (wrapped lines are
joined with one space); no markup (emphasis, links -> link text, images and
HTML tags dropped); whitespace runs collapsed to one space.

Block kinds:
- "heading": a title line, including run-in section titles split off their text
  ("Sec. 3. Section 232 Investigation." before "(a) The Secretary ..."); never run
  into the text below it.
- "para": a paragraph of sentences.
- "item": one list item, or one lettered/numbered sub-clause of a paragraph
  ("(a) The term ...", "(ii) the foreign sources ...;"): a paragraph that ran
  sequential clause markers together is its lead-in ("As used in this order:", a
  "para", when there is one) followed by one item per clause.
- "row": one table row, self-contained: "group — label: column: value; ...", with
  footnote markers dropped.
- "furniture": part of the document that is not a sentence of it: memo address
  blocks ("MEMORANDUM FOR ..."), "SUBJECT:" lines, signatures and signature blocks
  ("DONALD J. TRUMP", "THE WHITE HOUSE, April 15, 2025.", "For the Government of
  ...:" and the names and titles below), datelines and transcript time stamps.
  Indexed and searchable like any text, but not to be quoted as a sentence: every
  chunk lists the furniture spans inside it (split.Chunk.furniture) for the writer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

# Metadata keys an article may carry; loaders only set the ones they find.
META_KEYS = ("title", "author", "published", "updated", "publisher", "source_url", "license")


@dataclass(frozen=True)
class Block:
    """One structural unit of an article: a heading, paragraph, list item, table row or furniture."""

    kind: str  # "heading" | "para" | "item" | "row" | "furniture" (see the module docstring)
    start: int  # offsets into Article.text; text[start:end] is the block's text
    end: int
    level: int = 0  # heading level 1..6 for headings, 0 otherwise


@dataclass
class Article:
    id: str  # stable source id: path relative to the ingest root (posix), or the file name
    path: str  # absolute path of the file it came from
    text: str
    blocks: list[Block]
    meta: dict = field(default_factory=dict)  # subset of META_KEYS; dates as YYYY-MM-DD

    @property
    def content_hash(self) -> str:
        """Hash of what gets indexed: cleaned text plus metadata (not the raw bytes)."""
        payload = json.dumps({"text": self.text, "meta": self.meta}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class LoadError(Exception):
    """A file could not be turned into an article; `reason` is one human line."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
