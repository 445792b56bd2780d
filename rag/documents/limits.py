"""What reading one file may cost, checked as it is read: bounded time, pages, unpacked size and text.

A 172 KB Word file can unpack to 40 MB of XML that python-docx walks for many minutes, and a small
PDF can declare thousands of pages. Each such file is refused early with a one-line reason (the
indexer skips it and goes on; an upload is refused) instead of holding a core for minutes.

Example::

    budget = ReadBudget(ReadLimits.of(settings.index))
    budget.pages(len(pdf))      # before any page is read
    budget.add(len(paragraph))  # after each part: raises when time or text runs out
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass, replace

from rag.settings import IndexSettings, Settings

# Parts smaller than this are not judged by their ratio: a tiny run of spaces compresses a hundredfold too.
RATIO_FROM_BYTES = 1 << 20


class UnreadableFile(Exception):
    """Raised by a reader when a file holds no usable text, or costs too much to read; the message is the reason."""


class TextTooLarge(UnreadableFile):
    """More text than the caller allows (an upload): reading stopped as soon as that was known."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"its text is larger than {limit:,} bytes")
        self.limit = limit


@dataclass(frozen=True)
class ReadLimits:
    seconds: float
    pdf_pages: int
    unpacked_bytes: int
    compression_ratio: float
    text_bytes: int | None = None  # uploads: stop as soon as the text is larger
    seconds_setting: str = "index.max_read_seconds"  # named when the time runs out

    @classmethod
    def of(cls, settings: IndexSettings) -> ReadLimits:
        return cls(settings.max_read_seconds, settings.max_pdf_pages, settings.max_unpacked_bytes,
                   settings.max_compression_ratio)

    @classmethod
    def upload(cls, settings: Settings) -> ReadLimits:
        """The indexer's limits, with an upload's own time and text limits."""
        return replace(cls.of(settings.index), seconds=settings.ui.max_upload_read_seconds,
                       text_bytes=settings.ui.max_upload_text_bytes, seconds_setting="ui.max_upload_read_seconds")


class ReadBudget:
    """The limits of one file's reading, with its clock started and its text counted (default: the indexer's)."""

    def __init__(self, limits: ReadLimits | None = None) -> None:
        limits = limits or ReadLimits.of(IndexSettings())
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.text = 0

    def add(self, text_chars: int = 0) -> None:
        """Count some text just read; raise when the time or the text allowed is used up."""
        self.text += text_chars
        if self.limits.text_bytes is not None and self.text > self.limits.text_bytes:
            raise TextTooLarge(self.limits.text_bytes)
        if time.monotonic() > self.deadline:
            raise UnreadableFile(f"reading it took longer than {self.limits.seconds:g} s ({self.limits.seconds_setting})")

    def pages(self, count: int) -> None:
        if count > self.limits.pdf_pages:
            raise UnreadableFile(f"{count:,} pages, more than {self.limits.pdf_pages:,} (index.max_pdf_pages)")

    def zip_parts(self, raw: bytes) -> None:
        """Refuse an archive whose parts unpack to too much, or one part to too many times its packed size,
        from its directory alone (zipfile stops at a part's declared size, so the declaration bounds it)."""
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                parts = archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError):
            return  # not a zip: the reader says so in its own words
        total = sum(part.file_size for part in parts)
        if total > self.limits.unpacked_bytes:
            raise UnreadableFile(f"its parts unpack to {total:,} bytes, more than {self.limits.unpacked_bytes:,} "
                                 "(index.max_unpacked_bytes)")
        for part in parts:
            if part.file_size >= RATIO_FROM_BYTES and part.file_size > self.limits.compression_ratio * max(
                    part.compress_size, 1):
                raise UnreadableFile(f"its part {part.filename[:60]} unpacks to {part.file_size // max(part.compress_size, 1):,} "
                                     f"times its packed size (a zip bomb?; index.max_compression_ratio)")
