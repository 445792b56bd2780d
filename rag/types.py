"""The typed data that flows between the stages, in one place.

Documents become ``Paragraph`` records (``rag.documents``), retrieval returns hits whose
``ParagraphKey`` (document + paragraph number) is the citation id, the answer stage turns the
model's text into ``Claim`` sentences, and the caller gets an ``Answer`` whose ``[n]`` markers
resolve to ``Answer.citations[n - 1]``. The citation key travels as data from ingestion to the
rendered answer; nothing re-derives it from text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Literal, NamedTuple, TypedDict

from rag.errors import InvalidScope

NUMBERED = re.compile(r"\[(\d+)\]")  # a marker once normalised: "[2]"
# Any marker as models write it, lists and ranges included: "[1]", "[1, 2]", "[2-3]", "[1 and 4]".
MARKER = re.compile(r"\[\s*(\d+(?:\s*(?:,|;|and|-|–)\s*\d+)*)\s*\]")
ClaimKind = Literal["claim", "refusal", "filler"]
# Where a paragraph is drawn on a page it covers: (page, left, bottom, right, top) in PDF points, origin bottom left.
Box = tuple[int, float, float, float, float]


class ParagraphKey(NamedTuple):
    """What a citation points at: a document (its path under the corpus root) and a 1-based paragraph.

    The paragraph number counts the whole document, also in a PDF: the page is shown beside it
    (``Citation.page``) but is not part of the key, so eval sets and indexes keep their keys.
    """

    doc_id: str
    paragraph: int


def paragraph_label(doc_id: str, paragraph: int, page: int | None = None) -> str:
    """``report.pdf p. 4 ¶137``: the page to turn to, then the document-wide paragraph (the stable key)."""
    return f"{doc_id} p. {page} ¶{paragraph}" if page is not None else f"{doc_id} ¶{paragraph}"


def _day(value: date | str | None, name: str) -> date | None:
    """A date from a ``date``, a ``datetime`` or "YYYY-MM-DD" (None and blank text: no limit)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidScope(f"{name} {str(value)!r} is not a date: use YYYY-MM-DD, e.g. 2009-10-27") from None


LISTED = 3  # names a scope's description spells out: a picker may hold dozens, an error stays one readable line


def _names(given: str | Iterable[str]) -> tuple[str, ...]:
    """Names as a tuple: a plain string is one name (not its characters); blanks are dropped."""
    return tuple(name.strip() for name in ([given] if isinstance(given, str) else given) if name and name.strip())


def _listed(names: tuple[str, ...]) -> str:
    """The names quoted, joined by "or" ('a', 'b' or 'c'); past ``LISTED`` of them: 'a', 'b', 'c' or 4 more."""
    quoted = [repr(name) for name in names]
    if len(quoted) > LISTED:
        return f"{', '.join(quoted[:LISTED])} or {len(quoted) - LISTED} more"
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


@dataclass(frozen=True)
class Scope:
    """Which reports a question may be answered from: names and a date range, each optional (``Scope()``: all).

    ``docs`` are case-insensitive globs matched against a report's path under the corpus folder (its doc_id)
    and its file name: ``"002*"``, ``"*.pdf"``, ``"sub/*"``; a report matching any of them is in. ``ids`` are
    exact doc_ids (the reports picked from a list: ``"a.md"`` is that report, not ``"2019/a.md"``). ``since`` and
    ``until`` (inclusive; a ``date`` or "YYYY-MM-DD") compare the report's date, the one found in its text when it
    was indexed: a report without a date is outside every date range. The search itself is limited, so a
    question still gets its k paragraphs when the allowed reports hold that many.

    Example::

        Scope(docs=("002*", "*.pdf"), since=date(2009, 1, 1))      # pipeline.ask(question, scope=...)
        Scope.of("002*", since="2009-01-01")                         # the same, from text (CLI, UI)
        Scope.or_none(flags.doc, flags.since, flags.until)           # None when nothing limits the question
    """

    docs: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A plain string is one name, a date may come as text: ``Scope(docs="002*", since="2009-01-01")``.
        object.__setattr__(self, "docs", _names(self.docs))
        object.__setattr__(self, "ids", _names(self.ids))
        object.__setattr__(self, "since", _day(self.since, "since"))
        object.__setattr__(self, "until", _day(self.until, "until"))
        if self.since and self.until and self.since > self.until:
            raise InvalidScope(f"since {self.since} is after until {self.until}: no report can be in between")

    @classmethod
    def of(cls, docs: str | Iterable[str] = (), since: date | str | None = None,
           until: date | str | None = None, ids: Iterable[str] = ()) -> Scope:
        """A scope from names (one or many) and dates as ``date`` or "YYYY-MM-DD" ("" or None: no limit);
        ``InvalidScope`` for a date that is not one."""
        return cls(_names(docs), _day(since, "since"), _day(until, "until"), _names(ids))

    @classmethod
    def or_none(cls, docs: str | Iterable[str] | None = (), since: date | str | None = None,
                until: date | str | None = None, ids: Iterable[str] = ()) -> Scope | None:
        """``Scope.of`` for the CLI's flags and the chat's boxes: None when nothing limits the question."""
        scope = cls.of(docs or (), since, until, ids)
        return None if scope.everything else scope

    @property
    def everything(self) -> bool:
        """No limit at all: every report is searched."""
        return not self.named and self.since is None and self.until is None

    @property
    def named(self) -> bool:
        """Some reports are named (by pattern or exactly): a report named by none is out."""
        return bool(self.docs or self.ids)

    @property
    def dated(self) -> bool:
        return self.since is not None or self.until is not None

    def holds_date(self, iso: str | None) -> bool:
        """Whether a report dated ``iso`` (None: undated) is inside the date range."""
        if not self.dated:
            return True
        try:
            day = date.fromisoformat(iso or "")
        except ValueError:
            return False
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    def describe(self) -> str:
        """The limits in plain words, the same for the CLI, the API and the chat:
        "reports matching '002*' dated from 2009-01-01"."""
        named = ([f"named {_listed(self.ids)}"] if self.ids else []) + (
            [f"matching {_listed(self.docs)}"] if self.docs else [])
        dates = (f"dated {self.since} to {self.until}" if self.since and self.until else
                 f"dated from {self.since}" if self.since else f"dated until {self.until}" if self.until else "")
        if not named and not dates:
            return "all reports"
        return " ".join(part for part in ("reports", " or ".join(named), dates) if part)


