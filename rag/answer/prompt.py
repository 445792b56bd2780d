"""Stage 5: question + retrieved paragraphs -> chat messages with numbered sources.

The texts around the sources are ``settings.prompts`` (``rag.settings.prompts``: ``answer_system`` or
``extract_system``, ``answer_user``, ``refusal``), so a preset can change them; this module numbers and
shortens the sources. In the ``extract`` mode (``citations.mode``) every sentence shown is numbered too
(``[2.3]``), for the model to choose its evidence from (``rag.answer.extraction``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from rag.answer.extraction import Sentence, number_sentences, numbered_text
from rag.answer.injection import mask_instructions
from rag.query.retrieval import Hit
from rag.text import excerpt_terms, sentence_spans
from rag.types import Message, Source

if TYPE_CHECKING:
    from rag.settings import PromptSettings, RetrievalSettings

Mode = Literal["extract", "write-first"]


def excerpt(text: str, focus: tuple[int, int] | None, max_chars: int, question: str = "") -> str:
    """At most ``max_chars`` of the paragraph's whole sentences that best match the question.

    Prompt length sets the time to first token on a CPU, and a long paragraph usually answers
    with one or two of its sentences. Sentences are ranked by the question's content words they
    hold, then by lying in the best-matching chunk (``focus``), then by position; the chosen ones
    are shown in their order, with "…" where text was left out. The citation still shows the
    whole paragraph.
    """
    if len(text) <= max_chars:
        return text
    spans = sentence_spans(text) or [(0, len(text))]
    wanted = excerpt_terms(question)
    a, b = focus or (0, 0)

    def rank(i: int) -> tuple[int, bool, int]:
        s, e = spans[i]
        return len(wanted & excerpt_terms(text[s:e])), s < b and e > a, -i

    chosen: list[int] = []
    used = 0
    for i in sorted(range(len(spans)), key=rank, reverse=True):
        length = spans[i][1] - spans[i][0] + 2
        if used + length <= max_chars:
            chosen.append(i)
            used += length
    if not chosen:  # even the best sentence is too long: keep its start
        s, _ = spans[max(range(len(spans)), key=rank)]
        return ("… " if s > 0 else "") + text[s:s + max_chars].rsplit(" ", 1)[0] + " …"
    chosen.sort()
    parts = ["… "] if chosen[0] > 0 else []
    for previous, i in zip([None, *chosen], chosen):
        if previous is not None:
            parts.append(" " if i == previous + 1 else " … ")
        parts.append(text[spans[i][0]:spans[i][1]])
    if chosen[-1] < len(spans) - 1:
        parts.append(" …")
    return "".join(parts)


def select_sources(hits: list[Hit], min_relative_score: float) -> list[Hit]:
    """The hits worth showing: those whose similarity is at least ``min_relative_score`` x the best one's.

    Every source shown costs prompt tokens, and prompt tokens are the time to first token on a
    CPU. When one paragraph clearly answers, the far weaker ones add time and distraction.
    """
    if not hits or min_relative_score <= 0:
        return hits
    floor = max(hit.score for hit in hits) * min_relative_score
    return [hit for hit in hits if hit.score >= floor]


def _origin(hit: Hit) -> str:
    return f"from \"{hit.title}\"" + (f", {hit.date}" if hit.date else "")


def origins(hits: list[Hit]) -> list[str]:
    """Each source's header text: its report's title and date the first time, then a pointer back to that source.

    The title and date of a report repeat for every paragraph shown from it; at 20-30 tokens each they were the
    extract prompt's biggest waste, and every prompt token is time to first token on a CPU. (The write-first
    prompt keeps full headers: a pointer to another [n] there could pull its citations.)
    """
    first: dict[tuple[str, str], int] = {}
    shown = []
    for n, hit in enumerate(hits, 1):
        key = (hit.doc_id, _origin(hit))
        pointer = f"same report as Source {first.get(key)}"
        if key in first and len(pointer) < len(key[1]):  # a short title without a date is written again
            shown.append(pointer)
        else:
            first.setdefault(key, n)
            shown.append(key[1])
    return shown


def shown_text(hit: Hit, max_chars: int, question: str = "") -> str:
    """What the model is shown of a paragraph: its best sentences, with instructions to a model masked."""
    return mask_instructions(excerpt(hit.paragraph.text, hit.focus, max_chars, question))


def format_source(number: int, hit: Hit, max_chars: int, question: str = "") -> str:
    return f"[{number}] ({_origin(hit)})\n{shown_text(hit, max_chars, question)}"


def system_prompt(prompts: PromptSettings, mode: Mode = "write-first") -> str:
    """The system message of every answer, the refusal sentence in it."""
    if mode == "extract":
        return prompts.extract_system
    return prompts.answer_system.format(refusal=prompts.refusal)


def warm_up_messages(prompts: PromptSettings, mode: Mode = "write-first") -> list[Message]:
    """The start every answer prompt shares: the embedded model's self-check runs it, leaving it in the KV cache.

    That is the system message and the user message up to its first filled-in part ("Sources:").
    """
    cut = "\0"  # no template holds it: where the question or the sources would start
    lead = prompts.answer_user.format(sources=cut, question=cut).partition(cut)[0].rstrip()
    return [{"role": "system", "content": system_prompt(prompts, mode)}, {"role": "user", "content": lead}]


def build_messages(question: str, hits: list[Hit], max_source_chars: int, prompts: PromptSettings) -> list[Message]:
    sources = "\n\n".join(format_source(i, hit, max_source_chars, question) for i, hit in enumerate(hits, 1))
    return [{"role": "system", "content": system_prompt(prompts)},
            {"role": "user", "content": prompts.answer_user.format(sources=sources, question=question)}]


def build_extract_messages(question: str, hits: list[Hit], max_source_chars: int, prompts: PromptSettings
                           ) -> tuple[list[Message], list[Sentence]]:
    """Messages whose sources show every sentence after its id, and those sentences."""
    sentences = number_sentences([shown_text(hit, max_source_chars, question) for hit in hits])
    sources = "\n\n".join(f"Source {i} ({header})\n{numbered_text(sentences, i)}"
                           for i, header in enumerate(origins(hits), 1))
    return ([{"role": "system", "content": system_prompt(prompts, "extract")},
             {"role": "user", "content": prompts.answer_user.format(sources=sources, question=question)}], sentences)


@dataclass(frozen=True)
class Prompt:
    hits: list[Hit]  # the paragraphs shown, in [n] order
    sources: list[Source]  # the same as the citations ``[n]`` resolves to
    messages: list[Message]
    sentences: list[Sentence] = field(default_factory=list)  # extract mode: what the model may choose


def as_source(hit: Hit) -> Source:
    return Source(hit.doc_id, hit.number, hit.paragraph.text, round(hit.score, 4), hit.title, hit.date,
                  page=hit.page, boxes=hit.paragraph.boxes)


class PromptBuilder:
    """The prompt component: keeps the hits worth their prompt tokens and numbers them as sources."""

    def __init__(self, prompts: PromptSettings, max_source_chars: int = 1600, min_source_score_ratio: float = 0.0,
                 mode: Mode = "write-first") -> None:
        self.prompts = prompts
        self.max_source_chars = max_source_chars
        self.min_source_score_ratio = min_source_score_ratio
        self.mode = mode

    @classmethod
    def from_settings(cls, s: RetrievalSettings, prompts: PromptSettings, mode: Mode = "write-first"
                      ) -> PromptBuilder:
        return cls(prompts, s.max_source_chars, s.min_source_score_ratio, mode)

    def warm_up(self) -> list[Message]:
        """The prompt prefix every answer shares: what the embedded model's self-check runs."""
        return warm_up_messages(self.prompts, self.mode)

    def run(self, question: str, hits: list[Hit]) -> Prompt:
        shown = select_sources(hits, self.min_source_score_ratio)
        sources = [as_source(hit) for hit in shown]
        if not shown:
            return Prompt(shown, sources, [])
        if self.mode == "extract":
            messages, sentences = build_extract_messages(question, shown, self.max_source_chars, self.prompts)
            return Prompt(shown, sources, messages, sentences)
        return Prompt(shown, sources, build_messages(question, shown, self.max_source_chars, self.prompts))
