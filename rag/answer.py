"""The public result types: ``Answer`` and the ``Citation`` each ``[n]`` resolves to.

``answer.citations[n - 1]`` is what marker ``[n]`` in ``answer.text`` points at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rag.claims import Claim


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

    def label(self) -> str:
        return f"{self.doc_id} ¶{self.paragraph}"


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
    abstention: dict[str, float] = field(default_factory=dict)  # the evidence signals behind refused (see rag.abstention)

    def to_dict(self, with_sources: bool = False) -> dict:
        data = {
            "text": self.text,
            "refused": self.refused,
            "citations": [{k: asdict(c)[k] for k in ("doc_id", "paragraph", "text", "score")} for c in self.citations],
            "claims": [asdict(c) for c in self.claims if c.kind != "filler"],
            "backend": self.backend,
            "model": self.model,
        }
        if with_sources:
            data["sources"] = [asdict(c) for c in self.sources]
        return data
