"""The article contract: what a loader hands to the splitter.

`Article.text` is the cleaned plain text of one article. Every offset Assay ever
shows (chunk spans, cited sentence spans) indexes into this string, so loaders
must build `text` and `blocks` together and never edit `text` afterwards.

Shape of `text`: blocks separated by a blank line ("\\n\\n"); consecutive list
items separated by a single "\\n"; no newline inside a block (wrapped lines are
joined with one space); no markup (emphasis, links -> link text, images and
HTML tags dropped); whitespace runs collapsed to one space.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

# Metadata keys an article may carry; loaders only set the ones they find.
META_KEYS = ("title", "author", "published", "updated", "publisher", "source_url", "license")


@dataclass(frozen=True)
class Block:
    """One structural unit of an article: a heading, paragraph, list item or table row."""

    kind: str  # "heading" | "para" | "item" | "row"
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
