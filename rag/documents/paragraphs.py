"""Stage 2: ``Document`` -> numbered ``Paragraph`` -> embeddable ``Chunk``.

A paragraph is a block separated by blank lines; every non-empty block counts, so
paragraph numbers match what a reader counts in the file. In a paged document (PDF) a
paragraph also carries the page it starts on, from ``Document.pages``; its number still
counts the whole document. The pair
(``doc_id``, ``paragraph``) is the citation key and travels with every chunk.

A paragraph longer than the embedder's window is split into overlapping pieces,
each keeping its paragraph number: the embedding sees a piece, the citation
always shows the whole paragraph.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rag.documents.readers import BLOCK_SEP, Document
from rag.text import sentence_spans
from rag.types import Box, ParagraphKey


@dataclass(frozen=True)
class Paragraph:
    doc_id: str
    paragraph: int  # 1-based, in document order
    text: str
    start: int  # character span in the document text
    end: int
    page: int | None = None  # 1-based page it starts on (PDF); records from older indexes load as None
    boxes: tuple[Box, ...] = ()  # where it is drawn, one rectangle per page and column it fills (PDF)

    def __post_init__(self) -> None:
        if self.boxes and not isinstance(self.boxes[0], tuple):  # read back from JSON as lists: hashable again
            object.__setattr__(self, "boxes", tuple(tuple(box) for box in self.boxes))

    @property
    def key(self) -> ParagraphKey:
        return ParagraphKey(self.doc_id, self.paragraph)


@dataclass(frozen=True)
class Chunk:
    """What gets embedded: a paragraph or a piece of one, with the document title for context."""

    doc_id: str
    paragraph: int
    start: int  # span of the piece in the document text
    end: int
    embed_text: str

    @property
    def key(self) -> ParagraphKey:
        return ParagraphKey(self.doc_id, self.paragraph)


def split_paragraphs(document: Document) -> list[Paragraph]:
    """Blocks separated by blank lines, numbered from 1, with their character spans and start pages."""
    paragraphs: list[Paragraph] = []
    page_starts = [start for start, _ in document.pages]
    drawn = dict(document.boxes)
    position = 0
    for block in BLOCK_SEP.split(document.text):
        offset = document.text.index(block, position)
        position = offset + len(block)
        stripped = block.strip()
        if not stripped:
            continue
        start = offset + (len(block) - len(block.lstrip()))
        at = bisect.bisect_right(page_starts, start) - 1
        page = document.pages[at][1] if at >= 0 else None
        paragraphs.append(
            Paragraph(document.doc_id, len(paragraphs) + 1, stripped, start, start + len(stripped), page,
                      drawn.get(start, ()))
        )
    return paragraphs


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]


def _pack(units: list[tuple[int, int]], count: Callable[[int, int], int], limit: int, overlap: int
          ) -> list[tuple[int, int]]:
    """Greedily join consecutive units into windows of at most ``limit`` tokens, repeating ``overlap`` units.

    A window ends where a unit-by-unit scan ends it, but the end is searched for: a guess from the
    tokens per character counted so far, then galloping and bisection. The scan re-counted the
    growing window once per unit, so chunking cost text x window (a 2 MB one-line file: 90 s).
    """
    ends = [end for _, end in units]
    chars_per_token = 4.0

    def fits(first: int, last: int) -> bool:
        nonlocal chars_per_token
        tokens = count(units[first][0], ends[last])
        chars_per_token = (ends[last] - units[first][0]) / max(tokens, 1)
        return tokens <= limit

    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        guess = bisect.bisect_right(ends, units[first][0] + limit * chars_per_token) - 1
        last = _last_fitting(len(units), first, fits, guess)
        windows.append((units[first][0], ends[last]))
        if last + 1 >= len(units):
            break
        first = max(last + 1 - overlap, first + 1)
    return windows


def _last_fitting(n: int, first: int, fits: Callable[[int, int], bool], guess: int) -> int:
    """The last unit a window from unit ``first`` reaches, with O(log distance to ``guess``) counts.

    Same answer as adding one unit at a time while the window fits, given that a window that does
    not fit never fits again when extended (token counts grow with the text).
    """
    lo, hi = first, n  # [first..lo] fits (one unit always counts); [first..hi] does not, or hi is past the end
    if lo + 1 < hi:
        probe, step = min(max(guess, lo + 1), hi - 1), 1
        if fits(first, probe):  # gallop up from the guess
            lo = probe
            while lo + 1 < hi:
                probe = min(lo + step, hi - 1)
                if not fits(first, probe):
                    hi = probe
                    break
                lo, step = probe, step * 2
        else:  # gallop down
            hi = probe
            while lo + 1 < hi:
                probe = max(hi - step, lo + 1)
                if fits(first, probe):
                    lo = probe
                    break
                hi, step = probe, step * 2
    while lo + 1 < hi:
        middle = (lo + hi) // 2
        if fits(first, middle):
            lo = middle
        else:
            hi = middle
    return lo


def chunk_paragraph(
    paragraph: Paragraph,
    title: str,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    overlap_sentences: int = 1,
    window_sentences: int = 0,
) -> list[Chunk]:
    """One chunk if the paragraph fits the window with its title, else overlapping pieces.

    With ``window_sentences`` > 0, a paragraph of more sentences also gets one chunk per
    run of that many sentences: a many-topic paragraph is then found by any one of its
    claims instead of by its diluted average (measured: docs/benchmarks.md, "Sentence windows").
    """

    def embed_text(piece: str) -> str:
        return f"{title}\n{piece}" if title else piece

    def count(a: int, b: int) -> int:
        return count_tokens(embed_text(text[a:b]))

    text = paragraph.text
    if count(0, len(text)) <= max_tokens:
        spans = [(0, len(text))]
    else:
        units: list[tuple[int, int]] = []
        for a, b in sentence_spans(text, abbreviations=False):
            # A sentence too long on its own is cut into word windows.
            units.extend([(a, b)] if count(a, b) <= max_tokens else _pack(_word_spans(text, a, b), count, max_tokens, 8))
        spans = _pack(units, count, max_tokens, overlap_sentences)
    sentences = sentence_spans(text, abbreviations=False) if window_sentences > 0 else []
    if len(sentences) > window_sentences:
        seen = set(spans)  # a set: a list made this check quadratic in the sentences of a paragraph
        for i in range(len(sentences) - window_sentences + 1):
            span = (sentences[i][0], sentences[i + window_sentences - 1][1])
            if span not in seen and count(*span) <= max_tokens:
                spans.append(span)
                seen.add(span)
    return [
        Chunk(paragraph.doc_id, paragraph.paragraph, paragraph.start + a, paragraph.start + b,
              embed_text(text[a:b]))
        for a, b in spans
    ]


def chunk_documents(documents: Iterable[Document], count_tokens: Callable[[str], int], max_tokens: int,
                    overlap_sentences: int = 1, window_sentences: int = 0
                    ) -> tuple[list[Paragraph], list[Chunk]]:
    paragraphs: list[Paragraph] = []
    chunks: list[Chunk] = []
    for document in documents:
        for paragraph in split_paragraphs(document):
            paragraphs.append(paragraph)
            chunks += chunk_paragraph(paragraph, document.title, count_tokens, max_tokens,
                                      overlap_sentences, window_sentences)
    return paragraphs, chunks