class Message(TypedDict):
    """One chat message for an LLM backend."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Claim:
    """One sentence of the answer, its citation markers and what verification found."""

    text: str  # the sentence, with its [n] markers where the model put them
    kind: ClaimKind = "claim"
    supported: bool | None = None  # None: not checked (a refusal, or a claim that cites nothing)
    quote: str = ""  # the sentence of the cited paragraph that supports it
    attributed: bool = False  # its marker was added by attribution, not written by the model

    @property
    def markers(self) -> tuple[int, ...]:
        return tuple(int(n) for n in NUMBERED.findall(self.text))

    @property
    def plain(self) -> str:
        """The sentence without markers, for matching against sources."""
        return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"\s*\[\d+\]", "", self.text)).strip()

    def with_markers(self, numbers: list[int]) -> Claim:
        """The same sentence citing ``numbers`` (in this order), at the end before its full stop."""
        body = self.plain
        if not numbers:
            return replace(self, text=body)
        match = re.search(r"[.!?…]*$", body)
        assert match is not None
        return replace(self, text=body[:match.start()] + " " + "".join(f"[{n}]" for n in numbers) + match.group(0))


@dataclass(frozen=True)
class Citation:
    doc_id: str  # file path relative to the corpus root, e.g. "002_50d104ffb6a67dba.txt"
    paragraph: int  # 1-based paragraph number in that file
    text: str  # the whole paragraph
    score: float  # retrieval similarity of the paragraph to the question
    title: str = ""
    date: str | None = None
    quote: str = ""  # the sentence of the paragraph that best supports the claim
    attributed: bool = False  # True when the marker was added by attribution, not by the model
    page: int | None = None  # 1-based page the paragraph starts on (PDF); None for formats without pages
    boxes: tuple[Box, ...] = ()  # where the paragraph is drawn (PDF): what the UI highlights on the page image

    @property
    def key(self) -> ParagraphKey:
        return ParagraphKey(self.doc_id, self.paragraph)

    def label(self) -> str:
        return paragraph_label(self.doc_id, self.paragraph, self.page)


# A paragraph shown to the model, numbered [n] in the prompt. It is the same record as the Citation
# an answer points at, so a marker resolves to its source without any conversion.
Source = Citation


@dataclass
class Answer:
    question: str
    text: str  # the answer, with [n] markers
    refused: bool  # True when the reports do not answer the question
    citations: list[Citation] = field(default_factory=list)
    backend: str = ""
    model: str = ""
    dropped_markers: int = 0  # markers that pointed at no shown source
    attributed_sentences: int = 0  # sentences whose citation was attributed, not written by the model
    unsupported_sentences: int = 0  # cited sentences removed: their numbers are not in their sources
    sources: list[Citation] = field(default_factory=list)  # every paragraph shown to the model
    raw_text: str = ""  # what the model wrote, before citation post-processing
    timings: dict[str, float] = field(default_factory=dict)  # seconds: embed, search, llm_first_token, llm_total
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    rewritten_question: str | None = None  # a follow-up rewritten to stand alone: what was retrieved and answered
    search_question: str | None = None  # the English translation retrieval used, when the question was not English
    claims: list[Claim] = field(default_factory=list)  # the text sentence by sentence, each verified or flagged
    abstention: dict[str, float] = field(default_factory=dict)  # the evidence signals behind refused (see rag.answer.abstention)
    chosen: list[Citation] = field(default_factory=list)  # extract mode: the sentences the model chose (as quotes)
    language: str = "en"  # the language the answer is written in: the question's (extract mode), else English

    @property
    def evidence_first(self) -> bool:
        """Extract mode, answered: the citations' quotes are the evidence, shown before the text."""
        return bool(self.chosen) and not self.refused

    @property
    def quoted(self) -> bool:
        """The answer is the evidence itself (extract mode without a written answer): every sentence of the text
        is the exact quote of the citation it carries, so showing the quotes shows the whole answer."""
        claims = [c for c in self.claims if c.kind != "filler"]
        return self.evidence_first and bool(claims) and all(
            c.kind == "claim" and len(c.markers) == 1 and c.plain.rstrip(".") == self.citations[c.markers[0] - 1].quote.rstrip(".")
            for c in claims)

    def to_dict(self, with_sources: bool = False) -> dict:
        data = {
            "text": self.text,
            "refused": self.refused,
            "citations": [{k: asdict(c)[k] for k in ("doc_id", "paragraph", "page", "text", "score")} for c in self.citations],
            "claims": [asdict(c) for c in self.claims if c.kind != "filler"],
            "backend": self.backend,
            "model": self.model,
            "evidence": [{"doc_id": c.doc_id, "paragraph": c.paragraph, "page": c.page, "quote": c.quote}
                         for c in self.citations] if self.evidence_first else [],
        }
        if self.language != "en":  # an English answer's record stays as it was
            data["language"] = self.language
            data["search_question"] = self.search_question
        if with_sources:
            data["sources"] = [asdict(c) for c in self.sources]
        return data
